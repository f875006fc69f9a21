/**
 * `npx tsx bench/cpu-per-byte.ts [--mb N] [--only a,b] [--reps R]` — the victim's CPU per KB a peer sends,
 * for honest traffic and for the cheapest-to-send shapes a hostile peer can choose, over real TCP and
 * WebSocket on 127.0.0.1. The victim (bench/cpu-per-byte-victim.ts) runs in a child process and reports
 * `process.cpuUsage()`; the attacker here seals its own frames with its session's keys, so it can send
 * what no meshlink sender writes. Each figure is the victim's CPU from the first byte until a marker
 * message sent behind the traffic has been handled (and every pull message read), less its idle CPU
 * over that time, per KB on the wire (length prefix and tag included). Prints JSON: per case `usPerKB`,
 * `usPerUnit` (a frame, packet or message), and `vsHonest1k` (the ratio to honest 1 KiB messages).
 * With `--recv-rate BYTES_PER_SEC`, the victim's CPU per second under that receive limit instead
 * (bench/cpu-per-byte-rate.ts). With `--handlers [--only pex,signal,…]`, each handler of peer bytes alone, in
 * this process, typical input against the worst its limits let through (bench/cpu-per-byte-handlers.ts).
 */
import { randomBytes } from 'node:crypto';
import { encodePexMessage } from '../src/pex/pex-messages.js';
import { encodeSignalMessage } from '../src/webrtc/signal-messages.js';
import { PacketKind } from '../src/wire/constants.js';
import { VictimChannel, type VictimCounts } from './cpu-per-byte-victim.js';
import {
  attackerSwitch,
  completeAttacker,
  dialVictim,
  FRAME_MAX,
  KIB,
  msgPacket,
  packed,
  repeat,
  sendHonest,
  sleep,
  VictimProcess,
  writeFrames,
  type Attacker,
} from './cpu-per-byte-peers.js';
import { runRateMode } from './cpu-per-byte-rate.js';
import { runHandlersMode } from './cpu-per-byte-handlers.js';

const arg = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? undefined : process.argv[index + 1];
};
/** Wire MiB per case (the cheap-to-process honest cases send 4× as much, for a steadier figure). */
const WIRE_MIB = Number(arg('mb') ?? 4);
const REPS = Number(arg('reps') ?? 3);
const ONLY = arg('only')?.split(',');

// ─── measurement ─────────────────────────────────────────────────────────────────────────────

interface CaseResult {
  case: string;
  wireBytes: number;
  units: number;
  unit: string;
  cpuMs: number;
  usPerKB: number;
  usPerUnit: number;
}

let idleMicrosPerMs = 0;

