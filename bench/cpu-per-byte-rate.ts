/**
 * `--recv-rate BYTES_PER_SEC [--seconds S]` mode of bench/cpu-per-byte.ts: the victim's connections run with
 * that `recvRateBytesPerSec`, and each case is a fresh peer sending as fast as the victim reads for S
 * seconds. Reports the victim's CPU per second of it (idle CPU subtracted) and the messages it delivered
 * per second: what one peer can make a rate-limited node spend, whatever shape its bytes take.
 */
import { VictimChannel } from './cpu-per-byte-victim.js';
import { dialVictim, msgPacket, packed, repeat, sendHonest, sleep, writeFrames, FRAME_MAX, KIB, VictimProcess, type Attacker } from './cpu-per-byte-peers.js';

type Stream = (attacker: Attacker, deadline: number) => Promise<unknown>;

const oneByteMessage = msgPacket(VictimChannel.Push, new Uint8Array([7]));
const fullOf = (packet: Uint8Array): Uint8Array => packed(packet, Math.floor(FRAME_MAX / packet.length));

const STREAMS: Record<string, { via: 'tcp' | 'ws'; stream: Stream; counted?: 'pull' | 'async' }> = {
  'honest-1KiB': { via: 'tcp', stream: (a, deadline) => sendHonest(a, VictimChannel.Push, KIB, Infinity, deadline) },
  'honest-100B': { via: 'tcp', stream: (a, deadline) => sendHonest(a, VictimChannel.Push, 100, Infinity, deadline) },
  'frame-per-1B-message': { via: 'tcp', stream: (a, deadline) => writeFrames(a, repeat(oneByteMessage), false, deadline) },
  'frame-per-1B-message-coalesced': { via: 'tcp', stream: (a, deadline) => writeFrames(a, repeat(oneByteMessage), true, deadline) },
  '1B-messages-packed': { via: 'tcp', stream: (a, deadline) => writeFrames(a, repeat(fullOf(oneByteMessage)), false, deadline) },
  'empty-messages-pull': { via: 'tcp', counted: 'pull', stream: (a, deadline) => writeFrames(a, repeat(fullOf(msgPacket(VictimChannel.Pull, new Uint8Array(0)))), false, deadline) },
  'empty-messages-async': { via: 'tcp', counted: 'async', stream: (a, deadline) => writeFrames(a, repeat(fullOf(msgPacket(VictimChannel.Async, new Uint8Array(0)))), false, deadline) },
  'ws-frame-per-1B-message': { via: 'ws', stream: (a, deadline) => writeFrames(a, repeat(oneByteMessage), false, deadline) },
  'ws-1B-ws-messages': { via: 'ws', stream: wsByteMessages },
};

/** Frames of one 64 B message, each byte sent as a WebSocket message of its own. */
async function wsByteMessages(attacker: Attacker, deadline: number): Promise<void> {
  const plaintext = msgPacket(VictimChannel.Push, new Uint8Array(64).fill(7));
  while (performance.now() <= deadline && !attacker.raw.closed) {
    const frame = attacker.encoder.encode(plaintext);
    for (let b = 0; b < frame.length; b++) attacker.raw.write(frame.subarray(b, b + 1));
    while (attacker.raw.bufferedBytes > 64 * KIB && performance.now() <= deadline) await sleep(1);
  }
}

/**
 * A victim process of its own per case: a peer's backlog (megabytes in the sockets' buffers) is still
 * taken at the limited rate long after it hangs up, and would count for the next case.
 */
export async function runRateMode(rate: number, seconds: number, only: readonly string[] | undefined): Promise<object> {
  const results = [];
  for (const [name, { via, stream, counted = 'push' }] of Object.entries(STREAMS)) {
    if (only !== undefined && !only.includes(name)) continue;
    const victim = new VictimProcess(rate);
    const ready = await victim.ready;
    await sleep(1000); // start-up work (compiling, the first collections) is not idle CPU
    const idle0 = await victim.sample();
    const idleStart = performance.now();
    await sleep(1000);
    const idleMicrosPerMs = ((await victim.sample()).cpuMicros - idle0.cpuMicros) / (performance.now() - idleStart);
    const attacker = await dialVictim(via === 'tcp' ? ready.tcp : ready.ws);
    const start = await victim.sample();
    const t0 = performance.now();
    await stream(attacker, t0 + seconds * 1000);
    const end = await victim.sample();
    const elapsedMs = performance.now() - t0;
    const delivered = end.counts[counted] - start.counts[counted];
    const cpuMicros = end.cpuMicros - start.cpuMicros - idleMicrosPerMs * elapsedMs;
    const systemMicros = (end.systemMicros ?? 0) - (start.systemMicros ?? 0);
    results.push({ case: name, cpuMsPerSec: Math.round((cpuMicros / elapsedMs) * 10) / 10, kernelMsPerSec: Math.round((systemMicros / elapsedMs) * 10) / 10, messagesPerSec: Math.round((delivered * 1000) / elapsedMs) });
    attacker.raw.destroy();
    await attacker.sw.stop();
    await victim.stop();
  }
  return { bench: 'cpu-per-byte', recvRateBytesPerSec: rate, secondsPerCase: seconds, results };
}
