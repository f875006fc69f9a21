import { endpointHost, endpointHostGroup } from './address.js';
import { classifyHost } from './ip.js';

/**
 * Who holds a pending slot: its host group (an IPv4 address or IPv6 /64, what the per-host cap counts)
 * and the network that host is in (an IPv4 /16 or IPv6 /32, the address book's groups). Both undefined
 * when the transport names no host.
 */
export interface SlotHolder {
  readonly host: string | undefined;
  readonly network: string | undefined;
}

const NOBODY: SlotHolder = { host: undefined, network: undefined };

/** The holder a remote endpoint (`1.2.3.4:5`, `[::1]:5`) stands for. */
export function slotHolderOf(remoteAddress: string): SlotHolder {
  const host = endpointHostGroup(remoteAddress);
  return host === undefined ? NOBODY : { host, network: classifyHost(endpointHost(remoteAddress)!).group };
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
   * The host group to take a slot from when the pool is full, for a newcomer from `newcomer`: the
   * busiest host of the network holding the most, if that network holds more than the newcomer's, or
   * if it is the newcomer's own network and that host holds more than the newcomer's host. Undefined
   * when there is none. Counting networks first means one operator's many addresses (a /16 or an IPv6
   * /32: a cloud block, a /48 of 65,536 /64s) take turns among themselves: a newcomer from there
   * cannot push out a connection from another network, while one from elsewhere always may.
   */
  busiest(newcomer: SlotHolder): string | undefined {
    let network: string | undefined;
    let most = 0;
    for (const [candidate, count] of this.byNetwork) {
      if (count > most) [network, most] = [candidate, count];
    }
    if (network === undefined) return this.busiestHost(undefined, this.held(newcomer.host));
    if (network !== newcomer.network) return most > this.heldByNetwork(newcomer.network) ? this.busiestHost(network, 0) : undefined;
    return this.busiestHost(network, this.held(newcomer.host));
  }

  private heldByNetwork(network: string | undefined): number {
    return network === undefined ? 0 : (this.byNetwork.get(network) ?? 0);
  }

  /** The host of `network` holding the most, if more than `newcomerHolds`. */
  private busiestHost(network: string | undefined, newcomerHolds: number): string | undefined {
    let busiest: string | undefined;
    let most = newcomerHolds;
    for (const [host, count] of this.byHost) {
      if (count > most && this.networkOfHost.get(host) === network) [busiest, most] = [host, count];
    }
    return busiest;
  }
}