async function waitUntil(victim: VictimProcess, done: (counts: VictimCounts) => boolean, timeoutMs = 120_000): Promise<{ cpuMicros: number; counts: VictimCounts }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sample = await victim.sample();
    if (done(sample.counts)) return sample;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(sample.counts)}`);
    await sleep(5);
  }
}

/**
 * Runs `send` (which returns the wire bytes it wrote), then a marker message behind it, and measures
 * the victim's CPU until the marker (and `alsoDone`) is in.
 */
async function measure(
  victim: VictimProcess,
  attacker: Attacker,
  name: string,
  unit: string,
  units: number,
  send: () => Promise<number>,
  alsoDone: (counts: VictimCounts, start: VictimCounts) => boolean = () => true,
): Promise<CaseResult> {
  const start = await victim.sample();
  const t0 = performance.now();
  const wireBytes = await send();
  attacker.peer.trySend(VictimChannel.Marker, new Uint8Array([1]));
  const end = await waitUntil(victim, (counts) => counts.markers > start.counts.markers && alsoDone(counts, start.counts));
  const elapsedMs = performance.now() - t0;
  const cpuMicros = Math.max(0, end.cpuMicros - start.cpuMicros - idleMicrosPerMs * elapsedMs);
  return { case: name, wireBytes, units, unit, cpuMs: round(cpuMicros / 1000, 1), usPerKB: round(cpuMicros / (wireBytes / KIB), 2), usPerUnit: round(cpuMicros / units, 3) };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Wire bytes of `count` frames of `plaintextBytes` each. */
const framed = (plaintextBytes: number, count: number): number => count * (plaintextBytes + 20);

type Case = (victim: VictimProcess, attacker: { tcp: Attacker; ws: Attacker }) => Promise<CaseResult>;

const wireBudget = (factor = 1): number => Math.round(WIRE_MIB * factor * 1024 * KIB);

/** `count` frames, each of `perFrame` copies of `packet`. */
function packedFrames(packet: Uint8Array, factor = 1): { frames: number; perFrame: number; plaintext: Uint8Array } {
  const perFrame = Math.floor(FRAME_MAX / packet.length);
  const plaintext = packed(packet, perFrame);
  return { frames: Math.max(1, Math.round(wireBudget(factor) / (plaintext.length + 20))), perFrame, plaintext };
}

function honestCase(name: string, size: number, via: 'tcp' | 'ws', factor: number): Case {
  return async (victim, attackers) => {
    const attacker = attackers[via];
    // Per message: its packets' headers and its share of a 64 KiB frame's 20 bytes.
    const perMessageWire = size + 4 * Math.ceil(size / (16 * KIB)) + 20 * Math.ceil(size / FRAME_MAX);
    const count = Math.max(1, Math.round(wireBudget(factor) / perMessageWire));
    const result = await measure(victim, attacker, name, 'message', count, async () => {
      await sendHonest(attacker, VictimChannel.Push, size, count);
      return count * perMessageWire;
    }, (counts, start) => counts.push - start.push >= count);
    return result;
  };
}

function framePerMessageCase(name: string, via: 'tcp' | 'ws', factor: number, coalesce = false): Case {
  return async (victim, attackers) => {
    const plaintext = msgPacket(VictimChannel.Push, new Uint8Array([7]));
    const frames = Math.round(wireBudget(factor) / (plaintext.length + 20));
    return measure(victim, attackers[via], name, 'frame', frames, () => writeFrames(attackers[via], repeat(plaintext, frames), coalesce), (c, s) => c.push - s.push >= frames);
  };
}

function packedCase(name: string, packet: Uint8Array, unit: string, counted: keyof VictimCounts | undefined, perUnit = 1): Case {
  return async (victim, attackers) => {
    const { frames, perFrame, plaintext } = packedFrames(packet);
    const expected = counted === undefined ? 0 : Math.floor((frames * perFrame) / perUnit);
    return measure(victim, attackers.tcp, name, unit, frames * perFrame, () => writeFrames(attackers.tcp, repeat(plaintext, frames)), (c, s) =>
      counted === undefined ? true : (c[counted] as number) - (s[counted] as number) >= expected,
    );
  };
}

/**
 * Honest frames of one 64 B message each, every byte of them sent as a WebSocket message of its own
 * (7 bytes on the wire from a client: a masked frame header and the byte).
 */
function wsByteMessagesCase(): Case {
  return async (victim, attackers) => {
    const attacker = attackers.ws;
    const plaintext = msgPacket(VictimChannel.Push, new Uint8Array(64).fill(7));
    const frameBytes = plaintext.length + 20;
    const frames = Math.max(1, Math.round(wireBudget(0.125) / (frameBytes * 7)));
    return measure(victim, attacker, 'ws-1B-ws-messages', 'ws message', frames * frameBytes, async () => {
      for (let i = 0; i < frames; i++) {
        const frame = attacker.encoder.encode(plaintext);
        for (let b = 0; b < frame.length; b++) attacker.raw.write(frame.subarray(b, b + 1));
        while (attacker.raw.bufferedBytes > 64 * KIB) await sleep(1);
      }
      return frames * frameBytes * 7;
    }, (c, s) => c.push - s.push >= frames);
  };
}

/** Fragments of one byte, a frame's worth making one message (13,107 bytes, under the channel's capacity). */
function fragmentsCase(): Case {
  return async (victim, attackers) => {
    const fragment = msgPacket(VictimChannel.Push, new Uint8Array([7]), false);
    const { frames, perFrame, plaintext } = packedFrames(fragment);
    plaintext[plaintext.length - fragment.length] = PacketKind.MsgEnd;
    return measure(victim, attackers.tcp, 'fragments-1B', 'fragment', frames * perFrame, () => writeFrames(attackers.tcp, repeat(plaintext, frames)), (c, s) => c.push - s.push >= frames);
  };
}

function signalCase(): Case {
  return async (victim) => {
    // A fresh peer each time: its burst allowance is 100 signals, then 20 a second.
    const attacker = await dialVictim((await victim.ready).tcp);
    const from = attacker.sw.nodeId;
    const to = (await victim.ready).nodeId;
    const message = encodeSignalMessage({ type: 'signal', from, to, data: { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 } } });
    // The burst a peer may send at once (100); more costs it the connection.
    const count = 90;
    const result = await measure(victim, attacker, 'signal-messages', 'message', count, async () => {
      for (let i = 0; i < count; i++) attacker.peer.trySend(0x01, message);
      return framed(message.length + 4, count);
    }, (c, s) => c.signalsDelivered - s.signalsDelivered >= count);
    await attacker.sw.stop();
    return result;
  };
}

function pexAddresses(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `tcp://${randomBytes(20).toString('hex')}@127.${1 + (i % 200)}.${(i >> 3) & 0xff}.${1 + (i % 250)}:${20000 + i}`);
}

