import { BoundedMap } from '../util/bounded-map.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import { WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED, WEBRTC_DIAL_NETWORK_ACTIVE_MS } from './constants.js';
import type { ConnectionRates } from './connection-allowance.js';

const MS_PER_MINUTE = 60 * 1000;

/** A network of relays that asked for a dial within WEBRTC_DIAL_NETWORK_ACTIVE_MS, and its share's tokens. */
interface ActiveNetwork {
  readonly share: TokenBucketState;
  askedAt: number;
}

/**
 * How many new RTCPeerConnections our own dials may open now: the total's burst and rate (what a browser
 * runs out of), each relay's, and a fair split of the total between the networks of the relays dialled
 * through (the relay's network as the Switch counts it, so one host's relay keys are one network).
 *
 * The networks that asked within the last minute, and one seat more for networks new to it, each earn an
 * equal share of the total's rate and burst. A dial takes from its network's share (a newcomer's first,
 * from the newcomers' seat) and from the total, which always holds at least what the shares hold; past
 * its share a network takes only what the total holds beyond every share (what quiet networks leave
 * unused). So relays handing us made-up addresses through k networks get k shares between them, and
 * an honest relay's network, or the app dialling through one, still gets its own: its first dial at once.
 */
export class DialAllowance {
  private readonly total: TokenBucketState;
  private readonly newcomers: TokenBucketState;
  /** Bounded: the most recently used WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED; one forgotten starts full. */
  private readonly byVia = new BoundedMap<string, TokenBucketState>(WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED);
  /** Least recently asked first; bounded as byVia (a network forgotten is a newcomer again). */
  private readonly networks = new Map<string, ActiveNetwork>();

  constructor(
    private readonly rates: Pick<ConnectionRates, 'perMinute' | 'burst' | 'perMinutePerVia' | 'burstPerVia'>,
    private readonly now: () => number,
  ) {
    this.total = fullBucket(rates.burst, now());
    this.newcomers = fullBucket(rates.burst, now());
  }

  /** Networks holding a share now: for tests. */
  get activeNetworks(): number {
    return this.networks.size;
  }

  /** Takes one connection for a dial through `via`, a relay of `network`; false (nothing taken) when none is left for it. */
  take(via: string, network: string): boolean {
    const { perMinute, burst, perMinutePerVia, burstPerVia } = this.rates;
    const now = this.now();
    this.forgetQuiet(now);
    const asker = this.networks.get(network);
    const seats = this.networks.size + (asker === undefined ? 1 : 0) + 1;
    const seatBurst = Math.max(1, burst / seats);
    const seatRate = perMinute / seats / MS_PER_MINUTE;
    const viaBucket = this.byVia.get(via) ?? fullBucket(burstPerVia, now);
    this.byVia.set(via, viaBucket);
    const viaHasOne = refillBucket(viaBucket, burstPerVia, perMinutePerVia / MS_PER_MINUTE, now);
    refillBucket(this.total, burst, perMinute / MS_PER_MINUTE, now);
    let held = 0;
    for (const share of [this.newcomers, ...[...this.networks.values()].map((active) => active.share)]) {
      refillBucket(share, seatBurst, seatRate, now);
      held += share.tokens;
    }
    this.asked(network, asker, now);
    if (!viaHasOne || this.total.tokens < 1) return false;
    const seat = asker?.share ?? this.newcomers;
    if (seat.tokens >= 1) seat.tokens -= 1;
    // Past its share: only what no share holds.
    else if (this.total.tokens - 1 < held) return false;
    this.total.tokens -= 1;
    viaBucket.tokens -= 1;
    return true;
  }

  /** Marks `network` as asking now (a refused ask too: it is waiting for its share). */
  private asked(network: string, asker: ActiveNetwork | undefined, now: number): void {
    const active = asker ?? { share: { tokens: 0, updatedAt: now }, askedAt: now };
    active.askedAt = now;
    this.networks.delete(network);
    this.networks.set(network, active);
    if (this.networks.size > WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED) this.networks.delete(this.networks.keys().next().value!);
  }

  /** Drops the networks that have not asked within WEBRTC_DIAL_NETWORK_ACTIVE_MS (they are first in the map). */
  private forgetQuiet(now: number): void {
    for (const [network, active] of this.networks) {
      if (now - active.askedAt < WEBRTC_DIAL_NETWORK_ACTIVE_MS) break;
      this.networks.delete(network);
    }
  }
}
