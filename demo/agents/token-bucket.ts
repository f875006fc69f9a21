/**
 * A token bucket: `capacity` tokens, refilled at `ratePerSecond`, one spent per accepted event. Used by
 * the demo agents to rate-limit what one peer may make us process; the clock is injectable for tests.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly capacity: number,
    readonly ratePerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(capacity >= 1) || !(ratePerSecond > 0)) throw new RangeError(`TokenBucket needs capacity ≥ 1 and rate > 0, got ${capacity} and ${ratePerSecond}`);
    this.tokens = capacity;
    this.updatedAt = now();
  }

  /** Spends `cost` tokens (one by default) if there are that many; false when over the rate. */
  take(cost = 1): boolean {
    if (!this.has(cost)) return false;
    this.tokens -= cost;
    return true;
  }

  /** Tokens there now. */
  get available(): number {
    this.has(0);
    return this.tokens;
  }

  /** Lowers the tokens to at most `level`: a bucket that must not start fuller than an older one. */
  capAt(level: number): void {
    this.tokens = Math.min(this.available, Math.max(0, level));
  }

  /** Whether `cost` tokens are there now, spending none (to check two buckets before taking from either). */
  has(cost = 1): boolean {
    const at = this.now();
    const elapsedMs = Math.max(0, at - this.updatedAt);
    this.updatedAt = at;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
    return this.tokens >= cost;
  }
}
