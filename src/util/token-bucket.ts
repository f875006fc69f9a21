/**
 * A token bucket as plain state, for the many small ones keyed by peers and relays (a record each,
 * no class instance): `tokens`, and when they were last counted.
 */
export interface TokenBucketState {
  tokens: number;
  updatedAt: number;
}

/** A bucket holding its whole burst. */
export function fullBucket(capacity: number, now: number): TokenBucketState {
  return { tokens: capacity, updatedAt: now };
}

/**
 * Counts the tokens earned since the last count (`ratePerMs` each millisecond, up to `capacity`) and
 * says whether one is there to spend; spending is the caller's `tokens -= 1`, so a take from two
 * buckets can check both first. A wall clock that steps back is no time passing, never a debt.
 */
export function refillBucket(bucket: TokenBucketState, capacity: number, ratePerMs: number, now: number): boolean {
  bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.updatedAt) * ratePerMs);
  bucket.updatedAt = now;
  return bucket.tokens >= 1;
}
