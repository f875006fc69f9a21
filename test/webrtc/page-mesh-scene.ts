/**
 * The demo of e2e/demo-mesh.spec.ts in simulated time: a relay (demo/node-runner.ts's options, with
 * pages dialling it over a stand-in WebSocket), its two Node nodes, and browser pages built as
 * platforms/browser's createNode builds them with the demo page's options (demo/web/page-options.ts),
 * their WebRTC a stand-in simple-peer whose offer, answer and connection take seeded random times. Real
 * Switches, PEX agents, signalling and WebRTC transports; the simulated handshake (no crypto). Each run
 * records when each pair of pages linked, so a schedule that leaves a pair apart can be replayed.
 */
import { SimClock } from '../../bench/sim-clock.js';
import { simulatedHandshake, simulatedNodeKey } from '../../bench/sim-handshake.js';
import { seededRandom } from '../../bench/seeded-random.js';
import { SimInternet } from '../../bench/sim-transport.js';
import { PAGE_CONNECTION, PAGE_PEX, PAGE_RECONNECT } from '../../demo/web/page-options.js';
import { assembleNode } from '../../src/node-options.js';
import { PEXAgent } from '../../src/pex/pex-agent.js';
import { MemoryStorage } from '../../src/storage/storage.js';
import type { Switch } from '../../src/switch/switch.js';
import type { Listener, Transport } from '../../src/transport/transport.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';

/** How long the stand-in WebRTC takes, each drawn per negotiation (ms). */
export interface RtcTiming {
  /** createOffer: from the dial to the offer leaving. */
  offerMs: [number, number];
  /** From the offer arriving to the answer leaving. */
  answerMs: [number, number];
  /** ICE and DTLS: from the answer arriving to both data channels open. */
  connectMs: [number, number];
  /** Share of negotiations whose ICE never connects (each end waits out its deadline). @default 0 */
  hangRate?: number;
}

export interface PageMeshOptions {
  seed: number;
  pages?: number;
  /** Pages start at random moments in [0, startSpreadMs) after the relay and its nodes are up. */
  startSpreadMs?: number;
  /** How long to run after the last page started. */
  runMs?: number;
  rtc?: RtcTiming;
  /** One-way delay of the relay's links and of WebRTC data (ms). */
  latencyMs?: number;
  /** Told what each page does (dials and their outcome, PEX answers), with the simulated time. */
  trace?: (line: string) => void;
}

export interface PageMeshResult {
  /** When each page started, ms after the first did. */
  startsMs: number[];
  /**
   * Per pair "i-j" (i < j): when they were first linked over WebRTC, in ms after the last page started
   * (negative when before), or null.
   */
  linkedMs: Record<string, number | null>;
  /** Pairs not linked at the end. */
  apart: string[];
  /** What each page's PEX and WebRTC did (counters at the end). */
  pages: { id: string; outbound: number; inbound: number; dials: number; dialFailures: number }[];
}

const DEFAULT_RTC: RtcTiming = { offerMs: [5, 60], answerMs: [5, 60], connectMs: [30, 400] };
const SIM_NETWORK = 'meshlink';
const RELAY_HOST = '127.0.0.1';
const RELAY_TCP_PORT = 26656;
const RELAY_WS_PORT = 26657;

/** The relay's WebSocket listener and the pages' WebSocket client: the simulated internet under a ws:// name. */
function asWebSocket(inner: Transport): Transport {
  return {
    protocols: ['ws'],
    dial: (address, options) => inner.dial(address, options),
    listen: async (address, onLink): Promise<Listener> => {
      const listener = await inner.listen!(address, onLink);
      return { addresses: listener.addresses.map((a) => ({ ...a, protocol: 'ws', path: '/' })), close: () => listener.close() };
    },
  };
}

/**
 * A simple-peer stand-in: the initiator offers after offerMs; the answerer answers after answerMs; once
 * the initiator holds the answer, both ends connect after connectMs, if neither was destroyed meanwhile
 * and each holds the other's description. Data goes to the other end after the latency, in order.
 */
class SimRtcPeer implements SimplePeerLike {
  readonly bufferSize = 0;
  connected = false;
  destroyed = false;
  remote: SimRtcPeer | undefined;
  private readonly listeners = new Map<string, ((...args: never[]) => void)[]>();

  constructor(
    private readonly medium: SimRtcMedium,
    readonly initiator: boolean,
    readonly token: string,
  ) {
    if (initiator) medium.after(medium.timing.offerMs, () => this.emit('signal', { type: 'offer', sdp: sdpOf(token) }), this);
  }

