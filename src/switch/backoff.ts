import { RECONNECT_BASE_DELAY_MS, RECONNECT_JITTER_RATIO, RECONNECT_MAX_DELAY_MS } from './constants.js';

export interface BackoffPolicy {
  /** @default 500 */
  baseDelayMs: number;
  /** @default 60000 */
  maxDelayMs: number;
  /** @default 0.25 */
  jitterRatio: number;
}

export const DEFAULT_BACKOFF_POLICY: Readonly<BackoffPolicy> = Object.freeze({
  baseDelayMs: RECONNECT_BASE_DELAY_MS,
  maxDelayMs: RECONNECT_MAX_DELAY_MS,
  jitterRatio: RECONNECT_JITTER_RATIO,
});

/** Delay before retry number `attempt` (0-based): exponential, capped, jittered. */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = policy.baseDelayMs * 2 ** Math.min(attempt, 30);
  const capped = Math.min(policy.maxDelayMs, exponential);
  const jitter = 1 + policy.jitterRatio * (2 * random() - 1);
  return Math.max(0, Math.round(capped * jitter));
}
