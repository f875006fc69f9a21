import { BoundedMap } from '../util/bounded-map.js';
import { NetworkShares } from '../util/network-shares.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import { WEBRTC_ALLOWANCE_NETWORK_ACTIVE_MS, WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED } from './constants.js';

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
  /** For the relays of one network (the `network` passed to `take`). @default no cap beyond the network's share of the total */
  perMinutePerGroup?: number;
  burstPerGroup?: number;
}

/**
 * How many new RTCPeerConnections we may open now: token buckets per peer they go through, per network
 * of such peers (when capped), and the total's burst and rate (what a browser runs out of), split
 * fairly between the networks of the peers they go through (the relay's network as the Switch counts
 * it, so one host's relay keys are one network). The transport keeps one for the offers it answers and
 * one for its own dials; the answer slots cap the connections held at once, this how fast they are made.
 *
 * The networks that asked within the last minute, and one seat more for networks new to it, each earn an
 * equal share of the total's rate and burst (NetworkShares): a newcomer's first connection comes from
 * the newcomers' seat, its next from its own share, and past it from what quiet networks leave unused.
 * So relays on k networks storming us (offers that fail, made-up addresses to dial) get k shares
 * between them, and an honest relay's network still gets its own: its first connection at once.
 */
export class ConnectionAllowance {
  private readonly shares: NetworkShares;
  /** Bounded: the most recently used WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED; one forgotten starts full. */
  private readonly byVia = new BoundedMap<string, TokenBucketState>(WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED);
  /** Bounded as byVia: a network forgotten starts full, as a relay does. */
  private readonly byGroup = new BoundedMap<string, TokenBucketState>(WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED);
  /** When each host of a network last took one (keyed by hostKey), bounded as byVia: one forgotten is new to it. */
  private readonly hostTookAt = new BoundedMap<string, number>(WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED);

  constructor(
    private readonly rates: ConnectionRates,
    private readonly now: () => number,
  ) {
    this.shares = new NetworkShares(
      {
        burst: rates.burst,
        ratePerMs: rates.perMinute / MS_PER_MINUTE,
        activeMs: WEBRTC_ALLOWANCE_NETWORK_ACTIVE_MS,
        maxNetworks: WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED,
        // A network quiet for a minute is a newcomer again: its next connection needs one token, which
        // the newcomers' seat gives (one at a time) sooner than a share refilled only from what is spare.
        maxRestingNetworks: 0,
        // One connection a negotiation: a newcomer needs one token at once, not a burst.
        newcomerTakesSeat: false,
      },
      now(),
    );
  }

  /** Networks holding a share now: for tests. */
  get activeNetworks(): number {
    return this.shares.activeNetworks;
  }

  /**
   * Takes one connection for `via`, a peer of `network` on `host`, when its bucket, its network's (when
   * capped) and the network's share of the total each have one; false (nothing taken) otherwise. A host
   * that took one of its network's within WEBRTC_ALLOWANCE_NETWORK_ACTIVE_MS leaves the network's last
   * token to one that did not: relays on two hosts of a cloud block spent their network's every token as
   * it came (24 a minute), and an honest relay on a third host of it got none. The network's rate is the
   * same, so hosts new to it answer no more than the network did.
   */
  take(via: string, network: string, host?: string): boolean {
    const { perMinutePerVia, burstPerVia, perMinutePerGroup, burstPerGroup, burst } = this.rates;
    const now = this.now();
    const viaBucket = this.refilled(this.byVia, via, burstPerVia, perMinutePerVia, now);
    const groupBucket = perMinutePerGroup === undefined ? undefined : this.refilled(this.byGroup, network, burstPerGroup ?? burst, perMinutePerGroup, now);
    const tookAt = host === undefined ? undefined : this.hostTookAt.get(hostKey(network, host));
    const hostIsActive = tookAt !== undefined && now - tookAt < WEBRTC_ALLOWANCE_NETWORK_ACTIVE_MS;
    const mayTake = viaBucket.tokens >= 1 && (groupBucket === undefined || groupBucket.tokens >= (hostIsActive ? 2 : 1));
    // Asked even when refused here: the network counts as one waiting for its share.
    if (!this.shares.take(network, now, mayTake)) return false;
    viaBucket.tokens -= 1;
    if (groupBucket !== undefined) groupBucket.tokens -= 1;
    if (host !== undefined) this.hostTookAt.set(hostKey(network, host), now);
    return true;
  }

  /** The bucket of `key` in `table`, refilled. */
  private refilled(table: BoundedMap<string, TokenBucketState>, key: string, burst: number, perMinute: number, now: number): TokenBucketState {
    const bucket = table.get(key) ?? fullBucket(burst, now);
    table.set(key, bucket);
    refillBucket(bucket, burst, perMinute / MS_PER_MINUTE, now);
    return bucket;
  }
}

/** A host within its network (host names never hold a newline). */
function hostKey(network: string, host: string): string {
  return `${network}\n${host}`;
}