/** The victim dials `n` listening attackers and asks each for addresses; each answers with 250. */
async function pexResponseCase(victim: VictimProcess, n: number): Promise<CaseResult> {
  const results: { wire: number; cpu: number }[] = [];
  for (let i = 0; i < n; i++) {
    let asked: (() => void) | undefined;
    const askedPromise = new Promise<void>((resolve) => (asked = resolve));
    const { sw, self } = await attackerSwitch(['tcp://127.0.0.1:0'], () => asked?.());
    await victim.dial(sw.addresses[0]!);
    await askedPromise;
    const peer = sw.peers[0]!;
    const response = encodePexMessage({ type: 'pexResponse', addresses: pexAddresses(250) });
    const attacker = completeAttacker(self, peer);
    const result = await measure(victim, attacker, 'pex-response-250', 'response', 1, async () => {
      peer.trySend(0x00, response);
      return framed(response.length + 4 * Math.ceil(response.length / (16 * KIB)), 1);
    }, (c, s) => c.pexResponses > s.pexResponses);
    results.push({ wire: result.wireBytes, cpu: result.cpuMs * 1000 });
    await sw.stop();
  }
  return summarise('pex-response-250', 'response', results);
}

/** `n` fresh inbound attackers each send one pexRequest (a second costs a ban); the victim answers from its book. */
async function pexRequestCase(victim: VictimProcess, address: string, n: number): Promise<CaseResult> {
  const results: { wire: number; cpu: number }[] = [];
  const request = encodePexMessage({ type: 'pexRequest' });
  for (let i = 0; i < n; i++) {
    const attacker = await dialVictim(address);
    const start = await victim.sample();
    attacker.peer.trySend(0x00, request);
    for (let waited = 0; attacker.pexAnswers === 0 && waited < 5000; waited += 2) await sleep(2);
    const end = await victim.sample();
    results.push({ wire: framed(request.length + 4, 1), cpu: end.cpuMicros - start.cpuMicros });
    await attacker.sw.stop();
  }
  return summarise(`pex-request (book ${(await victim.sample()).counts.bookSize})`, 'request', results);
}

function summarise(name: string, unit: string, results: { wire: number; cpu: number }[]): CaseResult {
  const wire = results.reduce((sum, r) => sum + r.wire, 0);
  const cpu = results.reduce((sum, r) => sum + r.cpu, 0);
  return { case: name, wireBytes: wire, units: results.length, unit, cpuMs: round(cpu / 1000, 2), usPerKB: round(cpu / (wire / KIB), 2), usPerUnit: round(cpu / results.length, 1) };
}

