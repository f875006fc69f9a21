/** The bounds CandidateTargets (candidate-targets.ts) keeps: slots, waits and what it remembers. */

/**
 * Negotiations that may hold candidates at one remote (transport, address) at once. libwebrtc checks at
 * its own pace per RTCPeerConnection (~21 datagrams a second under @roamhq/wrtc, ~16 in Chromium): an
 * address gets at most this many times that from us, where 32 negotiations naming 32 of its ports had
 * all 32 check it (670 a second). Honest remotes relayed by one TURN server all name its address, so
 * the rest wait (CandidateTargets) rather than lose the candidate: each holder frees its slot as it
 * connects, within a second or two over TURN.
 */
export const WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS = 4;
/**
 * How long a negotiation may hold a slot at an address others wait at without connecting. An honest one
 * connects within a second or two of taking the slot (over TURN too); one naming a victim never does, and
 * held its slot for the answer's whole 15 s while honest peers relayed by one TURN server waited.
 */
export const WEBRTC_CROWDED_ADDRESS_HOLD_MS = 5 * 1000;
/**
 * UDP candidates one negotiation may have waiting for a slot (at as many addresses: one each). An answer
 * waiting for a probing slot (WEBRTC_PROBING_ANSWERS) has all its candidates wait, and an honest remote
 * names up to ~8 addresses (host ones per interface, srflx and relay ones, IPv4 and IPv6), its relay
 * ones last: with 4, those past the 4th were dropped, the relay ones first.
 */
export const WEBRTC_WAITING_CANDIDATES_PER_NEGOTIATION = 8;
/** UDP candidates waiting for a slot, of all negotiations. */
export const WEBRTC_WAITING_CANDIDATES = 128;
/** Addresses of our own TURN servers' relayed candidates remembered (the latest): an iceServers list is short. */
export const WEBRTC_OWN_RELAY_PLACES = 8;
/**
 * Answers that may hold candidates (UDP or TCP) at addresses that never answered us at once (all
 * addresses but our own TURN servers' and those of connected peers): libwebrtc checks at ~21 datagrams a
 * second per RTCPeerConnection wherever its candidates are, so 32 answers naming 32 addresses (one each,
 * under the per-address cap) sent 646 a second in all, 20 to each; over TCP, each connects at once. An
 * honest answer holds its slot until it connects, a second or two; a burst of honest ones past it waits
 * that long (its TCP candidates are dropped).
 */
export const WEBRTC_PROBING_ANSWERS = 8;
/** Addresses of connected peers remembered (the latest) as ones that answer our checks. */
export const WEBRTC_ANSWERED_PLACES = 256;
/**
 * Our own dials that may hold UDP candidates at addresses that never answered us at once (as
 * WEBRTC_PROBING_ANSWERS, a budget of their own so that answers never wait for dials nor dials for
 * answers): PEX hands out made-up `webrtc://<id>?via=<relay>` addresses whose relay forges the answers,
 * and 16 such dials had 16 victim addresses checked at once (~336 datagrams a second). An honest dial's
 * remote checks us too (peer-reflexive, no slot needed); a node dials at most its outbound few at once.
 */
export const WEBRTC_PROBING_DIALS = 8;
/**
 * A holder of a slot others wait for whose checks got no response at all (nor any check from the remote)
 * this long after it took the slot is ended then rather than at WEBRTC_CROWDED_ADDRESS_HOLD_MS: a victim
 * never answers, an honest remote within a round trip or two (its NAT's pinhole opens with its own checks).
 */
export const WEBRTC_UNANSWERED_CHECKS_MS = 1500;
/** How often the holders of slots others wait for are asked for their checks' answers (one timer for all). */
export const WEBRTC_UNANSWERED_CHECKS_POLL_MS = 500;
