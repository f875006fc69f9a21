/**
 * Helpers for the hostile suites that attack before or during the handshake, flood connections and
 * inject faults (issue 8): raw sockets, a frame-aware TCP proxy, a malicious acceptor, a reflector,
 * and recorders for what the victim refuses. The scene itself (victim, honest pair, message pump,
 * heap and fault probes) comes from ./harness.ts. Everything is on 127.0.0.1; every wait is bounded.
 * Not a test file.
 */
import net from 'node:net';
import { concatBytes } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, expect } from 'vitest';
import { secureHandshake, type SecureLink } from '../../src/conn/secure-link.js';
import { HELLO_BYTES } from '../../src/crypto/constants.js';
import { createEphemeralKey, encodeHello } from '../../src/crypto/handshake.js';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import type { Switch } from '../../src/switch/switch.js';
import type { SwitchOptions } from '../../src/switch/config.js';
import type { Link } from '../../src/transport/link.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { startNode, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import {
  attackerChannels,
  heapProbe,
  recordProcessFaults,
  startHonestPair,
  startPump,
  startVictim,
  type startScene,
  type Victim,
  type VictimOptions,
} from './harness.js';

export const LOOPBACK_ENDPOINT = { protocol: 'tcp', nodeId: undefined, host: '127.0.0.1', port: 0, path: '', params: {} } as const;
const noop = (): void => undefined;

/** File-level guard: no uncaught exception or unhandled rejection from the first test to the last. */
export function guardProcessFaults(): void {
  let recorder: ReturnType<typeof recordProcessFaults> | undefined;
  beforeAll(() => void (recorder = recordProcessFaults()));
  afterAll(() => {
    recorder?.stop();
    expect(recorder?.faults ?? [], 'uncaught exceptions / unhandled rejections in this file').toEqual([]);
  });
}

export type Scene = Awaited<ReturnType<typeof startScene>>;

/**
 * The harness's standard scene (victim, honest pair, fault recorder, heap probe) with a gentler
 * pump: one sequenced message per stream every 25 ms. Floods here already keep two cores busy; the
 * pump's job is to prove honest traffic keeps flowing, exactly once and in order, not to add load.
 */
export async function startLightScene(options: VictimOptions = {}): Promise<Scene> {
  const faults = recordProcessFaults();
  const victim = await startVictim(options);
  const honest = await startHonestPair(victim);
  const heap = heapProbe();
  const pump = startPump(victim, honest, { perTick: 1, tickMs: 25 });
  await pump.expectFlowing(10, 3000);
  return { victim, honest, pump, faults, heap };
}

/** A well-formed first handshake message with a fresh X25519 key. */
export function validHello(): Uint8Array {
  return encodeHello(createEphemeralKey().publicKey);
}

export function tcpPort(address: string): number {
  return Number(/:(\d+)\/?$/.exec(address)?.[1]);
}

// ─── raw sockets ─────────────────────────────────────────────────────────────────────────────

export interface RawSocket {
  readonly socket: net.Socket;
  /** This socket's endpoint as the victim sees it (its `inbound:rejected` remoteAddress). */
  readonly seenAs: string;
  readonly openedAt: number;
  /**
   * When the first byte from the victim arrived (its hello, written the moment it took the link
   * in and started its handshake clock); undefined if none came.
   */
  readonly firstByteAt: number | undefined;
  /** Resolves, once the socket is closed (by either side), with ms from connect to close. */
  readonly closed: Promise<number>;
  readonly closedAt: number | undefined;
  /** Bytes received so far (copies, up to 4 KiB). */
  readonly received: Uint8Array[];
}