  signal(data: SignalData): void {
    if (this.destroyed || data.type === 'candidate' || this.connected) return;
    const remote = this.medium.peer(tokenOf(data.sdp));
    if (remote === undefined) return;
    // A new offer to an answerer that has not connected (its dialler gave up and dials again) is taken
    // as a renegotiation and answered, as simple-peer over libwebrtc does (checked with @roamhq/wrtc).
    if (data.type === 'offer' && !this.initiator) {
      this.remote = remote;
      this.medium.after(this.medium.timing.answerMs, () => this.emit('signal', { type: 'answer', sdp: sdpOf(this.token) }), this);
    } else if (data.type === 'answer' && this.initiator && this.remote === undefined) {
      this.remote = remote;
      this.medium.after(this.medium.timing.connectMs, () => this.medium.connect(this, remote), this);
    }
  }

  send(chunk: Uint8Array): void {
    if (!this.connected || this.remote === undefined) throw new Error('not connected');
    const copy = chunk.slice();
    const remote = this.remote;
    this.medium.clock.setTimeout(() => !remote.destroyed && remote.emit('data', copy), this.medium.latencyMs);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const wasConnected = this.connected;
    this.connected = false;
    this.medium.clock.setTimeout(() => this.emit('close'), 0);
    // The remote's data channel closes too, after the latency.
    const remote = this.remote;
    if (wasConnected && remote !== undefined) this.medium.clock.setTimeout(() => remote.destroy(), this.medium.latencyMs);
  }

  on(event: string, listener: (...args: never[]) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }

  emit(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (...a: unknown[]) => void)(...args);
  }
}

const sdpOf = (token: string): string => `v=0\r\na=sim-token:${token}\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n`;
const tokenOf = (sdp: string): string => /a=sim-token:(\S+)/.exec(sdp)?.[1] ?? '';

class SimRtcMedium {
  private readonly peers = new Map<string, SimRtcPeer>();
  private next = 0;

  constructor(
    readonly clock: SimClock,
    readonly timing: RtcTiming,
    readonly latencyMs: number,
    private readonly random: () => number,
  ) {}

  factory = ({ initiator }: { initiator: boolean }): SimplePeerLike => {
    const token = `rtc${this.next++}`;
    const peer = new SimRtcPeer(this, initiator, token);
    this.peers.set(token, peer);
    return peer;
  };

  peer(token: string): SimRtcPeer | undefined {
    return this.peers.get(token);
  }

  after([min, max]: [number, number], action: () => void, peer: SimRtcPeer): void {
    this.clock.setTimeout(() => !peer.destroyed && action(), min + Math.floor(this.random() * (max - min + 1)));
  }

  connect(a: SimRtcPeer, b: SimRtcPeer): void {
    if (a.destroyed || b.destroyed || b.remote !== a || a.remote !== b) return;
    const hangRate = this.timing.hangRate ?? 0;
    if (hangRate > 0 && this.random() < hangRate) return;
    a.connected = true;
    b.connected = true;
    b.emit('connect');
    a.emit('connect');
  }
}

