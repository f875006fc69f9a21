import { parseAddress } from '../transport/address.js';
import { slotHolderOf, type RelayHolderLookup, type SlotHolder } from '../transport/host-slots.js';
import { addressGroup } from '../transport/ip.js';
import { INBOUND_EVICTION_PROTECTED_FRACTION } from './constants.js';
import type { Peer } from './peer.js';
import type { Direction } from './upgrade.js';

/**
 * The network an inbound link comes from, for eviction: the address book's groups, an IPv4 /16 or an
 * IPv6 /32 (as Bitcoin Core's netgroups: one operator's addresses, a cloud block or an IPv6 allocation,
 * fall in one, so owning many addresses does not make many networks), or for a WebRTC link the network
 * of the relay it was negotiated through (`webrtc://<id>?via=<relay>`: one relay's peers share a group,
 * as they could all be one relay's sybils, and relays on one network share it, as keys are free; see
 * slotHolderOf). Undefined when neither is known (in-memory links): such a peer is a group of its own.
 * The same network the pending pools count a link in.
 */
export function inboundHostGroup(remoteAddress: string, relays?: RelayHolderLookup): string | undefined {
  return slotHolderOf(remoteAddress, relays).network;
}

/**
 * What a peer arriving over a link from `remoteAddress` counts as (host and network), fixed for its life:
 * the link's endpoint; for a WebRTC link its relay's, as `relays` has it now (a relay leaving later
 * does not make its peers networks of their own); for an outbound link naming no host (in-memory), the
 * network of the address we dialled (`address`).
 */
export function arrivingPeerHolder(remoteAddress: string, direction: Direction, address: string, relays?: RelayHolderLookup): SlotHolder {
  const holder = slotHolderOf(remoteAddress, relays);
  if (holder.network !== undefined || direction === 'inbound') return holder;
  try {
    return { host: holder.host, network: addressGroup(parseAddress(address)) };
  } catch {
    return holder;
  }
}

/**
 * The network a connected peer is in, whichever side dialled (Peer.holder, fixed when it arrived): an
 * inbound peer's as inboundHostGroup finds it; an outbound peer's from its link's endpoint, else from the
 * address we dialled (the address book's group: the IPv4 /16, IPv6 /32, a DNS name's domain); a WebRTC
 * peer's relay's, either way. For agents that share something among networks rather than keys (the demo
 * mempool's relay pace). Undefined when the link names no network (in-memory inbound links). Loopback is
 * grouped like any IPv4 (127.0 and 127.2 are two networks): only processes on this machine can connect
 * from 127/8, and one group for all of it would buy nothing against a remote attacker while making local
 * tests unable to tell networks apart.
 */
export function peerNetworkGroup(peer: Peer): string | undefined {
  return (peer.holder ?? arrivingPeerHolder(peer.address, peer.direction, peer.address)).network;
}

export interface EvictionCandidate {
  readonly peer: Peer;
  readonly group: string | undefined;
}

/**
 * Whom to cut so that a newcomer from `newcomerGroup` may join when every inbound slot is taken, or
 * undefined (then the newcomer is refused). Without it, keys being free, one host could open
 * `maxInbound` connections and keep every other newcomer out for as long as it stayed (as Bitcoin
 * Core's eviction, on a smaller scale):
 * - persistent peers and the oldest peers, one per group, up to a quarter of `maxInbound`, are kept;
 * - the newcomer must come from a group holding at least two fewer inbound peers than the largest
 *   (after the swap no group is larger than the one it came from, so two groups never take turns);
 * - the youngest unprotected peer of the largest such group goes (ties: the youngest of them).
 */
export function pickInboundToEvict(inbound: readonly EvictionCandidate[], newcomerGroup: string | undefined, maxInbound: number, isPersistent: (peer: Peer) => boolean): Peer | undefined {
  const groupOf = (candidate: EvictionCandidate): string => candidate.group ?? `peer:${candidate.peer.id}`;
  const sizes = new Map<string, number>();
  for (const candidate of inbound) sizes.set(groupOf(candidate), (sizes.get(groupOf(candidate)) ?? 0) + 1);
  const newcomerSize = newcomerGroup === undefined ? 0 : (sizes.get(newcomerGroup) ?? 0);
  // Monotonic: after a wall-clock step back, the peers arriving next would sort as the oldest and take the protected slots.
  const oldestFirst = [...inbound].sort((a, b) => a.peer.connectedAtMonotonic - b.peer.connectedAtMonotonic);
  const protectedPeers = new Set<Peer>();
  const protectedGroups = new Set<string>();
  const protectedCount = Math.max(1, Math.floor(maxInbound * INBOUND_EVICTION_PROTECTED_FRACTION));
  for (const candidate of oldestFirst) {
    if (protectedPeers.size >= protectedCount) break;
    if (isPersistent(candidate.peer) || protectedGroups.has(groupOf(candidate))) continue;
    protectedPeers.add(candidate.peer);
    protectedGroups.add(groupOf(candidate));
  }
  let victim: EvictionCandidate | undefined;
  for (const candidate of oldestFirst) {
    if (protectedPeers.has(candidate.peer) || isPersistent(candidate.peer)) continue;
    const size = sizes.get(groupOf(candidate))!;
    if (size < newcomerSize + 2) continue;
    // Oldest first, so a later candidate of an equal group is younger.
    if (victim === undefined || size >= sizes.get(groupOf(victim))!) victim = candidate;
  }
  return victim?.peer;
}
