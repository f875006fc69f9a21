import { BoundedMap } from './bounded-map.js';
import { TokenBucket } from './token-bucket.js';

/**
 * What a peer may make the mempool take: txs and bytes a second, sustained and at once. Every tx taken
 * is passed on to every other peer, so without it one peer could make us flood the whole mesh.
 */
export interface Allowance {
  readonly txs: TokenBucket;
  readonly bytes: TokenBucket;
}

export interface AllowanceLimits {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
}

/**
 * Networks (peerNetworkGroup) whose departed peers' allowances are remembered, at most. An entry
 * counts until its buckets are full again (at most 2 s with the defaults: 200 txs at 100 a second), then
 * makes no difference and is dropped lazily (at the next peer from its network, or oldest first at a
 * departure); past this many, the oldest is forgotten (that network's next key starts full).
 */
export const DEPARTED_NETWORKS_REMEMBERED = 1024;

/**
 * Allowances for new peers, and what the departed peers of each network left of theirs. Keys are free
 * and a reconnect is cheap, so a full allowance per connection let one flooder take a fresh burst (200
 * txs, ~1 MiB) with every new key: 140 connections in 10 s had 28,000 txs passed on. A new peer from a
 * network a peer left recently starts with what that one left (the least any of them left), then
 * refills at the usual rate; an honest peer reconnecting left nearly a full allowance, so nothing
 * changes for it. A peer from another network starts full, as before. Networks, not hosts: the same
 * grouping the Switch evicts and the relay shares its pace by (IPv4 /16, IPv6 /32).
 */
export class Allowances {
  /** Network → the allowance its last departed peer holds (capped at what the earlier ones left). */
  private readonly departed = new BoundedMap<string, Allowance>(DEPARTED_NETWORKS_REMEMBERED);

  constructor(
    private readonly limits: AllowanceLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Networks remembered now. */
  get remembered(): number {
    return this.departed.size;
  }

  /** A new peer's allowance: full, or no fuller than what a departed peer of `network` left. */
  create(network: string | undefined): Allowance {
    const { ratePerSecond, burst, bytesPerSecond, burstBytes } = this.limits;
    const allowance = { txs: new TokenBucket(burst, ratePerSecond, this.now), bytes: new TokenBucket(burstBytes, bytesPerSecond, this.now) };
    const left = network === undefined ? undefined : this.departed.get(network);
    if (left === undefined) return allowance;
    if (isFull(left)) {
      this.departed.delete(network!);
      return allowance;
    }
    allowance.txs.capAt(left.txs.available);
    allowance.bytes.capAt(left.bytes.available);
    return allowance;
  }

  /**
   * Remembers what a peer of `network` left. The allowance itself is kept, not a copy: the txs it left
   * in the inbox are taken after it went (a peer cut for junk behind its flood), and spend it further.
   */
  depart(network: string | undefined, allowance: Allowance): void {
    if (network === undefined) return;
    const earlier = this.departed.get(network);
    if (earlier !== undefined) {
      allowance.txs.capAt(earlier.txs.available);
      allowance.bytes.capAt(earlier.bytes.available);
    }
    this.departed.set(network, allowance);
    this.forgetRefilled();
  }

  /** Drops the oldest entries that are full again (each a few comparisons; stops at the first that is not). */
  private forgetRefilled(): void {
    for (const [network, allowance] of this.departed.entries()) {
      if (!isFull(allowance)) return;
      this.departed.delete(network);
    }
  }
}

function isFull({ txs, bytes }: Allowance): boolean {
  return txs.available >= txs.capacity && bytes.available >= bytes.capacity;
}
