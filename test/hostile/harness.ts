/**
 * Shared harness for the hostile (issue 8) suites: a victim node with every decoding agent, two honest
 * nodes pumping sequenced messages through it, an authenticated attacker that can send anything on
 * any channel, and the probes each test checks (heap, process faults, cut-off with a typed code).
 * Everything runs over real sockets on 127.0.0.1; every wait is bounded.
 */
import { EventEmitter } from 'node:events';
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect } from 'vitest';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import type { SendOptions } from '../../src/conn/mconnection-types.js';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import { PEXAgent, type PexAgentOptions } from '../../src/pex/pex-agent.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import type { Agent } from '../../src/switch/agent.js';
import type { SwitchOptions } from '../../src/switch/config.js';
import type { Peer } from '../../src/switch/peer.js';
import { Switch } from '../../src/switch/switch.js';
import type { Transport } from '../../src/transport/transport.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { WebRtcTransport, type WebRtcTransportOptions } from '../../src/webrtc/webrtc-transport.js';
import { decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { wsTransport, type WsTransportOptions } from '../../platforms/node/ws-transport.js';
import { waitFor } from '../helpers/wait.js';

/** App channel delivered to `receive()`, which decodes msgpack with decodeMessage. */
export const APP_CH = 0x40;
/** Two pull-style channels (read with sw.receive). */
export const PULL_A = 0x41;
export const PULL_B = 0x42;
/** A channel no victim agent owns. */
export const UNKNOWN_CH = 0x77;
export const APP_RECV_CAPACITY_BYTES = 64 * 1024;
export const PULL_RECV_CAPACITY_BYTES = 16 * 1024;
/** Small, so the inbox tests fill it fast. */
export const VICTIM_INBOX_CAPACITY = 64;
export const NETWORK = 'hostile-net';

/** Probes and pumps to stop even when a test fails half-way (by stopHostileNodes). */
const cleanups = new Set<() => void>();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ─── process faults, heap ──────────────────────────────────────────────────────────────────────

/** Records uncaught exceptions and unhandled rejections from now until `stop()`. */
export function recordProcessFaults(): { faults: unknown[]; stop(): void } {
  const faults: unknown[] = [];
  const onFault = (error: unknown): void => void faults.push(error);
  process.on('uncaughtException', onFault).on('unhandledRejection', onFault);
  return { faults, stop: () => void process.off('uncaughtException', onFault).off('unhandledRejection', onFault) };
}

let gcFunction: (() => void) | undefined;
/** global.gc when exposed, else obtained at run time (--expose-gc set from inside). */
export function collectGarbage(): void {
  if (gcFunction === undefined) {
    gcFunction = (globalThis as { gc?: () => void }).gc;
    if (gcFunction === undefined) v8.setFlagsFromString('--expose-gc');
    gcFunction ??= vm.runInNewContext('gc') as () => void;
  }
  gcFunction();
}

/** heapUsed after a full GC, so growth means retained memory, not garbage. */
export function heapUsedBytes(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

export interface HeapProbe {
  readonly baselineBytes: number;
  /** Highest heapUsed sampled so far (without GC), minus the baseline. */
  readonly peakGrowthBytes: number;
  /** Retained growth (after GC) since the baseline. */
  growthBytes(): number;
  expectBelow(limitMb: number): void;
  stop(): void;
}

/** Samples heapUsed every `sampleMs` (for the peak) and measures retained growth after GC on demand. */
export function heapProbe(sampleMs = 20): HeapProbe {
  const baselineBytes = heapUsedBytes();
  let peak = baselineBytes;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), sampleMs);
  cleanups.add(() => clearInterval(timer));
  const growthBytes = (): number => heapUsedBytes() - baselineBytes;
  return {
    baselineBytes,
    get peakGrowthBytes() {
      return peak - baselineBytes;
    },
    growthBytes,
    expectBelow: (limitMb) => expect(growthBytes() / (1024 * 1024), 'retained heap growth (MB)').toBeLessThan(limitMb),
    stop: () => clearInterval(timer),
  };
}

// ─── a stand-in for simple-peer: offers or answers, never connects ───────────────────────────