const EMPTY = new Uint8Array(0);
const CASES: Record<string, Case> = {
  'honest-64KiB': honestCase('honest-64KiB', 64 * KIB, 'tcp', 4),
  'honest-1KiB': honestCase('honest-1KiB', KIB, 'tcp', 2),
  'honest-100B': honestCase('honest-100B', 100, 'tcp', 0.5),
  'frame-per-1B-message': framePerMessageCase('frame-per-1B-message', 'tcp', 0.5),
  'frame-per-1B-message-coalesced': framePerMessageCase('frame-per-1B-message-coalesced', 'tcp', 0.5, true),
  '1B-messages-packed': packedCase('1B-messages-packed', msgPacket(VictimChannel.Push, new Uint8Array([7])), 'message', 'push'),
  'empty-messages-push': packedCase('empty-messages-push', msgPacket(VictimChannel.Push, EMPTY), 'message', 'push'),
  'empty-messages-pull': packedCase('empty-messages-pull', msgPacket(VictimChannel.Pull, EMPTY), 'message', 'pull'),
  'empty-messages-async': packedCase('empty-messages-async', msgPacket(VictimChannel.Async, EMPTY), 'message', 'async'),
  'fragments-1B': fragmentsCase(),
  pings: packedCase('pings', new Uint8Array([PacketKind.Ping]), 'ping', undefined),
  pongs: packedCase('pongs', new Uint8Array([PacketKind.Pong]), 'pong', undefined),
  'signal-messages': signalCase(),
  'ws-honest-1KiB': honestCase('ws-honest-1KiB', KIB, 'ws', 1),
  'ws-frame-per-1B-message': framePerMessageCase('ws-frame-per-1B-message', 'ws', 0.25),
  'ws-1B-ws-messages': wsByteMessagesCase(),
};

if (process.argv.includes('--handlers')) {
  console.log(JSON.stringify({ bench: 'cpu-per-byte --handlers', results: await runHandlersMode(Number(arg('ms') ?? 400), ONLY) }, null, 2));
  process.exit(0);
}
const recvRate = Number(arg('recv-rate') ?? 0);
if (recvRate > 0) {
  console.log(JSON.stringify(await runRateMode(recvRate, Number(arg('seconds') ?? 3), ONLY), null, 2));
  process.exit(0);
}
const victim = new VictimProcess();
const ready = await victim.ready;
const attackers = { tcp: await dialVictim(ready.tcp), ws: await dialVictim(ready.ws) };
// Idle CPU of the victim while sampled as often as during a case.
{
  const a = await victim.sample();
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    await victim.sample();
    await sleep(5);
  }
  idleMicrosPerMs = ((await victim.sample()).cpuMicros - a.cpuMicros) / (performance.now() - t0);
}
const wanted = Object.keys(CASES).filter((name) => ONLY === undefined || ONLY.includes(name));
// The first repetition warms every path up and is not counted.
const byCase = new Map<string, CaseResult[]>();
for (let rep = 0; rep < REPS; rep++) {
  for (const name of wanted) {
    const result = await CASES[name]!(victim, attackers);
    if (rep > 0 || REPS === 1) byCase.set(name, [...(byCase.get(name) ?? []), result]);
  }
}
const results: CaseResult[] = [...byCase.values()].map((runs) => {
  const sorted = [...runs].sort((a, b) => a.usPerKB - b.usPerKB);
  return sorted[Math.floor(sorted.length / 2)]!;
});
if (ONLY === undefined || ONLY.includes('pex')) {
  results.push(await pexResponseCase(victim, 8));
  results.push(await pexRequestCase(victim, ready.tcp, 8));
}
const honest1k = results.find((r) => r.case === 'honest-1KiB')?.usPerKB;
const out = results.map((r) => ({ ...r, vsHonest1k: honest1k === undefined ? undefined : round(r.usPerKB / honest1k, 1) }));
console.log(JSON.stringify({ bench: 'cpu-per-byte', wireMiBPerCase: WIRE_MIB, reps: REPS, idleVictimUsPerMs: round(idleMicrosPerMs, 3), results: out }, null, 2));
await attackers.tcp.sw.stop();
await attackers.ws.sw.stop();
await victim.stop();
process.exit(0);