/** A plain TCP connection to `port` on 127.0.0.1, optionally from another loopback source address. */
export function openRaw(port: number, options: { localAddress?: string; timeoutMs?: number } = {}): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}) });
    const state = { openedAt: performance.now(), firstByteAt: undefined as number | undefined, closedAt: undefined as number | undefined, receivedBytes: 0 };
    const received: Uint8Array[] = [];
    const closed = new Promise<number>((done) =>
      socket.once('close', () => {
        state.closedAt = performance.now();
        done(state.closedAt - state.openedAt);
      }),
    );
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw connect to ${port} timed out`));
    }, options.timeoutMs ?? 5000);
    socket.on('error', noop);
    socket.on('data', (chunk: Buffer) => {
      state.firstByteAt ??= performance.now();
      if (state.receivedBytes < 4096) received.push(new Uint8Array(chunk));
      state.receivedBytes += chunk.length;
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`raw connection to ${port} closed before connecting`));
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      state.openedAt = performance.now();
      resolve({
        socket,
        seenAs: `${socket.localAddress}:${socket.localPort}`,
        get openedAt() {
          return state.openedAt;
        },
        get firstByteAt() {
          return state.firstByteAt;
        },
        closed,
        get closedAt() {
          return state.closedAt;
        },
        received,
      });
    });
  });
}

/**
 * The cheapest connection attempt: connect (from `localAddress`), send nothing, wait for the victim
 * to close. Resolves with whether it connected and whether the victim sent anything (its hello:
 * it took the link in) before closing. The caller bounds the wait.
 */
export function knock(port: number, localAddress: string): Promise<{ connected: boolean; answered: boolean }> {
  return new Promise((resolve) => {
    const outcome = { connected: false, answered: false };
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    socket.on('error', noop);
    socket.once('connect', () => void (outcome.connected = true));
    socket.once('data', () => void (outcome.answered = true));
    socket.once('close', () => resolve(outcome));
  });
}

// ─── what the victim refuses ─────────────────────────────────────────────────────────────────

export type CodedError = Error & { code?: string; peerId?: string };

export interface RefusalRecorder {
  /** Inbound links that failed the handshake or admission. */
  readonly rejected: { remoteAddress: string; error: CodedError; at: number }[];
  /** Connected peers that failed (protocol error, pong timeout...). */
  readonly peerErrors: { id: string; error: CodedError; at: number }[];
  /** The rejection of the link seen as `remoteAddress`, once it arrives (bounded). */
  rejectionOf(remoteAddress: string, withinMs?: number): Promise<CodedError>;
  stop(): void;
}

export function recordRefusals(sw: Switch): RefusalRecorder {
  const rejected: RefusalRecorder['rejected'] = [];
  const peerErrors: RefusalRecorder['peerErrors'] = [];
  const offs = [
    sw.on('inbound:rejected', ({ remoteAddress, error }) => void rejected.push({ remoteAddress, error, at: performance.now() })),
    sw.on('peer:error', ({ peer, error }) => void peerErrors.push({ id: peer.id, error, at: performance.now() })),
  ];
  return {
    rejected,
    peerErrors,
    async rejectionOf(remoteAddress, withinMs = 5000) {
      const find = () => rejected.find((r) => r.remoteAddress === remoteAddress);
      await waitFor(() => find() !== undefined, withinMs, `inbound:rejected for ${remoteAddress}`);
      return find()!.error;
    },
    stop: () => offs.forEach((off) => off()),
  };
}

/** The victim's handshake bookkeeping (its Acceptor's private fields, read for the test): all must return to zero. */
export function handshakeSlots(sw: Switch): { pending: number; pendingHosts: number; admitted: number } {
  const inner = (sw as unknown as { acceptor?: { pendingLinks?: Set<unknown>; pendingByHost?: { size: number }; admitted?: { size: number } } }).acceptor;
  return { pending: inner?.pendingLinks?.size ?? Number.NaN, pendingHosts: inner?.pendingByHost?.size ?? Number.NaN, admitted: inner?.admitted?.size ?? Number.NaN };
}

// ─── a frame-aware TCP proxy ─────────────────────────────────────────────────────────────────

/** up: dialer → target; down: target → dialer. */
export type Flow = 'up' | 'down';
/** Declared lengths above this are not meshlink frames: the flow is then passed through raw. */
const MAX_PARSED_FRAME_BYTES = 1024 * 1024;
const CAPTURED_FRAMES_PER_FLOW = 64;

/** Splits one direction of a meshlink stream into the hello and whole sealed frames `[u32 len][sealed]`. */
class FrameSplitter {
  private held = new Uint8Array(0);
  private helloLeft = HELLO_BYTES;
  private raw = false;

  push(chunk: Uint8Array, onPiece: (piece: Uint8Array, isFrame: boolean) => void): void {
    if (this.raw) return onPiece(chunk, false);
    let data = this.held.length === 0 ? chunk : concatBytes(this.held, chunk);
    if (this.helloLeft > 0) {
      const n = Math.min(this.helloLeft, data.length);
      this.helloLeft -= n;
      if (n > 0) onPiece(data.subarray(0, n), false);
      data = data.subarray(n);
    }
    while (data.length >= 4) {
      const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
      if (length > MAX_PARSED_FRAME_BYTES) {
        this.raw = true;
        onPiece(data, false);
        data = new Uint8Array(0);
        break;
      }
      if (data.length < 4 + length) break;
      onPiece(data.slice(0, 4 + length), true);
      data = data.subarray(4 + length);
    }
    this.held = data.slice();
  }
}

/** One proxied connection. Frames are forwarded whole, so injected bytes always land between frames. */
export class ProxiedPipe {
  /** The first sealed frames of each flow, as they came (the hello excluded). */
  readonly captured: Record<Flow, Uint8Array[]> = { up: [], down: [] };
  readonly frameCount: Record<Flow, number> = { up: 0, down: 0 };
  /** Flows whose bytes are read and dropped (a link cut in one direction). */
  readonly blocked = new Set<Flow>();
  /** Rewrites each frame: returns what to forward instead (nothing, the frame, others, several). */
  onFrame: ((flow: Flow, frame: Uint8Array) => readonly Uint8Array[]) | undefined;

  constructor(
    readonly client: net.Socket,
    readonly server: net.Socket,
  ) {}

  /** Writes raw bytes toward the target (up) or the dialer (down). */
  inject(flow: Flow, bytes: Uint8Array): void {
    (flow === 'up' ? this.server : this.client).write(bytes);
  }

  /** Like a killed peer: the target gets what was forwarded, then FIN; the dialer's socket is destroyed. */
  kill(): void {
    this.server.end();
    this.client.destroy();
  }

  /** @internal */
  forward(flow: Flow, piece: Uint8Array, isFrame: boolean): void {
    const to = flow === 'up' ? this.server : this.client;
    if (to.destroyed || to.writableEnded || this.blocked.has(flow)) return;
    if (!isFrame) {
      to.write(piece);
      return;
    }
    this.frameCount[flow]++;
    if (this.captured[flow].length < CAPTURED_FRAMES_PER_FLOW) this.captured[flow].push(piece);
    for (const out of this.onFrame?.(flow, piece) ?? [piece]) if (!to.destroyed && !to.writableEnded) to.write(out);
  }
}

export interface TcpProxy {
  readonly port: number;
  readonly pipes: ProxiedPipe[];
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 and forwards every connection to `targetPort`, frame by frame. */
export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const pipes: ProxiedPipe[] = [];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('error', noop);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort, noDelay: true });
    track(client);
    track(upstream);
    const pipe = new ProxiedPipe(client, upstream);
    pipes.push(pipe);
    const wire = (flow: Flow, from: net.Socket, to: net.Socket): void => {
      const splitter = new FrameSplitter();
      from.on('data', (chunk: Buffer) => splitter.push(chunk, (piece, isFrame) => pipe.forward(flow, piece, isFrame)));
      from.once('end', () => to.end());
      // Let what was already forwarded reach the other side (FIN after it), then make sure it goes.
      from.once('close', () => {
        to.end();
        setTimeout(() => to.destroy(), 500).unref();
      });
    };
    wire('up', client, upstream);
    wire('down', upstream, client);
  });
  server.on('error', noop);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    pipes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A node (with every channel an attacker may use) connected to the victim through `port` (a proxy). */
export async function connectThrough(victim: Victim, port: number, switchOptions: Partial<SwitchOptions> = {}): Promise<TestNode> {
  const node = await startNode({ network: victim.sw.options.network, channels: attackerChannels(), listen: [], ...switchOptions });
  await node.sw.dial(`tcp://${victim.id}@127.0.0.1:${port}`);
  await waitFor(() => victim.sw.getPeer(node.sw.nodeId) !== undefined, 3000, 'victim sees the proxied peer');
  return node;
}