/** Records every session (and the signals it was given) the victim's WebRTC transport opens. */
export class StubRtc {
  readonly created: { initiator: boolean; signals: SignalData[]; destroyed: boolean }[] = [];
  /** ICE candidates each session trickles after its offer or answer (a real one: a dozen or more). */
  candidatesPerSession = 0;
  factory = ({ initiator }: { initiator: boolean }): SimplePeerLike => {
    const emitter = new EventEmitter();
    const record = { initiator, signals: [] as SignalData[], destroyed: false };
    this.created.push(record);
    const later = (event: string, data?: unknown): unknown => setTimeout(() => emitter.emit(event, data), 0);
    const describe = (type: 'offer' | 'answer'): void => {
      later('signal', { type, sdp: 'v=0 stub' });
      for (let i = 0; i < this.candidatesPerSession; i++) {
        later('signal', { type: 'candidate', candidate: { candidate: `candidate:${i} 1 udp 2122260223 192.0.2.1 ${50000 + i} typ host`, sdpMLineIndex: 0, sdpMid: '0' } });
      }
    };
    if (initiator) describe('offer');
    return {
      bufferSize: 0,
      connected: false,
      get destroyed() {
        return record.destroyed;
      },
      signal: (data: SignalData) => void (record.signals.push(data) && data.type === 'offer' && !record.destroyed && describe('answer')),
      send: () => undefined,
      destroy: () => !record.destroyed && (record.destroyed = true) && later('close'),
      on: (event: string, listener: (...args: unknown[]) => void) => emitter.on(event, listener),
    } as unknown as SimplePeerLike;
  };

  /** Answering sessions still open (not destroyed). */
  get openAccepts(): number {
    return this.created.filter((c) => !c.initiator && !c.destroyed).length;
  }
}

// ─── the victim ──────────────────────────────────────────────────────────────────────────────

export interface StreamRecord {
  /** Per stream key `${fromId}>${toId}#${channel}`: the sequence numbers received, in order. */
  received: Map<string, number[]>;
}

export function streamKey(from: string, to: string, channelId: number): string {
  return `${from}>${to}#${channelId}`;
}

/** Records `{ k, s }` pump messages; any other msgpack is accepted and ignored. Throws on bad msgpack. */
function recordPump(record: StreamRecord, fromId: string, toId: string, channelId: number, message: Uint8Array): void {
  const value = decodeMessage(message) as { k?: unknown; s?: unknown } | null;
  if (value === null || typeof value !== 'object' || value.k !== 'pump' || typeof value.s !== 'number') return;
  const key = streamKey(fromId, toId, channelId);
  let list = record.received.get(key);
  if (list === undefined) record.received.set(key, (list = []));
  list.push(value.s);
}

const APP_CHANNEL: ChannelDescriptor = { id: APP_CH, priority: 5, sendQueueCapacity: 256, recvMessageCapacity: APP_RECV_CAPACITY_BYTES };
const PULL_CHANNELS: ChannelDescriptor[] = [PULL_A, PULL_B].map((id) => ({ id, priority: 3, sendQueueCapacity: 256, recvMessageCapacity: PULL_RECV_CAPACITY_BYTES }));

/** receive() on its channels, decoding every message with decodeMessage (a throw costs the peer). */
class AppAgent implements Agent {
  constructor(readonly channels: ChannelDescriptor[], private readonly ownId: string, private readonly record: StreamRecord) {}
  receive(channelId: number, peer: Peer, message: Uint8Array): void {
    recordPump(this.record, peer.id, this.ownId, channelId, message);
  }
}

export interface VictimOptions {
  /** Read PULL_B too (the inbox-bypass test turns it off). @default true */
  readPullB?: boolean;
  /** The app reading the pull channels sleeps 1 ms after every this many messages. @default never */
  pullReadBatch?: number;
  /** 'stub': StubRtc (deterministic, no native code); 'real': @roamhq/wrtc. @default 'stub' */
  webrtc?: 'stub' | 'real';
  pex?: PexAgentOptions;
  /** The victim's ws server (its upgrade-phase caps). */
  ws?: WsTransportOptions;
  /** The victim's WebRTC transport (with the stub: its caps and allowances). */
  rtc?: Omit<WebRtcTransportOptions, 'createPeer'>;
  switchOptions?: Partial<SwitchOptions>;
}

