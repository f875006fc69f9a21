import { parseAddress } from '../transport/address.js';
import { classifyAddress } from '../transport/ip.js';
import { FAILING_NETWORK_STREAK, MAX_FAILING_NETWORKS } from './constants.js';

/**
 * Public networks (the book's group: IPv4 /16, IPv6 /32, a DNS name's registered domain) where our last
 * dials all failed, none reaching a meshlink node since. Node ids are free to make up, so a peer may
 * name any number of "nodes" at a victim that is no meshlink node (a web server's ports, every host of
 * its /24, names pointing at it): each address backs off on its own, but one victim had a dial from
 * each node that heard of it every round or two for as long as made-up ids kept coming (Bitcoin's
 * addrman has the same gap). After FAILING_NETWORK_STREAK failures in a row a network waits before
 * our next dial into it, `baseMs` doubling with each further failure up to `maxMs`; a dial that
 * connects there ends its streak. While the failures span more than one address, PEX answers leave out
 * the addresses there that we never reached (isFailing). Local and WebRTC addresses are not counted (no
 * stranger is dialled there: a testnet on one machine, a page through its relay). Bounded: the network
 * failing longest ago is forgotten first. Times are the agent's paceNow (never steps), kept in memory only.
 */
export class FailingNetworks {
  /** Per network: failed dials in a row, the last one's time, the first one's address, and whether another address failed since. */
  private readonly streaks = new Map<string, { failures: number; lastFailureAt: number; firstAddress: string; manyAddresses: boolean }>();

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly capacity = MAX_FAILING_NETWORKS,
  ) {}

  failed(address: string, nowMs: number): void {
    const network = publicNetworkOf(address);
    if (network === undefined) return;
    const streak = this.streaks.get(network);
    const firstAddress = streak?.firstAddress ?? address;
    this.streaks.delete(network);
    this.streaks.set(network, { failures: (streak?.failures ?? 0) + 1, lastFailureAt: nowMs, firstAddress, manyAddresses: streak?.manyAddresses === true || address !== firstAddress });
    if (this.streaks.size > this.capacity) this.streaks.delete(this.streaks.keys().next().value!);
  }

  reached(address: string): void {
    const network = publicNetworkOf(address);
    if (network !== undefined) this.streaks.delete(network);
  }

  /**
   * Whether our last dials into the address's network all failed, at more than one address: made-up nodes
   * there, not one node that left (whose address backs off, and turns bad, on its own; withheld from our
   * answers as soon as it failed twice, it made the many-node simulator's churn cost 5–35 % more failed dials).
   * Only within `maxMs` (the longest wait) of the last failure: a node at its outbound target may not dial
   * there again for hours, and two made-up nodes anywhere in an honest network (a residential /16, an
   * ISP's IPv6 /32) had every address there we never reached left out of our answers for all that time.
   */
  isFailing(address: string, nowMs: number): boolean {
    const network = publicNetworkOf(address);
    const streak = network === undefined ? undefined : this.streaks.get(network);
    return streak !== undefined && streak.failures >= FAILING_NETWORK_STREAK && streak.manyAddresses && nowMs - streak.lastFailureAt < this.maxMs;
  }

  /** How long until the address's network may be dialled again: 0 when it is not failing or its wait is over. */
  waitMs(address: string, nowMs: number): number {
    return this.groupWaitMs(publicNetworkOf(address), nowMs);
  }

  /**
   * waitMs for a book entry, by its network group (KnownAddressInfo.group: its address's, parsed when it
   * came in), so that the planner's look at every entry in the book parses none: a seed's crawl round over
   * a book of 54,000 long addresses spent 300–400 ms more parsing them while any network was failing.
   * Groups of local and WebRTC addresses are never counted, so they never wait.
   */
  groupWaitMs(group: string | undefined, nowMs: number): number {
    const streak = group === undefined ? undefined : this.streaks.get(group);
    if (streak === undefined || streak.failures < FAILING_NETWORK_STREAK) return 0;
    const wait = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(streak.failures - FAILING_NETWORK_STREAK, 30));
    return Math.max(0, streak.lastFailureAt + wait - nowMs);
  }
}

function publicNetworkOf(address: string): string | undefined {
  try {
    const parsed = parseAddress(address);
    const { scope, group } = classifyAddress(parsed);
    return scope === 'public' && parsed.protocol !== 'webrtc' ? group : undefined;
  } catch {
    return undefined;
  }
}
