import type { ChannelDescriptor } from '../conn/channel-descriptor.js';
import { sharedMConnectionConfig, type MConnectionConfig } from '../conn/config.js';
import { DEFAULT_RECV_MESSAGE_CAPACITY_BYTES, MAX_RECV_MESSAGE_CAPACITY_BYTES } from '../conn/constants.js';
import { HandshakeError } from '../errors.js';
import { resolveDecodeLimits } from '../wire/config.js';
import { endpointHost, formatAddress, isNodeId, parseAddress } from '../transport/address.js';
import { parseNormalized } from '../transport/canonical-address.js';
import { printable } from '../util/printable.js';

/** What a node tells a peer about itself right after the secure handshake. */
export interface NodeInfo {
  /** Must equal the id proven in the secure handshake. */
  readonly id: string;
  /** Nodes only connect within one network (e.g. 'meshlink-demo'). */
  readonly network: string;
  /** Semantic version of the p2p protocol; a different major version is incompatible. */
  readonly protocolVersion: string;
  /** Channel ids this node's agents use. */
  readonly channels: readonly number[];
  /**
   * The largest message (bytes) this node accepts on each of `channels`, in the same order: its
   * recvMessageCapacity. (A parallel array rather than descriptors, so that `channels` keeps the
   * shape protocol 1 peers parse, and they can report the version mismatch instead of a bad field.)
   */
  readonly recvMessageCapacities: readonly number[];
  /**
   * Messages a second this node takes from one peer on each of `channels`, sustained and at once, in the
   * same order (0: none announced). Absent from nodes before them: peers then assume their defaults.
   * The peer's word only: what paces to it must bound it (SignalAgent does).
   */
  readonly recvMessagesPerSecond?: readonly number[];
  readonly recvMessageBursts?: readonly number[];
  /**
   * Bytes a second this node reads from one peer (its `connection.recvRateBytesPerSec`, as its receive
   * limit charges them: each frame at least 1 KiB, each message at least 128 B); absent or 0: no limit.
   * A peer paces its sending to it, so that a receiver that cannot stop its link from reading (a page)
   * need not cut an honest sender. The peer's word only: what paces to it bounds it (send-pacing.ts).
   */
  readonly recvBytesPerSecond?: number;
  /** Addresses where this node accepts connections, with its id. */
  readonly listenAddresses: readonly string[];
  /** Human-readable name. */
  readonly moniker: string;
  /** Software name and version, e.g. 'meshlink/0.1.0'. */
  readonly software: string;
}

/**
 * 2.0.0: NodeInfo carries `recvMessageCapacities`, and MConnection has the close packet (0x05). A
 * 1.x peer is refused with ERR_INCOMPATIBLE_PEER on both ends (each reads the other's version first).
 */
export const PROTOCOL_VERSION = '2.0.0';
export const SOFTWARE_VERSION = 'meshlink/0.1.0';
export const MAX_NODE_INFO_BYTES = 16 * 1024;
export const MAX_LISTEN_ADDRESSES = 16;
export const MAX_MONIKER_LENGTH = 64;
/**
 * Characters of listen addresses one NodeInfo may have us parse; those past it are dropped, as bad ones
 * are. A node's own few addresses take a few hundred; 16 of 1 KiB, each parsed here, for its wildcard
 * host and again by PEX's book, made every new connection cost 2.3 ms (a query of 120 parameters, ~20
 * times the key exchange and signatures of the handshake), for a peer that can reconnect at will.
 */
export const MAX_LISTEN_ADDRESS_CHARS = 4 * 1024;
const MAX_NETWORK_LENGTH = 64;
const MAX_NODE_INFO_CHANNELS = 256;
/** Largest announced rate or burst accepted in a NodeInfo; what uses them bounds them much lower. */
export const MAX_ANNOUNCED_MESSAGE_RATE = 1_000_000;
/**
 * Largest announced receive rate accepted in a NodeInfo (1 TiB/s, no limit in practice); a node limited
 * to more announces this.
 */
export const MAX_ANNOUNCED_RECV_BYTES_PER_SECOND = 2 ** 40;
/** A NodeInfo is a flat map with four arrays by channel and one of addresses: anything deeper or wider is an attack. */
export const NODE_INFO_DECODE_LIMITS = resolveDecodeLimits({
  maxBytes: MAX_NODE_INFO_BYTES,
  maxDepth: 2,
  maxElements: 2 * 32 + 4 * MAX_NODE_INFO_CHANNELS + MAX_LISTEN_ADDRESSES,
  maxStringBytes: 4 * 1024,
  maxBinaryBytes: 0,
});

