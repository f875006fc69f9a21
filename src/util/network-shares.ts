import { fullBucket, refillBucket, type TokenBucketState } from './token-bucket.js';

export interface NetworkSharesOptions {
  /** The total: what may be taken at once, and a millisecond sustained. */
  readonly burst: number;
  readonly ratePerMs: number;
  /** A network counts as one of those drawing on the total for this long after it last asked. */
  readonly activeMs: number;
  /** Networks holding a seat (the most recent askers): one pushed out rests. */
  readonly maxNetworks: number;
  /**
   * Networks kept resting (the most recent): quiet for `activeMs` or pushed out of the seats, they hold
   * no seat but keep their share for when they ask again, so a network that comes back is not a newcomer.
   * One pushed out of these is a newcomer again. 0: none kept.
   */
  readonly maxRestingNetworks: number;
  /**
   * A network new to the shares takes the newcomers' seat whole (its tokens become its own share), not
   * one token of it. For takes that come in bursts (a WebRTC negotiation's dozen signals at once): a
   * newcomer whose share starts empty would get its first through and lose the rest.
   */
  readonly newcomerTakesSeat: boolean;
}

/** A network that asked within `activeMs` (or rests), and its share's tokens. */
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
 * /32) are not. Bounded: `maxNetworks`, `maxRestingNetworks`.
 *
 * A network quiet for `activeMs` gives up its seat (the others' shares grow) and its tokens (what quiet
 * networks leave unused) but is remembered with its share as it was: asking again, it takes that share
 * back, with its time away's refill, as far as the total still holds it beyond every share (resting, it
 * held no seat: what it left unused was free to take meanwhile), never the newcomers' seat. Forgotten,
 * networks taking turns to go quiet for `activeMs` each took the newcomers' seat at every return, and a
 * network truly new found it empty. Kept back while resting, remembered tokens left one active network
 * half the lane; handed back whole, what others had taken from the total was spent twice, the total then
 * held less than the shares, and a network within its share got nothing while the returners spent.
 */
export class NetworkShares {
  private readonly total: TokenBucketState;
  private readonly newcomers: TokenBucketState;
  /** Least recently asked first. */
  private readonly networks = new Map<string, ActiveNetwork>();
  /** Networks without a seat whose shares are remembered, least recently asked first (see the class comment). */
  private readonly resting = new Map<string, ActiveNetwork>();

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

  /** Networks resting (no seat, their share remembered): for tests. */
  get restingNetworks(): number {
    return this.resting.size;
  }

  /**
   * Takes one for `network` when its share, or what the total holds beyond every share, has one; false
   * (nothing taken) otherwise, or when `mayTake` is false (the caller refuses for a reason of its own):
   * either way `network` counts as asking now, as a network waiting for its share.
   */
  take(network: string, now: number, mayTake = true): boolean {
    const { burst, ratePerMs } = this.options;
    this.restQuiet(now);
    const asker = this.networks.get(network);
    const returning = asker === undefined ? this.wake(network) : undefined;
    const seats = this.networks.size + (asker === undefined ? 1 : 0) + 1;
    const seatBurst = Math.max(1, burst / seats);
    refillBucket(this.total, burst, ratePerMs, now);
    let held = 0;
    for (const share of [this.newcomers, ...[...this.networks.values()].map((active) => active.share)]) {
      refillBucket(share, seatBurst, ratePerMs / seats, now);
      held += share.tokens;
    }
    if (returning !== undefined) {
      // What it kept and what it earned away, only from what the total holds beyond every share: resting,
      // its tokens were no share's, and others took them from the total; kept whole, they were spent twice.
      const share = returning.share;
      const earned = Math.max(0, now - share.updatedAt) * (ratePerMs / seats);
      share.tokens = Math.max(0, Math.min(share.tokens + earned, seatBurst, this.total.tokens - held));
      share.updatedAt = now;
      held += share.tokens;
    }
    const seat = this.asked(network, asker ?? returning, now);
    if (!mayTake || this.total.tokens < 1) return false;
    if (seat.tokens >= 1) seat.tokens -= 1;
    // Past its share: only what no share holds.
    else if (this.total.tokens - 1 < held) return false;
    this.total.tokens -= 1;
    return true;
  }

  /** Marks `network` as asking now (a refused ask too); the seat its take comes from. */
  private asked(network: string, known: ActiveNetwork | undefined, now: number): TokenBucketState {
    const active = known ?? { share: { tokens: 0, updatedAt: now }, askedAt: now };
    active.askedAt = now;
    this.networks.delete(network);
    this.networks.set(network, active);
    if (this.networks.size > this.options.maxNetworks) {
      const [oldest, pushedOut] = this.networks.entries().next().value!;
      this.networks.delete(oldest);
      this.rest(oldest, pushedOut);
    }
    if (known !== undefined) return active.share;
    if (!this.options.newcomerTakesSeat) return this.newcomers;
    // The seat's tokens move, so the shares still hold no more than the total.
    active.share.tokens = this.newcomers.tokens;
    this.newcomers.tokens = 0;
    return active.share;
  }

  /** `network` leaves its seat and rests (the oldest resting is forgotten past maxRestingNetworks). */
  private rest(network: string, active: ActiveNetwork): void {
    if (this.options.maxRestingNetworks === 0) return;
    this.resting.set(network, active);
    if (this.resting.size > this.options.maxRestingNetworks) this.resting.delete(this.resting.keys().next().value!);
  }

  /** `network`'s resting share, taken out of the resting ones; undefined when it is not resting. */
  private wake(network: string): ActiveNetwork | undefined {
    const resting = this.resting.get(network);
    if (resting === undefined) return undefined;
    this.resting.delete(network);
    return resting;
  }

  /** Rests the networks that have not asked within `activeMs` (they are first in the map). */
  private restQuiet(now: number): void {
    for (const [network, active] of this.networks) {
      if (now - active.askedAt < this.options.activeMs) break;
      this.networks.delete(network);
      this.rest(network, active);
    }
  }
}
