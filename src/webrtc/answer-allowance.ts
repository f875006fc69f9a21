import { BoundedMap } from '../util/bounded-map.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import { WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED } from './constants.js';

const MS_PER_MINUTE = 60 * 1000;

/** New answers a minute, and at once, per delivering peer and in all. */
export interface AnswerRates {
  perMinute: number;
  burst: number;
  perMinutePerVia: number;
  burstPerVia: number;
}

/**
 * How many new answering RTCPeerConnections we may open now: token buckets per delivering peer and in
 * all (constants.ts). The answer slots cap the connections held at once; this caps how fast they are
 * made, which is what a browser runs out of. Our own dials have one too, per relay they go through.
 */
export class AnswerAllowance {
  private readonly total: TokenBucketState;
  /** Bounded: the most recently used WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED. */
  private readonly byVia = new BoundedMap<string, TokenBucketState>(WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED);

  constructor(
    private readonly rates: AnswerRates,
    private readonly now: () => number,
  ) {
    this.total = fullBucket(rates.burst, now());
  }

  /** Takes one answer for `via` when both its bucket and the total have one; false (nothing taken) otherwise. */
  take(via: string): boolean {
    const { perMinute, burst, perMinutePerVia, burstPerVia } = this.rates;
    const bucket = this.byVia.get(via) ?? fullBucket(burstPerVia, this.now());
    this.byVia.set(via, bucket);
    const now = this.now();
    const viaHas = refillBucket(bucket, burstPerVia, perMinutePerVia / MS_PER_MINUTE, now);
    const totalHas = refillBucket(this.total, burst, perMinute / MS_PER_MINUTE, now);
    if (!viaHas || !totalHas) return false;
    bucket.tokens -= 1;
    this.total.tokens -= 1;
    return true;
  }
}
