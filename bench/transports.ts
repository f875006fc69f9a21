/**
 * The benchmarked transports, each as a receiving side (a Sink behind a listener) and a sending side
 * (a SenderPort). Receiving sides run in a child process (bench/receiver-process.ts) or in this one.
 *
 * - raw-tcp: Node `net`, 4-byte big-endian length prefix, ONE socket.write per message. The baseline.
 * - meshlink-tcp: the product as users get it: two Switches from createNode (TCP, secure handshake,
 *   NodeInfo, MConnection, Node's native ChaCha20-Poly1305), an agent on each side; the sender sends
 *   with `peer.trySend()` and awaits `peer.send()` only when the queue is full (as the raw baselines
 *   write at once below their high-water mark and wait above it), the receiver's agent answers with
 *   `peer.trySend()`.
 * - meshlink-tcp-plain: MConnection straight over a TcpLink (no SecureLink): the cost of encryption.
 * - meshlink-tcp-secure: MConnection over a SecureLink over a TcpLink, no Switch: with the two above,
 *   splits meshlink's cost between the Switch and the SecureLink.
 * - meshlink-memory: two Switches over the in-memory transport (secure handshake included).
 * - raw-ws / meshlink-ws: bench/transports-ws.ts (bare `ws`) and the Switches below over ws://.
 * - bare-webrtc / meshlink-webrtc: bench/transports-webrtc.ts (both in this process).
 */
import net from 'node:net';
import { createNode, type NodeOptions } from '../platforms/node/index.js';
import { TcpLink, tcpTransport } from '../platforms/node/tcp.js';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { MConnection } from '../src/conn/mconnection.js';
import { secureHandshake } from '../src/conn/secure-link.js';
import { generateNodeKey } from '../src/crypto/keys.js';
import { MemoryStorage } from '../src/storage/storage.js';
import type { Agent } from '../src/switch/agent.js';
import type { Peer } from '../src/switch/peer.js';
import type { Switch } from '../src/switch/switch.js';
import type { Link } from '../src/transport/link.js';
import type { Transport } from '../src/transport/transport.js';
import { BENCH_CHANNEL_ID, BENCH_CHANNELS, Sink, type ReceiverKind, type ReceiverReady, type SinkMode } from './common.js';
import { connectRawWsSender, startRawWsReceiver } from './transports-ws.js';

export const RAW_HEADER_BYTES = 4;

/** The sending half of a benchmarked connection. */
export interface SenderPort {
  /**
   * Sends one message. Returns true when accepted at once (raw TCP below its high-water mark), or the
   * promise the API gives (meshlink: the `peer.send()` promise; raw TCP: resolves on 'drain').
   */
  send(message: Uint8Array): boolean | Promise<boolean>;
  /** Called with every message the receiver sends back. */
  onReply: (message: Uint8Array) => void;
  close(): Promise<void>;
}

/** A receiving side: where to connect, how to switch its mode, how to stop it. */
export interface ReceiverHandle {
  readonly ready: ReceiverReady;
  setMode(mode: SinkMode): Promise<void>;
  stop(): Promise<void>;
}

// ─── raw TCP ─────────────────────────────────────────────────────────────────────────────────────

/** Length-prefixed frames parsed from a byte stream; hands each body (a view) to `onFrame`. */
export class RawFrameReader {
  private pending: Buffer | undefined;

  constructor(private readonly onFrame: (body: Uint8Array) => void) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.pending !== undefined) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let offset = 0;
    const end = data.length;
    while (end - offset >= RAW_HEADER_BYTES) {
      const length = data.readUInt32BE(offset);
      if (end - offset - RAW_HEADER_BYTES < length) break;
      const start = offset + RAW_HEADER_BYTES;
      offset = start + length;
      this.onFrame(data.subarray(start, offset));
    }
    if (offset < end) this.pending = data.subarray(offset);
  }
}

/** One write per message: the frame (header + body) is built in one buffer and written at once. */
export function writeRawFrame(socket: net.Socket, body: Uint8Array): boolean {
  const frame = Buffer.allocUnsafe(RAW_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, RAW_HEADER_BYTES);
  return socket.write(frame);
}

