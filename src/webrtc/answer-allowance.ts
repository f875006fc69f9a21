import {
  WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED,
  WEBRTC_ANSWERS_BURST,
  WEBRTC_ANSWERS_BURST_PER_VIA,
  WEBRTC_ANSWERS_PER_MINUTE,
  WEBRTC_ANSWERS_PER_MINUTE_PER_VIA,
} from './constants.js';

const MS_PER_MINUTE = 60 * 1000;

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * How many new answering RTCPeerConnections we may open now: token buckets per delivering peer and in
 * all (constants.ts). The answer slots cap the connections held at once; this caps how fast they are
 * made, which is what a browser runs out of.
 */
export class AnswerAllowance {
  private readonly total: Bucket;
  /** Bounded: the most recently used WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED. */
  private readonly byVia = new Map<string, Bucket>();

  constructor(private readonly now: () => number) {
    this.total = { tokens: WEBRTC_ANSWERS_BURST, updatedAt: now() };
  }

  /** Takes one answer for `via` when both its bucket and the total have one; false (nothing taken) otherwise. */
  take(via: string): boolean {
    const bucket = this.byVia.get(via) ?? { tokens: WEBRTC_ANSWERS_BURST_PER_VIA, updatedAt: this.now() };
    this.byVia.delete(via);
    this.byVia.set(via, bucket);
    if (this.byVia.size > WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED) this.byVia.delete(this.byVia.keys().next().value!);
    const viaHas = this.refill(bucket, WEBRTC_ANSWERS_BURST_PER_VIA, WEBRTC_ANSWERS_PER_MINUTE_PER_VIA);
    const totalHas = this.refill(this.total, WEBRTC_ANSWERS_BURST, WEBRTC_ANSWERS_PER_MINUTE);
    if (!viaHas || !totalHas) return false;
    bucket.tokens -= 1;
    this.total.tokens -= 1;
    return true;
  }

  private refill(bucket: Bucket, burst: number, perMinute: number): boolean {
    const now = this.now();
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.updatedAt) * perMinute) / MS_PER_MINUTE);
    bucket.updatedAt = now;
    return bucket.tokens >= 1;
  }
}