function fail(why: string, peerId?: string): never {
  throw new HandshakeError('ERR_HANDSHAKE', `Invalid NodeInfo: ${why}`, { peerId });
}

/**
 * Checks the shape of a decoded NodeInfo (it came from an untrusted peer) and returns a clean copy.
 * Listen addresses that do not parse, or that name another node, are dropped rather than failing the
 * handshake: they matter only to PEX, which validates again.
 */
export function parseNodeInfo(value: unknown, peerId?: string): NodeInfo {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not a map', peerId);
  const record = value as Record<string, unknown>;
  const { id, network, protocolVersion, channels, recvMessageCapacities, recvMessagesPerSecond, recvMessageBursts, recvBytesPerSecond, listenAddresses, moniker, software } = record;
  if (!isNodeId(id)) fail('id is not a node id', peerId);
  if (typeof network !== 'string' || network.length === 0 || network.length > MAX_NETWORK_LENGTH) fail('bad network', peerId);
  if (typeof protocolVersion !== 'string' || !/^\d{1,6}\.\d{1,6}\.\d{1,6}$/.test(protocolVersion)) fail('bad protocolVersion', peerId);
  // Another major version may shape the other fields differently: say so rather than "bad field".
  checkProtocolVersion(PROTOCOL_VERSION, protocolVersion, id);
  if (!Array.isArray(channels) || channels.length > MAX_NODE_INFO_CHANNELS) fail('bad channels', peerId);
  const channelSet = new Set<number>();
  for (const channel of channels) {
    if (!Number.isInteger(channel) || (channel as number) < 0 || (channel as number) > 255 || channelSet.has(channel as number)) {
      fail('bad channel id', peerId);
    }
    channelSet.add(channel as number);
  }
  if (!Array.isArray(recvMessageCapacities) || recvMessageCapacities.length !== channels.length) fail('bad recvMessageCapacities', peerId);
  for (const capacity of recvMessageCapacities) {
    if (!Number.isInteger(capacity) || (capacity as number) < 1 || (capacity as number) > MAX_RECV_MESSAGE_CAPACITY_BYTES) {
      fail('bad recvMessageCapacity', peerId);
    }
  }
  const rates = parseAnnouncedRates(recvMessagesPerSecond, recvMessageBursts, channels.length, peerId);
  if (recvBytesPerSecond !== undefined && !(typeof recvBytesPerSecond === 'number' && recvBytesPerSecond >= 0 && recvBytesPerSecond <= MAX_ANNOUNCED_RECV_BYTES_PER_SECOND)) {
    fail('bad recvBytesPerSecond', peerId);
  }
  if (!Array.isArray(listenAddresses) || listenAddresses.length > MAX_LISTEN_ADDRESSES) fail('bad listenAddresses', peerId);
  const addresses: string[] = [];
  let chars = 0;
  for (const address of listenAddresses) {
    if (typeof address !== 'string') fail('listen address is not a string', peerId);
    chars += address.length;
    if (chars > MAX_LISTEN_ADDRESS_CHARS) continue;
    const normal = parseNormalized(address);
    if (normal !== undefined && normal.address.nodeId === id) addresses.push(normal.text);
  }
  if (typeof moniker !== 'string' || moniker.length > MAX_MONIKER_LENGTH) fail('bad moniker', peerId);
  if (typeof software !== 'string' || software.length > MAX_MONIKER_LENGTH) fail('bad software', peerId);
  return {
    id,
    network,
    protocolVersion,
    channels: [...channelSet],
    recvMessageCapacities: recvMessageCapacities as number[],
    ...rates,
    ...(recvBytesPerSecond === undefined ? {} : { recvBytesPerSecond }),
    listenAddresses: addresses,
    moniker: printable(moniker),
    software: printable(software),
  };
}

/**
 * Our NodeInfo's announced rates, from the channels whose agents declare them; none when no channel
 * does (a NodeInfo an older node built the same way). Each at most MAX_ANNOUNCED_MESSAGE_RATE: peers
 * refuse a NodeInfo past it, so an agent configured higher (a relay taking "any" rate, 2e6 a second)
 * had every handshake fail, ours and theirs; announcing the cap says as much (peers bound it far lower).
 */
export function announcedRates(channels: readonly ChannelDescriptor[]): Pick<NodeInfo, 'recvMessagesPerSecond' | 'recvMessageBursts'> {
  const both = (c: ChannelDescriptor): boolean => c.recvMessagesPerSecond !== undefined && c.recvMessageBurst !== undefined;
  if (!channels.some(both)) return {};
  const announced = (value: number | undefined): number => Math.min(value!, MAX_ANNOUNCED_MESSAGE_RATE);
  return {
    recvMessagesPerSecond: channels.map((c) => (both(c) ? announced(c.recvMessagesPerSecond) : 0)),
    recvMessageBursts: channels.map((c) => (both(c) ? announced(c.recvMessageBurst) : 0)),
  };
}

