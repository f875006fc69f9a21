import type { Peer } from '../switch/peer.js';
import {
  SIGNAL_ANNOUNCED_MAX_FACTOR,
  SIGNAL_ANNOUNCED_MIN_BURST,
  SIGNAL_ANNOUNCED_MIN_PER_SECOND,
  SIGNAL_BURST_MESSAGES,
  SIGNAL_CHANNEL_ID,
  SIGNAL_RATE_PER_SECOND,
} from './constants.js';

/** Signalling messages a second a node takes from one peer, sustained and at once. */
export interface SignalLimits {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * What `peer` takes from us on the signalling channel: what it announced in its NodeInfo, bounded
 * (constants.ts: a floor so a peer announcing 0 or a sliver still gets a pace that ends, a ceiling
 * so a large word buys nothing). A peer that announced nothing (an older node) is taken to use the
 * defaults, or ours when lower (a network that lowers them is taken to lower them everywhere).
 */
export function signalLimitsOf(peer: Peer, ours: SignalLimits): SignalLimits {
  const announced = peer.announcedRate(SIGNAL_CHANNEL_ID);
  if (announced === undefined) {
    return { perSecond: Math.min(SIGNAL_RATE_PER_SECOND, ours.perSecond), burst: Math.min(SIGNAL_BURST_MESSAGES, ours.burst) };
  }
  return {
    perSecond: clamp(announced.perSecond, SIGNAL_ANNOUNCED_MIN_PER_SECOND, SIGNAL_ANNOUNCED_MAX_FACTOR * SIGNAL_RATE_PER_SECOND),
    burst: clamp(Math.floor(announced.burst), SIGNAL_ANNOUNCED_MIN_BURST, SIGNAL_ANNOUNCED_MAX_FACTOR * SIGNAL_BURST_MESSAGES),
  };
}

/** NaN (parseNodeInfo lets none through, but a Peer may be built by hand) takes the floor. */
function clamp(value: number, min: number, max: number): number {
  return value >= min ? Math.min(value, max) : min;
}
