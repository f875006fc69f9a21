import { RATE_LIMIT_BURST_MS } from './constants.js';
import { systemClock } from '../util/clock.js';

/**
 * A token bucket in bytes. `bytesPerSec` 0 means unlimited. Consumers wait until `delayMs()` is 0,
 * then pass at most `capacity` bytes and `take()` them; the bucket may go negative by that one batch
 * and the debt is waited off before the next, so the rate holds over any window longer than a burst.
 */
export class RateLimiter {
  private tokens: number;
  private lastRefillMs: number;
  /** Bucket depth in bytes; also the largest batch that should pass at once. */
  readonly capacity: number;

  constructor(
    readonly bytesPerSec: number,
    /** Milliseconds; the connection passes its clock's. */
    private readonly now: () => number = systemClock.now,
  ) {
    this.capacity = Math.max(1024, Math.floor((bytesPerSec * RATE_LIMIT_BURST_MS) / 1000));
    this.tokens = this.capacity;
    this.lastRefillMs = now();
  }

  get unlimited(): boolean {
    return this.bytesPerSec <= 0;
  }

  /** Milliseconds until a batch may pass (0 = now). */
  delayMs(): number {
    if (this.unlimited) return 0;
    this.refill();
    return this.tokens > 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerSec) + 1;
  }

  /** Milliseconds until the bucket holds at least `bytes` (at most `capacity`) again (0 = now). */
  delayUntilMs(bytes: number): number {
    if (this.unlimited) return 0;
    this.refill();
    const wanted = Math.min(bytes, this.capacity);
    return this.tokens >= wanted ? 0 : Math.ceil(((wanted - this.tokens) * 1000) / this.bytesPerSec) + 1;
  }

  take(bytes: number): void {
    if (this.unlimited) return;
    this.refill();
    this.tokens -= bytes;
  }

  private refill(): void {
    const now = this.now();
    // A wall clock may step back: that is no time passing, never a debt.
    const elapsed = Math.max(0, now - this.lastRefillMs);
    this.lastRefillMs = now;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.bytesPerSec) / 1000);
  }
}

/** An unlimited bucket keeps no state: one serves every connection without a rate limit. */
const UNLIMITED = new RateLimiter(0);

/** A bucket for `bytesPerSec` (0 = unlimited, then the shared stateless one). */
export function rateLimiter(bytesPerSec: number, now: () => number): RateLimiter {
  return bytesPerSec <= 0 ? UNLIMITED : new RateLimiter(bytesPerSec, now);
}
