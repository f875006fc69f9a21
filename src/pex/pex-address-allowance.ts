import { MAX_ADDRESS_ALLOWANCE_NETWORKS } from './constants.js';

/**
 * How many new book entries the answers from one network (the answering peer's network group: an IPv4
 * /16, an IPv6 /32) may still add: a token bucket per network, after Bitcoin Core's per-peer
 * m_addr_token_bucket. A network we have not heard from lately starts with `burst` (a first answer fills a
 * young book as before: Bitcoin grants 1000 tokens to the answer of its GETADDR); afterwards it earns
 * `perMinute`. Keyed by network, not by peer: keys are free, and a liar asked again and again (we ask
 * while the book is under needAddressThreshold) otherwise added up to 28 made-up nodes an answer, which
 * were most of an honest book in the simulator. Addresses past the allowance are ignored, not punished:
 * an honest peer's answer is mostly made of what we know already. At most MAX_ADDRESS_ALLOWANCE_NETWORKS
 * networks are remembered; one that earned its burst back is forgotten first, else the longest unused.
 */
export class AddressAllowance {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    private readonly burst: number,
    private readonly perMinute: number,
  ) {}

  /** The new entries `network` may add now. */
  available(network: string, nowMs: number): number {
    const bucket = this.buckets.get(network);
    if (bucket === undefined) return this.burst;
    // A clock that stepped back earns nothing until it has caught up.
    const earned = (Math.max(0, nowMs - bucket.atMs) * this.perMinute) / 60_000;
    return Math.min(this.burst, Math.floor(bucket.tokens + earned));
  }

  /** `network` added `count` new entries at `nowMs`. */
  spend(network: string, count: number, nowMs: number): void {
    if (count <= 0) return;
    const bucket = this.buckets.get(network);
    const earned = bucket === undefined ? this.burst : Math.min(this.burst, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) * this.perMinute) / 60_000);
    this.buckets.delete(network);
    this.buckets.set(network, { tokens: Math.max(0, earned - count), atMs: nowMs });
    if (this.buckets.size > MAX_ADDRESS_ALLOWANCE_NETWORKS) this.forgetOne(nowMs);
  }

  private forgetOne(nowMs: number): void {
    for (const [network] of this.buckets) {
      if (this.available(network, nowMs) >= this.burst) {
        this.buckets.delete(network);
        return;
      }
    }
    this.buckets.delete(this.buckets.keys().next().value!);
  }
}
