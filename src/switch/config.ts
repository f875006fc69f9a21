import type { MConnectionConfig } from '../conn/config.js';
import { secureHandshake, type SecureHandshakeOptions, type SecureLink } from '../conn/secure-link.js';
import type { AeadFactory } from '../crypto/aead.js';
import type { HandshakeCrypto } from '../crypto/handshake-crypto.js';
import type { NodeKey } from '../crypto/keys.js';
import { ConfigError } from '../errors.js';
import { parseAddress } from '../transport/address.js';
import type { Link } from '../transport/link.js';
import type { Transport } from '../transport/transport.js';
import { systemClock, type Clock } from '../util/clock.js';
import { DEFAULT_BACKOFF_POLICY, type BackoffPolicy } from './backoff.js';
import {
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_INBOX_CAPACITY_BYTES,
  DEFAULT_INBOX_CAPACITY_MESSAGES,
  DEFAULT_MAX_INBOUND_PEERS,
  DEFAULT_MAX_OUTBOUND_PEERS,
  DEFAULT_MAX_PENDING_INBOUND,
  DEFAULT_MAX_PENDING_INBOUND_PER_HOST,
  DEFAULT_PEER_MEMORY_BUDGET_BYTES,
  DEFAULT_STOP_TIMEOUT_MS,
} from './constants.js';

export interface SwitchOptions {
  /** This node's key; its id is derived from it. */
  identity: NodeKey;
  /** Only peers on the same network are accepted. */
  network: string;
  /** Transports by the address protocols they serve (tcp, ws, memory, …). */
  transports: readonly Transport[];
  /** Addresses to listen on, e.g. `tcp://127.0.0.1:0` (port 0 picks a free one). @default [] */
  listen?: readonly string[];
  /** Extra addresses to advertise (a UPnP mapping, a public host name). @default [] */
  externalAddresses?: readonly string[];
  /** @default '' */
  moniker?: string;
  /** @default 40 */
  maxInbound?: number;
  /** Cap on outbound peers dialled without `persistent`. @default 10 */
  maxOutbound?: number;
  /**
   * Links still handshaking at once. When full, a newcomer takes the place of the oldest pending link
   * of the host holding the most (if that host holds more than the newcomer's); otherwise it is dropped.
   * @default 64
   */
  maxPendingInbound?: number;
  /**
   * Links still handshaking at once from one IP address, so that one host opening silent connections
   * cannot hold every handshake slot until the handshake timeout. @default 8
   */
  maxPendingInboundPerHost?: number;
  /** Transport connect deadline. @default 10000 */
  dialTimeoutMs?: number;
  /** Secure handshake + NodeInfo + admission deadline. @default 20000 */
  handshakeTimeoutMs?: number;
  /** How long stop() lets peers flush, and how long it waits for each stop hook. @default 5000 */
  stopTimeoutMs?: number;
  /** Per-connection settings (ping, rate limits, batch size). */
  connection?: Partial<MConnectionConfig>;
  /** ChaCha20-Poly1305 implementation; platforms pass their fastest. @default noble */
  aead?: AeadFactory;
  /** X25519 and ed25519 of the handshake; platforms pass their fastest. @default noble */
  handshakeCrypto?: HandshakeCrypto;
  /** Peers to keep connected: dialled at start and redialled after any disconnect. */
  persistentPeers?: readonly string[];
  reconnect?: Partial<BackoffPolicy>;
  /** Messages held per pull-style channel before senders are paused. @default 1024 */
  inboxCapacity?: number;
  /**
   * Bytes of messages held per pull-style channel before senders are paused (at least the channel's
   * recvMessageCapacity). @default 16 MiB
   */
  inboxCapacityBytes?: number;
  /**
   * Bytes all connections together may hold on their peers' behalf: what a page's WebSocket or data
   * channel holds while paused, async receives in flight, send queues (a message of 16 KiB or more queued
   * for several peers counted once). Past it the connection holding the most that is not moving (what
   * its cut frees, weighed by how slowly it has drained lately) is cut with ProtocolError
   * ERR_RATE_LIMIT, never one holding little. @default 64 MiB, or twice what one connection may hold
   * at its bounds if that is more (channels given large send queues)
   */
  peerMemoryBudgetBytes?: number;
  /** Random source for jitter, so simulations can be seeded. @default Math.random */
  random?: () => number;
  /**
   * Every timer and time reading of the switch, its dialer, handshakes, connections and ban list; agents
   * such as PEX take it from here too. The simulator passes one it advances itself. @default systemClock
   */
  clock?: Clock;
  /**
   * @internal SIMULATION ONLY. Replaces the secure handshake that authenticates peers and encrypts links;
   * the many-node simulator passes a plaintext stand-in for in-memory links (bench/sim-handshake.ts).
   * A replacement decides who the peer is: never set this in a real node. @default secureHandshake
   */
  secureHandshake?: SecureHandshakeFunction;
}

