/**
 * Helpers for the peer-churn suite: short-lived peers that are much cheaper than a Switch (a real TCP
 * or WebSocket link, the real upgrade with a fresh key, and an MConnection only when the peer is to
 * talk), and a reading of every table the victim keeps per peer, so a test can prove that each one
 * is back where it started once the peers are gone. Not a test file.
 */
import net from 'node:net';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { MConnection } from '../../src/conn/mconnection.js';
import { secureHandshake } from '../../src/conn/secure-link.js';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import { PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { encodePexMessage } from '../../src/pex/pex-messages.js';
import { frameLinkMessage, LinkMessageReader } from '../../src/switch/link-messages.js';
import { MAX_NODE_INFO_BYTES, PROTOCOL_VERSION, SOFTWARE_VERSION, type NodeInfo } from '../../src/switch/node-info.js';
import { upgradeLink, type UpgradedLink } from '../../src/switch/upgrade.js';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { decodeMessage, encodeMessage } from '../../src/wire/codec.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { TcpLink } from '../../platforms/node/tcp.js';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { APP_CH } from './harness.js';
import type { Victim } from './harness.js';
import { handshakeSlots, tcpPort } from './raw-peer.js';

/** The channels a churn peer declares: PEX, signalling and the victim's app channel. */
export const CHURN_CHANNELS: ChannelDescriptor[] = [PEX_CHANNEL_ID, SIGNAL_CHANNEL_ID, APP_CH].map((id) => ({
  id,
  priority: 1,
  sendQueueCapacity: 16,
  recvMessageCapacity: 64 * 1024,
}));

/** A TCP link to the victim from `localAddress` (any of 127.0.0.0/8), as its own transport makes them. */
export function tcpLinkTo(victim: Victim, localAddress = '127.0.0.1'): Promise<Link> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: tcpPort(victim.tcpAddress), localAddress, allowHalfOpen: true });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(new TcpLink(socket));
    });
  });
}

export function wsLinkTo(victim: Victim): Promise<Link> {
  return wsTransport().dial(parseAddress(victim.wsAddress));
}

/** A raw link over `via` (TCP from `localAddress`; WebSocket from 127.0.0.1). */
export function linkTo(victim: Victim, via: 'tcp' | 'ws', localAddress?: string): Promise<Link> {
  return via === 'ws' ? wsLinkTo(victim) : tcpLinkTo(victim, localAddress);
}

/** Resolves when `link` closes (by either end); `link` must not be attached elsewhere. */
export function closedOf(link: Link): Promise<void> {
  return new Promise((resolve) => link.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => resolve() }));
}

export interface JoinOptions {
  key?: NodeKey;
  via?: 'tcp' | 'ws';
  localAddress?: string;
  /** Another network's name: the victim refuses it with ERR_INCOMPATIBLE_PEER. */
  network?: string;
}

/**
 * The real outbound upgrade (secure handshake, NodeInfo, the victim's admission decision) with a
 * fresh key unless one is given. Rejects with the victim's refusal (PeerRejectedError, HandshakeError).
 */
export async function joinVictim(victim: Victim, options: JoinOptions = {}): Promise<UpgradedLink> {
  const key = options.key ?? generateNodeKey();
  const link = await linkTo(victim, options.via ?? 'tcp', options.localAddress);
  const info: NodeInfo = {
    id: key.nodeId,
    network: options.network ?? victim.sw.options.network,
    protocolVersion: PROTOCOL_VERSION,
    channels: CHURN_CHANNELS.map((c) => c.id),
    recvMessageCapacities: CHURN_CHANNELS.map((c) => c.recvMessageCapacity!),
    listenAddresses: [],
    moniker: 'churn',
    software: SOFTWARE_VERSION,
  };
  return upgradeLink(link, { identity: key, localInfo: info, direction: 'outbound', expectedPeerId: victim.id, timeoutMs: 10_000, aead: nodeChaCha20Poly1305 });
}

export interface Talker {
  conn: MConnection;
  /** Resolves when the connection has closed, with why. */
  closed: Promise<Error | undefined>;
}

/** Starts an MConnection over an upgraded link, so the peer can talk and close gracefully. */
export function talk(upgraded: UpgradedLink): Talker {
  let done: (error: Error | undefined) => void = () => undefined;
  const closed = new Promise<Error | undefined>((resolve) => (done = resolve));
  const conn = new MConnection(upgraded.link, CHURN_CHANNELS, { onMessage: () => undefined, onClose: (error) => done(error) }, { sendTimeoutMs: 2000 });
  conn.start(upgraded.leftover);
  return { conn, closed };
}

/** A private field of one of the victim's parts; throws if it is not there (renamed: fix the reading). */
function field<T>(owner: unknown, name: string): T {
  const value = (owner as Record<string, unknown> | undefined)?.[name];
  if (value === undefined) throw new Error(`peerTables: no field "${name}" on ${(owner as object | undefined)?.constructor?.name ?? String(owner)}`);
  return value as T;
}

/** Timers keeping the event loop alive (unref'd timers are not listed). */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

/**
 * Every table the victim keeps per peer or per connection attempt: public counts where there are
 * some, the private structures otherwise. Each must return to its value before the churn.
 */
