import { fullBucket, refillBucket, type TokenBucketState } from './token-bucket.js';

export interface NetworkSharesOptions {
  /** The total: what may be taken at once, and a millisecond sustained. */
  readonly burst: number;
  readonly ratePerMs: number;
  /** A network counts as one of those drawing on the total for this long after it last asked. */
  readonly activeMs: number;
  /** Networks kept (the most recent askers): one pushed out is a newcomer again. */
  readonly maxNetworks: number;
  /**
   * A network new to the shares takes the newcomers' seat whole (its tokens become its own share), not
   * one token of it. For takes that come in bursts (a WebRTC negotiation's dozen signals at once): a
   * newcomer whose share starts empty would get its first through and lose the rest.
   */
  readonly newcomerTakesSeat: boolean;
}

/** A network that asked within `activeMs`, and its share's tokens. */
interface ActiveNetwork {
  readonly share: TokenBucketState;
  askedAt: number;
}

/**
 * A token bucket (the total) split fairly between the networks drawing on it: those that asked within
 * `activeMs`, and one seat more for networks new to it, each earn an equal share of the total's rate and
 * burst. A take comes from the asker's share (a newcomer's from the newcomers' seat) and from the total,
 * which always holds at least what the shares hold; past its share a network takes only what the total
 * holds beyond every share (what quiet networks leave unused). So k networks flooding get k shares
 * between them, and any other network still gets its own: keys are free, networks (an IPv4 /16, an IPv6
 * /32) are not. Bounded: `maxNetworks`.
 */
export class NetworkShares {
  private readonly total: TokenBucketState;
  private readonly newcomers: TokenBucketState;
  /** Least recently asked first. */
  private readonly networks = new Map<string, ActiveNetwork>();

  constructor(
    private readonly options: NetworkSharesOptions,
    now: number,
  ) {
    this.total = fullBucket(options.burst, now);
    this.newcomers = fullBucket(options.burst, now);
  }

  /** Networks holding a share now. */
  get activeNetworks(): number {
    return this.networks.size;
  }

  /**
   * Takes one for `network` when its share, or what the total holds beyond every share, has one; false
   * (nothing taken) otherwise, or when `mayTake` is false (the caller refuses for a reason of its own):
   * either way `network` counts as asking now, as a network waiting for its share.
   */
  take(network: string, now: number, mayTake = true): boolean {
    const { burst, ratePerMs } = this.options;
    this.forgetQuiet(now);
    const asker = this.networks.get(network);
    const seats = this.networks.size + (asker === undefined ? 1 : 0) + 1;
    const seatBurst = Math.max(1, burst / seats);
    refillBucket(this.total, burst, ratePerMs, now);
    let held = 0;
    for (const share of [this.newcomers, ...[...this.networks.values()].map((active) => active.share)]) {
      refillBucket(share, seatBurst, ratePerMs / seats, now);
      held += share.tokens;
    }
    const seat = this.asked(network, asker, now);
    if (!mayTake || this.total.tokens < 1) return false;
    if (seat.tokens >= 1) seat.tokens -= 1;
    // Past its share: only what no share holds.
    else if (this.total.tokens - 1 < held) return false;
    this.total.tokens -= 1;
    return true;
  }

  /** Marks `network` as asking now (a refused ask too); the seat its take comes from. */
  private asked(network: string, asker: ActiveNetwork | undefined, now: number): TokenBucketState {
    const active = asker ?? { share: { tokens: 0, updatedAt: now }, askedAt: now };
    active.askedAt = now;
    this.networks.delete(network);
    this.networks.set(network, active);
    if (this.networks.size > this.options.maxNetworks) this.networks.delete(this.networks.keys().next().value!);
    if (asker !== undefined) return active.share;
    if (!this.options.newcomerTakesSeat) return this.newcomers;
    // The seat's tokens move, so the shares still hold no more than the total.
    active.share.tokens = this.newcomers.tokens;
    this.newcomers.tokens = 0;
    return active.share;
  }

  /** Drops the networks that have not asked within `activeMs` (they are first in the map). */
  private forgetQuiet(now: number): void {
    for (const [network, active] of this.networks) {
      if (now - active.askedAt < this.options.activeMs) break;
      this.networks.delete(network);
    }
  }
}