async function startRawReceiver(sink: Sink): Promise<{ ready: ReceiverReady; stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reply = (message: Uint8Array): void => void writeRawFrame(socket, message);
    const reader = new RawFrameReader((body) => sink.onMessage(body, reply));
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    ready: { address: `127.0.0.1:${port}` },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function connectRawSender(address: string): Promise<SenderPort> {
  const [host, portText] = address.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(portText), noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const port: SenderPort = {
    send(message) {
      if (writeRawFrame(socket, message)) return true;
      return new Promise<boolean>((resolve) => socket.once('drain', () => resolve(true)));
    },
    onReply: () => undefined,
    close: async () => {
      socket.destroy();
    },
  };
  const reader = new RawFrameReader((body) => port.onReply(body));
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  return port;
}

// ─── meshlink over a Switch (the public API) ─────────────────────────────────────────────────────

/** The benchmark's agent: hands every message on the bench channel to `onMessage`. */
export class BenchAgent implements Agent {
  readonly channels = BENCH_CHANNELS;
  onMessage: (peer: Peer, message: Uint8Array) => void = () => undefined;
  receive(_channelId: number, peer: Peer, message: Uint8Array): void {
    this.onMessage(peer, message);
  }
}

/** A started Switch from createNode with the bench agent; `extra` adds createNode options (`webrtc`, `relay`). */
export async function startNodeWithAgent(transport: Transport | undefined, listen: string[], extra: NodeOptions = {}): Promise<{ sw: Switch; agent: BenchAgent }> {
  const agent = new BenchAgent();
  const sw = await createNode({
    ...extra,
    identity: generateNodeKey(),
    storage: new MemoryStorage(),
    network: 'bench',
    listen,
    ...(transport !== undefined ? { transports: [transport] } : {}),
  });
  sw.addAgent('bench', agent);
  await sw.start();
  return { sw, agent };
}

async function startSwitchReceiver(sink: Sink, transport?: Transport, listen = 'tcp://127.0.0.1:0'): Promise<{ ready: ReceiverReady; stop: () => Promise<void> }> {
  const { sw, agent } = await startNodeWithAgent(transport, [listen]);
  // The receiver's agent answers through the normal API.
  agent.onMessage = (peer, message) => sink.onMessage(message, (answer) => void peer.trySend(BENCH_CHANNEL_ID, answer));
  return { ready: { address: sw.addresses[0]! }, stop: () => sw.stop() };
}

/**
 * How the bench sends on a Switch's peer: at once while the channel's queue has room (`trySend`, no
 * promise), else waiting for room (`send`): the raw baselines' write-now-or-wait-for-drain.
 */
export function sendOnPeer(peer: Peer, message: Uint8Array): true | Promise<boolean> {
  return peer.trySend(BENCH_CHANNEL_ID, message) || peer.send(BENCH_CHANNEL_ID, message);
}

async function connectSwitchSender(address: string, transport?: Transport): Promise<SenderPort> {
  const { sw, agent } = await startNodeWithAgent(transport, []);
  const peer = await sw.dial(address);
  const port: SenderPort = {
    send: (message) => sendOnPeer(peer, message),
    onReply: () => undefined,
    close: () => sw.stop(),
  };
  agent.onMessage = (_peer, message) => port.onReply(message);
  return port;
}

// ─── MConnection over a bare TcpLink, or a SecureLink over it (no Switch) ────────────────────────────────────────────

async function startPlainReceiver(sink: Sink, secure = false): Promise<{ ready: ReceiverReady; stop: () => Promise<void> }> {
  const connections = new Set<MConnection>();
  const accept = async (socket: net.Socket): Promise<void> => {
    let conn: MConnection | undefined;
    conn = new MConnection(await maybeSecure(new TcpLink(socket), secure), BENCH_CHANNELS, {
      onMessage: (channelId, message) => sink.onMessage(message, (answer) => void conn!.trySend(channelId, answer)),
      onClose: () => connections.delete(conn!),
    });
    connections.add(conn);
    conn.start();
  };
  // A failed handshake has already destroyed its link.
  const server = net.createServer({ noDelay: true }, (socket) => void accept(socket).catch(() => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    ready: { address: `127.0.0.1:${port}` },
    stop: async () => {
      for (const conn of connections) conn.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** With `secure`, the secure handshake over the link (Node's AEAD), as the Switch does. */
async function maybeSecure(link: Link, secure: boolean): Promise<Link> {
  return secure ? secureHandshake(link, { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 }) : link;
}

async function connectPlainSender(address: string, secure = false): Promise<SenderPort> {
  const [host, portText] = address.split(':') as [string, string];
  // Dialled through the transport, as the Switch dials: the same TcpLink (and socket reads) as meshlink-tcp.
  const link = await tcpTransport().dial({ protocol: 'tcp', nodeId: undefined, host, port: Number(portText), path: '', params: {} });
  const port: SenderPort = {
    send: (message) => conn.send(BENCH_CHANNEL_ID, message),
    onReply: () => undefined,
    close: async () => conn.destroy(),
  };
  const conn = new MConnection(await maybeSecure(link, secure), BENCH_CHANNELS, {
    onMessage: (_channelId, message) => port.onReply(message),
    onClose: () => undefined,
  });
  conn.start();
  return port;
}

// ─── dispatch ────────────────────────────────────────────────────────────────────────────────────

/** Starts a receiving side of `kind` in this process. */
export async function startReceiver(kind: ReceiverKind): Promise<ReceiverHandle> {
  const sink = new Sink();
  const started =
    kind === 'raw-tcp'
      ? await startRawReceiver(sink)
      : kind === 'meshlink-tcp'
        ? await startSwitchReceiver(sink)
        : kind === 'raw-ws'
          ? await startRawWsReceiver(sink)
          : kind === 'meshlink-ws'
            ? await startSwitchReceiver(sink, undefined, 'ws://127.0.0.1:0')
            : await startPlainReceiver(sink, kind === 'meshlink-tcp-secure');
  return {
    ready: started.ready,
    setMode: async (mode) => sink.setMode(mode),
    stop: started.stop,
  };
}

/** Connects the sending side of `kind` to a receiver at `address`. */
export function connectSender(kind: ReceiverKind, address: string): Promise<SenderPort> {
  if (kind === 'raw-tcp') return connectRawSender(address);
  if (kind === 'meshlink-tcp' || kind === 'meshlink-ws') return connectSwitchSender(address);
  if (kind === 'raw-ws') return connectRawWsSender(address);
  return connectPlainSender(address, kind === 'meshlink-tcp-secure');
}

/** Both Switches over one in-memory network, in this process (memory links cannot cross processes). */
export async function startMemoryPair(): Promise<{ receiver: ReceiverHandle; sender: SenderPort }> {
  const { MemoryNetwork } = await import('../src/transport/memory.js');
  const network = new MemoryNetwork();
  const sink = new Sink();
  const started = await startSwitchReceiver(sink, network.transport(), 'memory://bench-receiver');
  const sender = await connectSwitchSender(started.ready.address, network.transport());
  return {
    receiver: { ready: started.ready, setMode: async (mode) => sink.setMode(mode), stop: started.stop },
    sender,
  };
}
