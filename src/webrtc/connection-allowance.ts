import { BoundedMap } from '../util/bounded-map.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import { WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED } from './constants.js';

const MS_PER_MINUTE = 60 * 1000;

/** New RTCPeerConnections a minute, and at once, per peer they go through (the delivering peer or relay) and in all. */
export interface ConnectionRates {
  perMinute: number;
  burst: number;
  perMinutePerVia: number;
  burstPerVia: number;
}

/**
 * How many new RTCPeerConnections we may open now: token buckets per peer they go through and in all
 * (constants.ts). The transport keeps one for the offers it answers (per delivering peer) and one for its
 * own dials (per relay). The answer slots cap the connections held at once; this caps how fast they are
 * made, which is what a browser runs out of.
 */
export class ConnectionAllowance {
  private readonly total: TokenBucketState;
  /** Bounded: the most recently used WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED. */
  private readonly byVia = new BoundedMap<string, TokenBucketState>(WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED);

  constructor(
    private readonly rates: ConnectionRates,
    private readonly now: () => number,
  ) {
    this.total = fullBucket(rates.burst, now());
  }

  /** Takes one connection for `via` when both its bucket and the total have one; false (nothing taken) otherwise. */
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