/**
 * The announced rates, both or neither (a node before them sends neither): one number ≥ 0 per channel
 * each, at most MAX_ANNOUNCED_MESSAGE_RATE. Anything else is a bad NodeInfo.
 */
function parseAnnouncedRates(
  perSecond: unknown,
  bursts: unknown,
  channelCount: number,
  peerId: string | undefined,
): Pick<NodeInfo, 'recvMessagesPerSecond' | 'recvMessageBursts'> {
  if (perSecond === undefined && bursts === undefined) return {};
  for (const values of [perSecond, bursts]) {
    if (!Array.isArray(values) || values.length !== channelCount) fail('bad announced message rates', peerId);
    for (const value of values) {
      if (typeof value !== 'number' || !(value >= 0 && value <= MAX_ANNOUNCED_MESSAGE_RATE)) fail('bad announced message rate', peerId);
    }
  }
  return { recvMessagesPerSecond: perSecond as number[], recvMessageBursts: bursts as number[] };
}

/** Rejects a peer we cannot talk to: another network, another protocol major version. */
export function checkCompatible(local: NodeInfo, remote: NodeInfo): void {
  if (local.network !== remote.network) {
    throw new HandshakeError('ERR_INCOMPATIBLE_PEER', `Peer is on network "${printable(remote.network)}", we are on "${local.network}"`, {
      peerId: remote.id,
      detail: { reason: 'network', local: local.network, remote: printable(remote.network) },
    });
  }
  checkProtocolVersion(local.protocolVersion, remote.protocolVersion, remote.id);
}

function checkProtocolVersion(local: string, remote: string, peerId: string): void {
  const major = (version: string): string => version.split('.')[0]!;
  if (major(local) !== major(remote)) {
    throw new HandshakeError('ERR_INCOMPATIBLE_PEER', `Peer speaks protocol ${remote}, incompatible with our ${local}: upgrade the older node`, {
      peerId,
      detail: { reason: 'protocol-version', local, remote },
    });
  }
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/** Whether a normal form (parseNodeInfo's) may have a wildcard host: only those are parsed again. */
function mayBeWildcard(normal: string): boolean {
  return normal.includes('0.0.0.0:') || normal.includes('[::]:');
}

/**
 * A node listening on 0.0.0.0 or :: advertises that wildcard with its port; nobody can dial it. As
 * CometBFT does, substitute the host we actually reach the peer at (the link's remote host), so the
 * addresses kept in Peer.nodeInfo (and handed on by PEX) are dialable.
 */
export function resolveWildcardHosts(info: NodeInfo, linkRemoteAddress: string): NodeInfo {
  const remoteHost = endpointHost(linkRemoteAddress);
  if (remoteHost === undefined || !info.listenAddresses.some(mayBeWildcard)) return info;
  const listenAddresses = info.listenAddresses.map((text) => {
    if (!mayBeWildcard(text)) return text;
    const address = parseAddress(text);
    return WILDCARD_HOSTS.has(address.host) ? formatAddress({ ...address, host: remoteHost }) : text;
  });
  return { ...info, listenAddresses: [...new Set(listenAddresses)] };
}


/**
 * What a node tells its peers about itself in the handshake (Switch.nodeInfo). Its connections' receive
 * limit (`connection.recvRateBytesPerSec`) is announced when set (0: none, and nothing announced).
 */
export function localNodeInfo(
  nodeId: string,
  network: string,
  moniker: string,
  channels: readonly ChannelDescriptor[],
  addresses: readonly string[],
  connection: Partial<MConnectionConfig> = {},
): NodeInfo {
  const { recvRateBytesPerSec } = sharedMConnectionConfig(connection);
  return {
    id: nodeId,
    network,
    protocolVersion: PROTOCOL_VERSION,
    channels: channels.map((c) => c.id),
    recvMessageCapacities: channels.map((c) => c.recvMessageCapacity ?? DEFAULT_RECV_MESSAGE_CAPACITY_BYTES),
    ...announcedRates(channels),
    ...(recvRateBytesPerSec > 0 ? { recvBytesPerSecond: Math.min(recvRateBytesPerSec, MAX_ANNOUNCED_RECV_BYTES_PER_SECOND) } : {}),
    listenAddresses: addresses.slice(0, 16),
    moniker,
    software: SOFTWARE_VERSION,
  };
}