// ─── hostile listeners ───────────────────────────────────────────────────────────────────────

export interface HostileListener {
  readonly key: NodeKey;
  readonly port: number;
  /** `tcp://<key's id>@127.0.0.1:<port>` */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * An acceptor that completes the real secure handshake with its own key, then hands the SecureLink
 * to `behave` (which sends whatever it likes: bombs instead of NodeInfo or decision). It never
 * closes the link itself, so a victim that does not notice would hang until its deadline.
 */
export async function startMaliciousAcceptor(behave: (secure: SecureLink) => void, key: NodeKey = generateNodeKey()): Promise<HostileListener> {
  const links: Link[] = [];
  const listener = await tcpTransport().listen!(LOOPBACK_ENDPOINT, (link) => {
    links.push(link);
    secureHandshake(link, { identity: key, timeoutMs: 3000, aead: nodeChaCha20Poly1305 }).then((secure) => {
      secure.attach({ onData: noop, onDrain: noop, onClose: noop });
      behave(secure);
    }, noop);
  });
  const port = listener.addresses[0]!.port;
  return {
    key,
    port,
    address: `tcp://${key.nodeId}@127.0.0.1:${port}`,
    close: async () => {
      links.forEach((link) => link.destroy());
      await listener.close();
    },
  };
}

/** A TCP server that sends every byte back to whoever sent it (a reflected handshake). */
export async function startReflector(): Promise<HostileListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', noop);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const key = generateNodeKey();
  const port = (server.address() as net.AddressInfo).port;
  return {
    key,
    port,
    address: `tcp://${key.nodeId}@127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
