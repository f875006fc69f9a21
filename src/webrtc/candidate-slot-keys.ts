/** The keys CandidateTargets (candidate-targets.ts) counts slots by: targets, hosts, places and the probing slots. */
import { hostPlace } from '../transport/ip.js';
import type { CandidateTarget } from './remote-candidates.js';

/** The slot keys of WEBRTC_PROBING_ANSWERS and WEBRTC_PROBING_DIALS (place keys hold a newline, these none). */
export const PROBE_KEY = 'probing';
export const DIAL_PROBE_KEY = 'probing-dials';

/** The probing slot `negotiation` takes at an address that never answered: our dials have their own. */
export function probeKeyOf(negotiation: { readonly initiator?: boolean | undefined }): string {
  return negotiation.initiator === true ? DIAL_PROBE_KEY : PROBE_KEY;
}

/** Neither part holds a newline (candidate lines are split on spaces, SDP lines on newlines). */
export function hostKeyOf(target: CandidateTarget): string {
  return `${target.transport}\n${target.host}`;
}

/**
 * Where a target's address is, as the crowding cap counts it: the address, but an IPv6 address's /64 (a
 * hosting provider routes one whole to a machine, whose 32 addresses would be 32 places) and an IPv4
 * address inside an IPv6 one as that IPv4 (hostPlace).
 */
export function placeKeyOf(target: CandidateTarget): string {
  return `${target.transport}\n${hostPlace(target.host)}`;
}

export function targetKey(target: CandidateTarget): string {
  return `${hostKeyOf(target)}\n${target.port}`;
}
