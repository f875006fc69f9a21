import { endpointHost, endpointHostGroup, endpointRelay } from './address.js';
import { classifyHost, hostPlace } from './ip.js';

/**
 * Who holds a pending slot: its host group (an IPv4 address or IPv6 /64, what the per-host cap counts)
 * and the network that host is in (an IPv4 /16 or IPv6 /32, the address book's groups); for a WebRTC
 * link, both are the relay it was negotiated through. Both undefined when the transport names no host
 * (in-memory links).
 */
export interface SlotHolder {
  readonly host: string | undefined;
  readonly network: string | undefined;
}

const NOBODY: SlotHolder = { host: undefined, network: undefined };

/**
 * The holder a remote endpoint (`1.2.3.4:5`, `[::1]:5`) stands for. An IPv6 address with an IPv4 inside
 * (NAT64, 6to4, Teredo) is that IPv4's host, as it is that IPv4's network: by its /64, every IPv4 peer
 * reaching an IPv6-only node through a NAT64 or SIIT prefix (64:ff9b::a.b.c.d) was one host, all held to
 * one host's cap, and a host of two networks (the last one taken named it) that the busiest network
 * could not find.
 */
export function slotHolderOf(remoteAddress: string): SlotHolder {
  const address = endpointHost(remoteAddress);
  if (address === undefined) return webrtcHolderOf(remoteAddress);
  const { family, group } = classifyHost(address);
  const host = family === 'ipv6' && group.startsWith('ipv4:') ? hostPlace(address) : endpointHostGroup(remoteAddress);
  return { host, network: group };
}

/**
 * A WebRTC link's relay, as one host and one network (as inbound eviction groups them): every peer one
 * relay introduces could be that relay's. Without a host they counted against no per-host cap, could
 * never be pushed out, and each could push out a pending IP link.
 */
function webrtcHolderOf(remoteAddress: string): SlotHolder {
  const relay = endpointRelay(remoteAddress);
  if (relay === undefined) return NOBODY;
  const group = `via:${relay}`;
  return { host: group, network: group };
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
