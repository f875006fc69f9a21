import { endpointHost, endpointHostGroup, endpointRelay } from './address.js';
import { classifyHost, hostPlace } from './ip.js';

/**
 * Who holds a pending slot: its host group (an IPv4 address or IPv6 /64, what the per-host cap counts)
 * and the network that host is in (an IPv4 /16 or IPv6 /32, the address book's groups); for a WebRTC
 * link, both are its relay's (see webrtcHolderOf). Both undefined when the transport names no host
 * (in-memory links).
 */
export interface SlotHolder {
  readonly host: string | undefined;
  readonly network: string | undefined;
}

/**
 * The holder a connected peer stands for, by its node id (what the Switch fixed when the peer arrived);
 * undefined when no peer of that id is connected.
 */
export type RelayHolderLookup = (relayId: string) => SlotHolder | undefined;

const NOBODY: SlotHolder = Object.freeze({ host: undefined, network: undefined });

/**
 * The holder of every WebRTC link whose relay is not connected (it left while the link was being set up,
 * or nobody could look it up): one host and one network for all of them. Grouped by the relay's id
 * instead, a host of many keys could negotiate through one relay key per link and drop each relay before
 * the link came in, each link a network of its own again; this way such links only compete among
 * themselves. A peer keeps the holder it arrived with, so a relay leaving later changes nothing.
 */
export const UNATTRIBUTED_RELAY_HOLDER: SlotHolder = Object.freeze({ host: 'via:?', network: 'via:?' });

/**
 * The holder a remote endpoint (`1.2.3.4:5`, `[::1]:5`, `webrtc://<id>?via=<relay>`) stands for. An
 * IPv6 address with an IPv4 inside (NAT64, 6to4, Teredo) is that IPv4's host, as it is that IPv4's
 * network: by its /64, every IPv4 peer reaching an IPv6-only node through a NAT64 or SIIT prefix
 * (64:ff9b::a.b.c.d) was one host, all held to one host's cap, and a host of two networks (the last one
 * taken named it) that the busiest network could not find. `relays` finds a WebRTC link's relay.
 */
export function slotHolderOf(remoteAddress: string, relays?: RelayHolderLookup): SlotHolder {
  const address = endpointHost(remoteAddress);
  if (address === undefined) return webrtcHolderOf(remoteAddress, relays);
  const { family, group } = classifyHost(address);
  const host = family === 'ipv6' && group.startsWith('ipv4:') ? hostPlace(address) : endpointHostGroup(remoteAddress);
  return { host, network: group };
}

/**
 * A WebRTC link's holder: its relay's host and network (the relay is a connected peer: its remote
 * address's IPv4 /32 and /16, or IPv6 /64 and /32), as every peer one relay introduces could be that
 * relay's. Grouped by the relay's id, as they were, a host of many keys acting as many relays made as
 * many networks, one per key, and got that many shares of inbound slots, pending pools and relay
 * fairness. A relay that names no network (an in-memory link) is a group of its own, as such a peer is;
 * a relay not connected: UNATTRIBUTED_RELAY_HOLDER. Without a host, such links counted against no
 * per-host cap, could never be pushed out, and each could push out a pending IP link.
 */
function webrtcHolderOf(remoteAddress: string, relays: RelayHolderLookup | undefined): SlotHolder {
  const relay = endpointRelay(remoteAddress);
  if (relay === undefined) return NOBODY;
  const held = relays?.(relay);
  if (held === undefined) return UNATTRIBUTED_RELAY_HOLDER;
  if (held.network === undefined) {
    const own = `via:${relay}`;
    return { host: own, network: own };
  }
  return { host: held.host ?? held.network, network: held.network };
}

/**
 * Pending connections counted per host group and per network, for pools that cap them per host and
 * in all: the Switch's handshakes, the ws server's HTTP upgrades. An entry exists only while its host
 * (or network) holds a slot, so the maps are bounded by the pool.
 */
export class HostSlots {
  private readonly byHost = new Map<string, number>();
  private readonly byNetwork = new Map<string, number>();
  private readonly networkOfHost = new Map<string, string | undefined>();

  /** Host groups holding a slot. */
  get size(): number {
    return this.byHost.size;
  }

  /** Slots `host` holds now (0 for undefined: a transport that names no host). */
  held(host: string | undefined): number {
    return host === undefined ? 0 : (this.byHost.get(host) ?? 0);
  }

  take(holder: SlotHolder): void {
    if (holder.host === undefined) return;
    this.byHost.set(holder.host, this.held(holder.host) + 1);
    this.networkOfHost.set(holder.host, holder.network);
    if (holder.network !== undefined) this.byNetwork.set(holder.network, this.heldByNetwork(holder.network) + 1);
  }

  give(holder: SlotHolder): void {
    if (holder.host === undefined) return;
    const left = this.held(holder.host) - 1;
    if (left > 0) this.byHost.set(holder.host, left);
    else {
      this.byHost.delete(holder.host);
      this.networkOfHost.delete(holder.host);
    }
    if (holder.network === undefined) return;
    const leftInNetwork = this.heldByNetwork(holder.network) - 1;
    if (leftInNetwork > 0) this.byNetwork.set(holder.network, leftInNetwork);
    else this.byNetwork.delete(holder.network);
  }

  /**
   * The host group to take a slot from when the pool is full, for a newcomer from `newcomer`: of the
   * hosts holding more than the newcomer's host, the busiest of the network holding the most, if that
   * network holds more than the newcomer's or is the newcomer's own. Undefined when there is none.
   * Counting networks first means one operator's many addresses (a /16 or an IPv6 /32: a cloud block, a
   * /48 of 65,536 /64s) take turns among themselves: a newcomer from there cannot push out a connection
   * from another network. Counting hosts too means one address takes no more than its share of a
   * busier network: compared by network alone, a host holding k slots could push out links of hosts
   * holding one each, up to the per-host cap, for as long as their network held more.
   */
  busiest(newcomer: SlotHolder): string | undefined {
    const newcomerHolds = this.held(newcomer.host);
    const newcomerNetworkHolds = this.heldByNetwork(newcomer.network);
    let busiest: string | undefined;
    let [inBusiestNetwork, inBusiestHost] = [0, 0];
    for (const [host, count] of this.byHost) {
      if (count <= newcomerHolds) continue;
      const network = this.networkOfHost.get(host);
      const inNetwork = this.heldByNetwork(network);
      if (network !== newcomer.network && inNetwork <= newcomerNetworkHolds) continue;
      if (inNetwork > inBusiestNetwork || (inNetwork === inBusiestNetwork && count > inBusiestHost)) [busiest, inBusiestNetwork, inBusiestHost] = [host, inNetwork, count];
    }
    return busiest;
  }

  private heldByNetwork(network: string | undefined): number {
    return network === undefined ? 0 : (this.byNetwork.get(network) ?? 0);
  }
}