/** One run of the demo's mesh; see PageMeshOptions. Deterministic for a seed. */
export async function runPageMesh(options: PageMeshOptions): Promise<PageMeshResult> {
  const { seed, pages: pageCount = 4, startSpreadMs = 2_000, runMs = 30_000, rtc = DEFAULT_RTC, latencyMs = 1 } = options;
  const clock = new SimClock();
  const random = seededRandom(seed);
  const internet = new SimInternet({ clock, random, latencyMs, lossRate: 0 });
  const medium = new SimRtcMedium(clock, rtc, latencyMs, random);
  const base = { clock, random, secureHandshake: simulatedHandshake, network: SIM_NETWORK } as const;
  const bookOptions = (): { bucketKey: Uint8Array } => ({ bucketKey: Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)) });
  const nodeParts = (transports: Transport[]) => ({
    identity: simulatedNodeKey(random),
    storage: new MemoryStorage(),
    defaultTransports: () => transports,
    createWebRtc: (): WebRtcTransport => {
      throw new Error('no WebRTC on the simulated Node nodes');
    },
    defaults: { pex: false, webrtc: false, relay: false },
  });
  // demo/node-runner.ts: relay on, PEX at its defaults with allowLocal.
  const relay = assembleNode(
    { ...base, listen: [`tcp://${RELAY_HOST}:${RELAY_TCP_PORT}`, `ws://${RELAY_HOST}:${RELAY_WS_PORT}/`], relay: true, pex: { seeds: [], allowLocal: true, random, bookOptions: bookOptions() } },
    nodeParts([internet.transport(RELAY_HOST), asWebSocket(internet.transport(RELAY_HOST))]),
  );
  await relay.start();
  const relayTcp = relay.addresses.find((a) => a.startsWith('tcp://'))!;
  const relayWs = relay.addresses.find((a) => a.startsWith('ws://'))!;
  const switches: Switch[] = [relay];
  for (const [n, name] of ['alice', 'bob'].entries()) {
    const sw = assembleNode(
      { ...base, moniker: name, listen: [`tcp://${RELAY_HOST}:${RELAY_WS_PORT + 1 + n}`], persistentPeers: [relayTcp], relay: true, pex: { seeds: [], allowLocal: true, random, bookOptions: bookOptions() } },
      nodeParts([internet.transport(RELAY_HOST)]),
    );
    await sw.start();
    switches.push(sw);
  }
  await clock.advance(1_000);

  // platforms/browser's createNode (its book saved every second) with demo/web/app.ts's options.
  const pages: Switch[] = [];
  const startsMs: number[] = [];
  const t0 = clock.now();
  for (let i = 0; i < pageCount; i++) {
    const sw = assembleNode(
      {
        ...base,
        moniker: `page${i}`,
        persistentPeers: [relayWs],
        pex: { seeds: [relayWs], allowLocal: true, ...PAGE_PEX, random, bookOptions: bookOptions() },
        reconnect: PAGE_RECONNECT,
        connection: PAGE_CONNECTION,
      },
      {
        identity: simulatedNodeKey(random),
        storage: new MemoryStorage(),
        defaultTransports: () => [asWebSocket(internet.transport(RELAY_HOST))],
        createWebRtc: (webrtc) => new WebRtcTransport({ ...webrtc, createPeer: medium.factory }),
        defaults: { pex: true, webrtc: true, relay: true, pexOptions: { saveIntervalMs: 1_000 } },
      },
    );
    pages.push(sw);
    switches.push(sw);
    const at = Math.floor(random() * startSpreadMs);
    startsMs.push(at);
    clock.setTimeout(() => void sw.start(), at);
  }
  if (options.trace !== undefined) tracePages(pages, clock, t0, options.trace);
  const linkedAt = new Map<string, number>();
  const lastStart = t0 + Math.max(...startsMs);
  const pair = (i: number, j: number): string => `${Math.min(i, j)}-${Math.max(i, j)}`;
  pages.forEach((sw, i) =>
    sw.on('peer:connected', ({ peer }) => {
      const j = pages.findIndex((other) => other.nodeId === peer.id);
      if (j < 0 || peer.transport !== 'webrtc' || linkedAt.has(pair(i, j))) return;
      linkedAt.set(pair(i, j), clock.now() - lastStart);
    }),
  );
  await clock.runUntil(lastStart + runMs);
  const linkedMs: Record<string, number | null> = {};
  const apart: string[] = [];
  for (let i = 0; i < pageCount; i++) {
    for (let j = i + 1; j < pageCount; j++) {
      linkedMs[pair(i, j)] = linkedAt.get(pair(i, j)) ?? null;
      if (pages[i]!.getPeer(pages[j]!.nodeId)?.transport !== 'webrtc') apart.push(pair(i, j));
    }
  }
  const result: PageMeshResult = {
    startsMs: startsMs.map((at) => at - Math.min(...startsMs)),
    linkedMs,
    apart,
    pages: pages.map((sw) => {
      const stats = sw.getAgent<PEXAgent>('pex')!.stats();
      const counts = sw.peerCounts();
      return { id: sw.nodeId, outbound: counts.outbound, inbound: counts.inbound, dials: stats.dials, dialFailures: stats.dialFailures };
    }),
  };
  const stopping = Promise.all(switches.map((sw) => sw.stop()));
  await clock.advance(10_000);
  await stopping;
  return result;
}

function tracePages(pages: Switch[], clock: SimClock, t0: number, trace: (line: string) => void): void {
  const name = (id: string): string => {
    const i = pages.findIndex((sw) => sw.nodeId === id);
    return i >= 0 ? `p${i}` : id.slice(0, 4);
  };
  const short = (address: string): string => address.replace(/[0-9a-f]{40}/g, (id) => name(id));
  pages.forEach((sw, i) => {
    const say = (text: string): void => trace(`${String(clock.now() - t0).padStart(6)} p${i} ${text}`);
    const dial = sw.dial.bind(sw);
    sw.dial = (address, dialOptions) => {
      say(`dials ${short(address)}`);
      const outcome = dial(address, dialOptions);
      outcome.then(
        (peer) => say(`dial ${short(address)} -> ${peer.direction} ${peer.transport}`),
        (error: { code?: string; message?: string }) => say(`dial ${short(address)} failed ${error.code ?? ''} ${short(error.message ?? '')}`),
      );
      return outcome;
    };
    sw.on('peer:connected', ({ peer }) => say(`connected ${name(peer.id)} ${peer.direction} ${peer.transport} ${short(peer.address)}`));
    sw.on('peer:disconnected', ({ peer }) => say(`disconnected ${name(peer.id)}`));
    clock.setTimeout(() => {
      const pex = sw.getAgent<PEXAgent>('pex')!;
      pex.on('addresses', ({ peer, received, added }) =>
        say(`pex answer from ${name(peer.id)}: ${received} (${added} new); book webrtc: ${pex.book.entries().filter((e) => e.address.startsWith('webrtc')).map((e) => `${short(e.address)}#${e.attempts}`).join(' ')}`),
      );
    }, 0);
  });
}
