import { BoundedMap } from '../util/bounded-map.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import { WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED } from './constants.js';

const MS_PER_MINUTE = 60 * 1000;

/**
 * New RTCPeerConnections a minute, and at once, per peer they go through (the delivering peer or relay),
 * per network of such peers (when given), and in all.
 */
export interface ConnectionRates {
  perMinute: number;
  burst: number;
  perMinutePerVia: number;
  burstPerVia: number;
  /** For the relays of one network (the `group` passed to `take`). @default no cap beyond the total */
  perMinutePerGroup?: number;
  burstPerGroup?: number;
}

/**
 * How many new RTCPeerConnections we may open now: token buckets per peer they go through, per network
 * of such peers, and in all (constants.ts). The transport keeps one for the offers it answers (per
 * delivering peer and its network) and one for its own dials (per relay). The answer slots cap the
 * connections held at once; this caps how fast they are made, which is what a browser runs out of.
 */
export class ConnectionAllowance {
  private readonly total: TokenBucketState;
  /** Bounded: the most recently used WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED. */
  private readonly byVia = new BoundedMap<string, TokenBucketState>(WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED);
  /** Bounded as byVia: a network forgotten starts full, as a relay does. */
  private readonly byGroup = new BoundedMap<string, TokenBucketState>(WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED);

  constructor(
    private readonly rates: ConnectionRates,
    private readonly now: () => number,
  ) {
    this.total = fullBucket(rates.burst, now());
  }

  /**
   * Takes one connection for `via` (of network `group`) when its bucket, its network's and the total
   * each have one; false (nothing taken) otherwise.
   */
  take(via: string, group?: string): boolean {
    const { perMinute, burst, perMinutePerVia, burstPerVia, perMinutePerGroup, burstPerGroup } = this.rates;
    const now = this.now();
    const buckets = [this.refilled(this.byVia, via, burstPerVia, perMinutePerVia, now), this.refilled(undefined, '', burst, perMinute, now)];
    if (group !== undefined && perMinutePerGroup !== undefined) buckets.push(this.refilled(this.byGroup, group, burstPerGroup ?? burst, perMinutePerGroup, now));
    if (buckets.some((bucket) => bucket === undefined)) return false;
    for (const bucket of buckets) bucket!.tokens -= 1;
    return true;
  }

  /** The bucket of `key` in `table` (the total's without a table), refilled; undefined when it holds no token. */
  private refilled(table: BoundedMap<string, TokenBucketState> | undefined, key: string, burst: number, perMinute: number, now: number): TokenBucketState | undefined {
    const bucket = table === undefined ? this.total : (table.get(key) ?? fullBucket(burst, now));
    table?.set(key, bucket);
    return refillBucket(bucket, burst, perMinute / MS_PER_MINUTE, now) ? bucket : undefined;
  }
}