export function peerTables(victim: Victim): Record<string, number> {
  const sw = victim.sw;
  const counts = sw.peerCounts();
  const slots = handshakeSlots(sw);
  const dialer = field<object>(sw, 'dialer');
  const router = field<object>(sw, 'router');
  const inboxes = field<Map<number, object>>(router, 'inboxes');
  const pexDialer = field<{ pendingCount: number }>(victim.pex, 'dialer');
  const negotiations = field<{ counts(initiator: boolean): { total: number } }>(victim.rtc, 'negotiations');
  return {
    peers: sw.peers.length,
    inbound: counts.inbound,
    outbound: counts.outbound,
    dialing: counts.dialing,
    pendingHandshakes: slots.pending,
    pendingHosts: slots.pendingHosts,
    admitted: slots.admitted,
    switchInFlight: field<Set<unknown>>(sw, 'inFlight').size,
    dialerInFlight: field<Map<string, unknown>>(dialer, 'inFlight').size,
    persistent: field<Map<string, unknown>>(dialer, 'persistent').size,
    pausedPeers: [...inboxes.values()].reduce((sum, inbox) => sum + field<Set<unknown>>(inbox, 'pausedPeers').size, 0),
    pexPeers: field<Map<unknown, unknown>>(victim.pex, 'peerStates').size,
    pexDials: pexDialer.pendingCount,
    rtcDials: negotiations.counts(true).total,
    rtcAnswers: negotiations.counts(false).total,
    timers: activeTimers(),
  };
}

/** A TCP server that takes connections and never says a word (they end when the dialer gives up). */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export { closedPort } from '../helpers/ports.js';

/**
 * Combined signals that `signal` still knows of (AbortSignal.any registers each with its sources):
 * Node's own bookkeeping, read for the test; 0 where a Node version keeps none.
 */
export function dependantSignals(signal: AbortSignal): number {
  const symbol = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  return symbol === undefined ? 0 : ((signal as unknown as Record<symbol, Set<unknown> | undefined>)[symbol]?.size ?? 0);
}

/** A TcpLink that, once `deaf`, never hangs up: the remote's FIN is ignored, our side stays open. */
class DeafTcpLink extends TcpLink {
  deaf = false;
  override onSocketEnd(): void {
    if (!this.deaf) super.onSocketEnd();
  }
}

/** A TCP link to the victim from `localAddress` that can be made deaf. */
function deafLinkTo(victim: Victim, localAddress: string): Promise<DeafTcpLink> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: tcpPort(victim.tcpAddress), localAddress, allowHalfOpen: true });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(new DeafTcpLink(socket));
    });
  });
}

/**
 * A peer that runs the handshake to the victim's admission decision with a fresh key, reads the
 * decision, and then never hangs up (as an attacker would not). Resolves with the decision's code
 * (undefined if admitted) and the link, which the caller destroys.
 */
export async function refusedAndDeaf(victim: Victim, localAddress: string): Promise<{ code: string | undefined; link: Link }> {
  const key = generateNodeKey();
  const link = await deafLinkTo(victim, localAddress);
  const secure = await secureHandshake(link, { identity: key, timeoutMs: 10_000, aead: nodeChaCha20Poly1305, expectedPeerId: victim.id });
  const reader = new LinkMessageReader(secure, MAX_NODE_INFO_BYTES);
  const info: NodeInfo = { id: key.nodeId, network: victim.sw.options.network, protocolVersion: PROTOCOL_VERSION, channels: [], recvMessageCapacities: [], listenAddresses: [], moniker: '', software: SOFTWARE_VERSION };
  secure.write(frameLinkMessage(encodeMessage(info)));
  await reader.next();
  link.deaf = true;
  const decision = decodeMessage(await reader.next()) as { accept?: boolean; code?: string };
  return { code: decision.accept === true ? undefined : decision.code, link };
}

/** TCP sockets open in this process (both ends of every loopback connection count). */
export function openTcpSockets(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
}

/**
 * A peer that joins with a fresh key, breaks a PEX rule (a pexResponse nobody asked for), and from
 * then on never hangs up or reads: the victim's close packet and FIN go unanswered. Resolves once
 * the victim has dropped it, with the link (the caller destroys it).
 */
export async function misbehaveAndStay(victim: Victim, localAddress: string): Promise<Link> {
  const key = generateNodeKey();
  const link = await deafLinkTo(victim, localAddress);
  const info: NodeInfo = { id: key.nodeId, network: victim.sw.options.network, protocolVersion: PROTOCOL_VERSION, channels: CHURN_CHANNELS.map((c) => c.id), recvMessageCapacities: CHURN_CHANNELS.map((c) => c.recvMessageCapacity!), listenAddresses: [], moniker: '', software: SOFTWARE_VERSION };
  const upgraded = await upgradeLink(link, { identity: key, localInfo: info, direction: 'outbound', expectedPeerId: victim.id, timeoutMs: 10_000, aead: nodeChaCha20Poly1305 });
  link.deaf = true;
  const { conn } = talk(upgraded);
  // Deaf from here on: nothing the victim sends (its close packet) is read; we only send.
  upgraded.link.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
  conn.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses: [] }));
  const gone = Date.now() + 5000;
  while (victim.sw.getPeer(key.nodeId) !== undefined && Date.now() < gone) await new Promise((resolve) => setTimeout(resolve, 5));
  return link;
}