export interface Victim {
  sw: Switch;
  key: NodeKey;
  id: string;
  tcpAddress: string;
  wsAddress: string;
  pex: PEXAgent;
  rtc: WebRtcTransport;
  /** Undefined with `webrtc: 'real'`. */
  stubRtc: StubRtc | undefined;
  /** The WebRTC transport's signalling agent (channel 0x01). */
  signal: SignalAgent;
  /** Pump messages the victim received, by stream. */
  record: StreamRecord;
  /** Messages the app has read, per pull channel. */
  read: Map<number, number>;
  /** Every disconnect the victim saw: who, why, when. */
  disconnects: { id: string; reason: Error | undefined; at: number }[];
  /** Unread messages in a pull channel's inbox: received on it (by any peer, ever) minus read. */
  unread(channelId: number): number;
}

const switches = new Set<Switch>();

function baseOptions(key: NodeKey, listen: string[], ws: WsTransportOptions = {}): SwitchOptions {
  const transports = [tcpTransport(), wsTransport(ws)];
  return { identity: key, network: NETWORK, transports, listen, aead: nodeChaCha20Poly1305, handshakeTimeoutMs: 5000, dialTimeoutMs: 3000, stopTimeoutMs: 1000 };
}

/** A started victim: TCP + WS, PEX, WebRTC signalling, an app agent and two pull channels. */
export async function startVictim(options: VictimOptions = {}): Promise<Victim> {
  const key = generateNodeKey();
  const stubRtc = options.webrtc === 'real' ? undefined : new StubRtc();
  const rtc = stubRtc === undefined ? webrtcTransport() : new WebRtcTransport({ ...options.rtc, createPeer: stubRtc.factory });
  const pex = new PEXAgent({ allowLocal: false, ensurePeersIntervalMs: 60_000, banMs: 60_000, ...options.pex });
  const record: StreamRecord = { received: new Map() };
  const base = baseOptions(key, ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0/', `webrtc://${key.nodeId}`], options.ws);
  const sw = new Switch({ ...base, transports: [...base.transports, rtc], inboxCapacity: VICTIM_INBOX_CAPACITY, ...options.switchOptions });
  sw.addAgent('pex', pex).addAgent('signal', rtc.signalAgent).addAgent('app', new AppAgent([APP_CHANNEL], key.nodeId, record));
  sw.addAgent('pull', { channels: PULL_CHANNELS }); // no receive(): read with sw.receive
  const disconnects: Victim['disconnects'] = [];
  sw.on('peer:disconnected', ({ peer, reason }) => disconnects.push({ id: peer.id, reason, at: Date.now() }));
  await sw.start();
  switches.add(sw);
  const read = new Map<number, number>([[PULL_A, 0], [PULL_B, 0]]);
  const readLoop = async (channelId: number): Promise<void> => {
    for await (const { peer, message } of sw.receive(channelId)) {
      read.set(channelId, read.get(channelId)! + 1);
      if (options.pullReadBatch !== undefined && read.get(channelId)! % options.pullReadBatch === 0) await sleep(1);
      try {
        recordPump(record, peer.id, key.nodeId, channelId, message);
      } catch (error) {
        sw.stopPeerForError(peer, error);
      }
    }
  };
  void readLoop(PULL_A);
  if (options.readPullB ?? true) void readLoop(PULL_B);
  const receivedSeen = new Map<string, number>();
  const unread = (channelId: number): number => {
    for (const peer of sw.status().peers) {
      const channel = peer.channels.find((c) => c.id === channelId);
      if (channel !== undefined) receivedSeen.set(`${peer.id}#${channelId}`, channel.receivedMessages);
    }
    const received = [...receivedSeen].filter(([seen]) => seen.endsWith(`#${channelId}`)).reduce((sum, [, count]) => sum + count, 0);
    return received - (read.get(channelId) ?? 0);
  };
  const [tcpAddress, wsAddress] = [sw.addresses.find((a) => a.startsWith('tcp://'))!, sw.addresses.find((a) => a.startsWith('ws://'))!];
  return { sw, key, id: key.nodeId, tcpAddress, wsAddress, pex, rtc, stubRtc, signal: rtc.signalAgent, record, read, disconnects, unread };
}

// ─── honest nodes and the pump ───────────────────────────────────────────────────────────────

export interface Honest {
  sw: Switch;
  id: string;
  address: string;
  record: StreamRecord;
  signal: SignalAgent;
}

/** An honest node (app channels + a relaying SignalAgent, or `signal` if given) listening on `listen`. */
export async function startHonest(listen: string, signal = new SignalAgent(), extraTransports: Transport[] = []): Promise<Honest> {
  const key = generateNodeKey();
  const record: StreamRecord = { received: new Map() };
  const base = baseOptions(key, [listen]);
  const sw = new Switch({ ...base, transports: [...base.transports, ...extraTransports] });
  sw.addAgent('app', new AppAgent([APP_CHANNEL, ...PULL_CHANNELS], key.nodeId, record)).addAgent('signal', signal);
  await sw.start();
  switches.add(sw);
  return { sw, id: key.nodeId, address: sw.addresses[0]!, record, signal };
}

/**
 * Two honest nodes joined to the victim: the first dials the victim over TCP (an inbound peer of
 * the victim), the victim dials the second over WebSocket (an outbound peer). Both relay signalling.
 */
export async function startHonestPair(victim: Victim): Promise<[Honest, Honest]> {
  const [h1, h2] = await Promise.all([startHonest('tcp://127.0.0.1:0'), startHonest('ws://127.0.0.1:0/')]);
  await h1.sw.dial(victim.tcpAddress);
  await victim.sw.dial(h2.address);
  await waitFor(() => victim.sw.getPeer(h1.id) !== undefined && h2.sw.getPeer(victim.id) !== undefined, 5000, 'honest peers joined');
  return [h1, h2];
}

export interface Pump {
  /** Pump messages delivered so far (all streams). */
  delivered(): number;
  /** Pump messages the senders' `send` took so far on streams to the victim on `channelId`. */
  acceptedTo(victimChannelId: number): number;
  /** Fails unless at least `count` more messages are delivered within `withinMs`. */
  expectFlowing(count?: number, withinMs?: number): Promise<void>;
  /** Stops sending, waits (bounded) for what was accepted, asserts exactly-once in-order delivery. */
  stopAndVerify(): Promise<void>;
}

/**
 * Sequenced traffic: each honest node → victim on APP_CH and PULL_A, victim → each honest node on
 * APP_CH. Only sends that resolved true are expected, exactly once and in order per stream. The
 * honest connections must stay the same Peer objects throughout.
 */
export function startPump(victim: Victim, honest: readonly Honest[], options: { perTick?: number; tickMs?: number } = {}): Pump {
  const perTick = options.perTick ?? 1;
  const tickMs = options.tickMs ?? 10;
  const accepted = new Map<string, number[]>();
  const receivers = new Map<string, StreamRecord>();
  const problems: string[] = [];
  let running = true;
  const pad = new Uint8Array(64);
  const streams: { from: Switch; toId: string; channelId: number; record: StreamRecord }[] = [];
  for (const h of honest) {
    for (const channelId of [APP_CH, PULL_A]) streams.push({ from: h.sw, toId: victim.id, channelId, record: victim.record });
    streams.push({ from: victim.sw, toId: h.id, channelId: APP_CH, record: h.record });
  }
  const initialPeers = new Map(streams.map((s) => [`${s.from.nodeId}>${s.toId}`, s.from.getPeer(s.toId)]));
  const loops = streams.map(async ({ from, toId, channelId, record }) => {
    const key = streamKey(from.nodeId, toId, channelId);
    receivers.set(key, record);
    const list: number[] = [];
    accepted.set(key, list);
    for (let seq = 0; running; ) {
      const peer = from.getPeer(toId);
      if (peer === undefined || peer !== initialPeers.get(`${from.nodeId}>${toId}`)) {
        problems.push(`${key}: honest connection lost or replaced`);
        return;
      }
      for (let i = 0; i < perTick && running; i++, seq++) {
        const ok = await peer.send(channelId, encodeMessage({ k: 'pump', s: seq, pad }), { timeoutMs: 2000 }).catch(() => false);
        if (ok) list.push(seq);
      }
      await sleep(tickMs);
    }
  });
  const delivered = (): number => [...receivers].reduce((total, [key, record]) => total + (record.received.get(key)?.length ?? 0), 0);
  cleanups.add(() => void (running = false));
  return {
    delivered,
    acceptedTo: (channelId) =>
      streams.filter((s) => s.toId === victim.id && s.channelId === channelId).reduce((total, s) => total + accepted.get(streamKey(s.from.nodeId, s.toId, s.channelId))!.length, 0),
    async expectFlowing(count = 20, withinMs = 3000) {
      const before = delivered();
      await waitFor(() => delivered() >= before + count, withinMs, `${count} more honest messages delivered`);
    },
    async stopAndVerify() {
      running = false;
      await Promise.all(loops);
      const complete = (): boolean => [...accepted].every(([key, list]) => (receivers.get(key)!.received.get(key)?.length ?? 0) >= list.length);
      await waitFor(complete, 5000, 'every accepted honest message delivered').catch(() => undefined);
      expect(problems, 'honest connections stayed up').toEqual([]);
      for (const [key, list] of accepted) {
        expect(list.length, `${key}: messages accepted`).toBeGreaterThan(0);
        expect(receivers.get(key)!.received.get(key) ?? [], `${key}: exactly once, in order`).toEqual(list);
      }
    },
  };
}

// ─── the attacker ────────────────────────────────────────────────────────────────────────────

/** Records what the attacker receives, so tests can read the victim's answers. */
export class AttackerAgent implements Agent {
  readonly messages: { channelId: number; message: Uint8Array }[] = [];
  constructor(readonly channels: ChannelDescriptor[]) {}
  receive(channelId: number, _peer: Peer, message: Uint8Array): void {
    this.messages.push({ channelId, message: message.slice() });
  }
}

export interface Attacker {
  sw: Switch;
  key: NodeKey;
  id: string;
  agent: AttackerAgent;
  /** The victim, as the attacker's peer. */
  peer: Peer;
  /** The attacker as the victim's peer (undefined once cut off). */
  onVictim(): Peer | undefined;
}

/**
 * Every channel an attacker may use, with room for messages far over any victim limit: its own
 * MConnection checks sizes against these, so the victim's limits are the only ones in force.
 */
export function attackerChannels(extra: readonly number[] = []): ChannelDescriptor[] {
  return [0x00, 0x01, APP_CH, PULL_A, PULL_B, UNKNOWN_CH, ...extra].map((id) => ({
    id,
    priority: 1,
    sendQueueCapacity: 4096,
    // An attacker queues what it likes: its own byte capacity must not slow its floods.
    sendQueueCapacityBytes: 64 * 1024 * 1024,
    recvMessageCapacity: 8 * 1024 * 1024,
  }));
}

/**
 * An authenticated attacker: a fresh key and a Switch that dials the victim over `via` (the victim
 * sees an inbound peer), or with `dialledByVictim` listens and is dialled (an outbound peer, which the
 * victim may take as a signalling relay). It can send any bytes on any channel.
 */
export async function connectAttacker(
  victim: Victim,
  options: { via?: 'tcp' | 'ws'; dialledByVictim?: boolean; channels?: ChannelDescriptor[]; switchOptions?: Partial<SwitchOptions> } = {},
): Promise<Attacker> {
  const key = generateNodeKey();
  const agent = new AttackerAgent(options.channels ?? attackerChannels());
  const listen = options.dialledByVictim === true ? ['tcp://127.0.0.1:0'] : [];
  const sw = new Switch({ ...baseOptions(key, listen), connection: { sendTimeoutMs: 2000 }, ...options.switchOptions });
  sw.addAgent('attack', agent);
  await sw.start();
  switches.add(sw);
  if (options.dialledByVictim === true) await victim.sw.dial(sw.addresses[0]!);
  else await sw.dial(options.via === 'ws' ? victim.wsAddress : victim.tcpAddress);
  await waitFor(() => victim.sw.getPeer(key.nodeId) !== undefined && sw.getPeer(victim.id) !== undefined, 5000, 'attacker connected');
  const peer = withoutSendChecks(sw.getPeer(victim.id)!);
  return { sw, key, id: key.nodeId, agent, peer, onVictim: () => victim.sw.getPeer(key.nodeId) };
}

/**
 * The victim as the attacker's peer, minus the sender-side checks an honest Peer makes (channels the
 * victim declared, its recvMessageCapacity): an attacker sends what it likes, straight to the
 * connection, so only the victim's own limits are in force.
 */
function withoutSendChecks(peer: Peer): Peer {
  const raw = Object.create(peer) as Peer;
  Object.defineProperties(raw, {
    send: { value: (channelId: number, message: Uint8Array, options?: SendOptions) => peer.connection.send(channelId, message, options) },
    trySend: { value: (channelId: number, message: Uint8Array) => peer.connection.trySend(channelId, message) },
  });
  return raw;
}

// ─── checks ──────────────────────────────────────────────────────────────────────────────────

/**
 * Waits (at most `withinMs` from `since`) until the victim has dropped `attacker` with an error of
 * `code`; returns the error and how long it took. Fails with what was seen instead.
 */
export async function expectCutOff(
  victim: Victim,
  attacker: string | { id: string },
  code: string,
  withinMs: number,
  since = Date.now(),
): Promise<{ error: Error & { code?: string; peerId?: string }; elapsedMs: number }> {
  const id = typeof attacker === 'string' ? attacker : attacker.id;
  const found = () => victim.disconnects.find((d) => d.id === id && d.at >= since - 1);
  await waitFor(() => found() !== undefined && victim.sw.getPeer(id) === undefined, Math.max(0, since + withinMs - Date.now()), `victim cuts off ${id.slice(0, 8)} with ${code}`)
    .catch((error: Error) => {
      throw new Error(`${error.message}; saw ${JSON.stringify(victim.disconnects.filter((d) => d.id === id).map((d) => (d.reason as { code?: string } | undefined)?.code ?? String(d.reason)))}`);
    });
  const seen = found()!;
  const error = seen.reason as Error & { code?: string; peerId?: string };
  expect(error, 'disconnect reason').toBeInstanceOf(Error);
  expect(error.code, `cut-off code (${error.message})`).toBe(code);
  return { error, elapsedMs: seen.at - since };
}

/** The victim answers status() promptly and still lists the honest peers. */
export function expectResponsive(victim: Victim, honest: readonly Honest[]): void {
  const started = performance.now();
  const status = victim.sw.status();
  expect(performance.now() - started, 'status() time (ms)').toBeLessThan(250);
  expect(status.nodeId).toBe(victim.id);
  for (const h of honest) expect(status.peers.some((p) => p.id === h.id && p.state === 'open'), `honest ${h.id.slice(0, 8)} connected`).toBe(true);
}

/** Stops every switch, pump and probe the harness started (call it in afterEach). */
export async function stopHostileNodes(): Promise<void> {
  for (const cleanup of cleanups) cleanup();
  cleanups.clear();
  const all = [...switches];
  switches.clear();
  await Promise.all(all.map((sw) => sw.stop()));
}

/** The bare standard scene: victim, two honest nodes with a running pump, fault recorder, heap probe. */
export async function startScene(options: VictimOptions = {}): Promise<{ victim: Victim; honest: [Honest, Honest]; pump: Pump; faults: ReturnType<typeof recordProcessFaults>; heap: HeapProbe }> {
  const faults = recordProcessFaults();
  cleanups.add(faults.stop);
  const victim = await startVictim(options);
  const honest = await startHonestPair(victim);
  const heap = heapProbe();
  const pump = startPump(victim, honest);
  await pump.expectFlowing(10, 3000);
  return { victim, honest, pump, faults, heap };
}

/** The checks every hostile test ends with. */
export async function finishScene(scene: Awaited<ReturnType<typeof startScene>>, heapLimitMb = 20): Promise<void> {
  expectResponsive(scene.victim, scene.honest);
  await scene.pump.expectFlowing(10, 3000);
  await scene.pump.stopAndVerify();
  scene.heap.stop();
  scene.heap.expectBelow(heapLimitMb);
  scene.faults.stop();
  expect(scene.faults.faults, 'uncaught exceptions / unhandled rejections').toEqual([]);
}
