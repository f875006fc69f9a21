import { BoundedMap } from '../util/bounded-map.js';
import { NetworkShares } from '../util/network-shares.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import { WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED, WEBRTC_DIAL_NETWORK_ACTIVE_MS } from './constants.js';
import type { ConnectionRates } from './connection-allowance.js';

const MS_PER_MINUTE = 60 * 1000;

/**
 * How many new RTCPeerConnections our own dials may open now: the total's burst and rate (what a browser
 * runs out of), each relay's, and a fair split of the total between the networks of the relays dialled
 * through (the relay's network as the Switch counts it, so one host's relay keys are one network).
 *
 * The networks that asked within the last minute, and one seat more for networks new to it, each earn an
 * equal share of the total's rate and burst (NetworkShares): a newcomer's first dial comes from the
 * newcomers' seat, its next from its own share, and past it from what quiet networks leave unused. So
 * relays handing us made-up addresses through k networks get k shares between them, and an honest
 * relay's network, or the app dialling through one, still gets its own: its first dial at once.
 */
export class DialAllowance {
  private readonly shares: NetworkShares;
  /** Bounded: the most recently used WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED; one forgotten starts full. */
  private readonly byVia = new BoundedMap<string, TokenBucketState>(WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED);

  constructor(
    private readonly rates: Pick<ConnectionRates, 'perMinute' | 'burst' | 'perMinutePerVia' | 'burstPerVia'>,
    private readonly now: () => number,
  ) {
    this.shares = new NetworkShares(
      {
        burst: rates.burst,
        ratePerMs: rates.perMinute / MS_PER_MINUTE,
        activeMs: WEBRTC_DIAL_NETWORK_ACTIVE_MS,
        maxNetworks: WEBRTC_ANSWER_ALLOWANCE_VIAS_TRACKED,
        newcomerTakesSeat: false,
      },
      now(),
    );
  }

  /** Networks holding a share now: for tests. */
  get activeNetworks(): number {
    return this.shares.activeNetworks;
  }

  /** Takes one connection for a dial through `via`, a relay of `network`; false (nothing taken) when none is left for it. */
  take(via: string, network: string): boolean {
    const { perMinutePerVia, burstPerVia } = this.rates;
    const now = this.now();
    const viaBucket = this.byVia.get(via) ?? fullBucket(burstPerVia, now);
    this.byVia.set(via, viaBucket);
    const viaHasOne = refillBucket(viaBucket, burstPerVia, perMinutePerVia / MS_PER_MINUTE, now);
    if (!this.shares.take(network, now, viaHasOne)) return false;
    viaBucket.tokens -= 1;
    return true;
  }
}
