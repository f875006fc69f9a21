/**
 * Pending connections counted per host group (an IPv4 address or IPv6 /64), for pools that cap them
 * per host and in all: the Switch's handshakes, the ws server's HTTP upgrades. An entry exists only
 * while its host holds a slot, so the map is bounded by the pool.
 */
export class HostSlots {
  private readonly byHost = new Map<string, number>();

  /** Host groups holding a slot. */
  get size(): number {
    return this.byHost.size;
  }

  /** Slots `host` holds now (0 for undefined: a transport that names no host). */
  held(host: string | undefined): number {
    return host === undefined ? 0 : (this.byHost.get(host) ?? 0);
  }

  take(host: string | undefined): void {
    if (host !== undefined) this.byHost.set(host, this.held(host) + 1);
  }

  give(host: string | undefined): void {
    if (host === undefined) return;
    const left = this.held(host) - 1;
    if (left > 0) this.byHost.set(host, left);
    else this.byHost.delete(host);
  }

  /**
   * The host group to take a slot from when the pool is full: the one holding the most, if it holds
   * more than `newcomerHolds` (what the newcomer's host holds already); undefined when none does.
   * Taking the busiest host's oldest connection, rather than dropping the newcomer, means a few hosts'
   * silent connections cannot keep everyone else out: a host with one pending is the last to lose it.
   */
  busiest(newcomerHolds: number): string | undefined {
    let busiest: string | undefined;
    let most = newcomerHolds;
    for (const [host, count] of this.byHost) {
      if (count > most) [busiest, most] = [host, count];
    }
    return busiest;
  }
}
