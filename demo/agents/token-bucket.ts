import { fullBucket, refillBucket, type TokenBucketState } from '../../src/util/token-bucket.js';

/**
 * A token bucket: `capacity` tokens, refilled at `ratePerSecond`, one spent per accepted event. Used by
 * the demo agents to rate-limit what one peer may make us process; the clock is injectable for tests.
 */
export class TokenBucket {
  private readonly state: TokenBucketState;

  constructor(
    readonly capacity: number,
    readonly ratePerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(capacity >= 1) || !(ratePerSecond > 0)) throw new RangeError(`TokenBucket needs capacity ≥ 1 and rate > 0, got ${capacity} and ${ratePerSecond}`);
    this.state = fullBucket(capacity, now());
  }

  /** Spends one token if there is one; false when over the rate. */
  take(): boolean {
    if (!refillBucket(this.state, this.capacity, this.ratePerSecond / 1000, this.now())) return false;
    this.state.tokens -= 1;
    return true;
  }
}