/** The shape of `secureHandshake` (src/conn/secure-link.ts). */
export type SecureHandshakeFunction = (link: Link, options: SecureHandshakeOptions) => Promise<SecureLink>;

export interface ResolvedSwitchOptions {
  identity: NodeKey;
  network: string;
  transports: readonly Transport[];
  listen: readonly string[];
  externalAddresses: readonly string[];
  moniker: string;
  maxInbound: number;
  maxOutbound: number;
  maxPendingInbound: number;
  maxPendingInboundPerHost: number;
  dialTimeoutMs: number;
  handshakeTimeoutMs: number;
  stopTimeoutMs: number;
  connection: Partial<MConnectionConfig>;
  aead: AeadFactory | undefined;
  handshakeCrypto: HandshakeCrypto | undefined;
  persistentPeers: readonly string[];
  reconnect: BackoffPolicy;
  inboxCapacity: number;
  inboxCapacityBytes: number;
  /** undefined: the default, sized at start (see SwitchOptions). */
  peerMemoryBudgetBytes: number | undefined;
  random: () => number;
  clock: Clock;
  secureHandshake: SecureHandshakeFunction;
}

/**
 * The node-wide memory budget for peers: as set, or by default at least twice what one connection may
 * hold at its bounds (`connectionBoundBytes`, known once agents' channels are): a channel the app gives
 * a 64 MiB send queue must not get its one busy peer cut.
 */
export function peerMemoryBudgetBytes(options: ResolvedSwitchOptions, connectionBoundBytes: number): number {
  return options.peerMemoryBudgetBytes ?? Math.max(DEFAULT_PEER_MEMORY_BUDGET_BYTES, 2 * connectionBoundBytes);
}

export function resolveSwitchOptions(options: SwitchOptions): ResolvedSwitchOptions {
  const resolved: ResolvedSwitchOptions = {
    identity: options.identity,
    network: options.network,
    transports: options.transports,
    listen: options.listen ?? [],
    externalAddresses: options.externalAddresses ?? [],
    moniker: options.moniker ?? '',
    maxInbound: options.maxInbound ?? DEFAULT_MAX_INBOUND_PEERS,
    maxOutbound: options.maxOutbound ?? DEFAULT_MAX_OUTBOUND_PEERS,
    maxPendingInbound: options.maxPendingInbound ?? DEFAULT_MAX_PENDING_INBOUND,
    maxPendingInboundPerHost: options.maxPendingInboundPerHost ?? DEFAULT_MAX_PENDING_INBOUND_PER_HOST,
    dialTimeoutMs: options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    stopTimeoutMs: options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
    connection: options.connection ?? {},
    aead: options.aead,
    handshakeCrypto: options.handshakeCrypto,
    persistentPeers: options.persistentPeers ?? [],
    reconnect: { ...DEFAULT_BACKOFF_POLICY, ...options.reconnect },
    inboxCapacity: options.inboxCapacity ?? DEFAULT_INBOX_CAPACITY_MESSAGES,
    inboxCapacityBytes: options.inboxCapacityBytes ?? DEFAULT_INBOX_CAPACITY_BYTES,
    peerMemoryBudgetBytes: options.peerMemoryBudgetBytes,
    random: options.random ?? Math.random,
    clock: options.clock ?? systemClock,
    secureHandshake: options.secureHandshake ?? secureHandshake,
  };
  const bad = (why: string): never => {
    throw new ConfigError('ERR_INVALID_CONFIG', `Switch options: ${why}`);
  };
  if (typeof resolved.network !== 'string' || resolved.network.length === 0 || resolved.network.length > 64) bad('network must be 1-64 characters');
  if (resolved.transports.length === 0) bad('at least one transport is needed');
  for (const key of ['maxInbound', 'maxOutbound', 'maxPendingInbound', 'maxPendingInboundPerHost', 'inboxCapacity', 'inboxCapacityBytes'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 0) bad(`${key} must be an integer ≥ 0`);
  }
  const budget = resolved.peerMemoryBudgetBytes;
  if (budget !== undefined && (!Number.isInteger(budget) || budget <= 0)) bad('peerMemoryBudgetBytes must be an integer > 0');
  for (const key of ['dialTimeoutMs', 'handshakeTimeoutMs', 'stopTimeoutMs'] as const) {
    if (!(resolved[key] > 0)) bad(`${key} must be > 0`);
  }
  if (resolved.moniker.length > 64) bad('moniker is longer than 64 characters');
  for (const address of resolved.persistentPeers) {
    // Checked here, not at start(): a persistent peer is redialled for ever, so it must be the node we mean.
    if (parseAddress(address).nodeId === undefined) {
      throw new ConfigError('ERR_INVALID_ADDRESS', `Persistent peer ${address} needs a node id (<protocol>://<id>@host…)`);
    }
  }
  return resolved;
}
