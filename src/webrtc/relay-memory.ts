import { peerNetworkGroup } from '../switch/inbound-eviction.js';
import { endpointRelay } from '../transport/address.js';
import type { Peer } from '../switch/peer.js';
import { BoundedMap } from '../util/bounded-map.js';
import { NetworkShares } from '../util/network-shares.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import {
  SIGNAL_RELAY_NETWORK_ACTIVE_MS,
  SIGNAL_RELAY_NETWORKS_PER_PEER,
  SIGNAL_RELAY_NETWORKS_RESTING_PER_PEER,
  SIGNAL_RELAY_ROUTES_PER_PEER,
  SIGNAL_ROUTE_REPLIES_PER_SIGNAL,
  WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION,
} from './constants.js';
import type { Pace } from './signal-pacer.js';

/**
 * What a SignalAgent remembers per peer about who signals whom through it (kept in `peer.data`, so it
 * goes with the peer): the routes we keep as a relay, and the nodes we signalled through a relay that
 * dialled us. Each bounded, keyed by ids a peer names.
 */

const RELAY_ROUTES = Symbol('signal-agent-relay-routes');
const SIGNALLED_THROUGH = Symbol('signal-agent-signalled-through');
const FORWARD_SHARES = Symbol('signal-agent-forward-shares');
const FORWARD_LANE = Symbol('signal-agent-forward-lane');
const SIGNALLED_THROUGH_PER_RELAY = 4 * SIGNAL_RELAY_ROUTES_PER_PEER;

/**
 * Whether `target` will take a signal from `from` relayed by us. A peer that dialled us chose us as a
 * relay and takes any; a peer we dialled takes only the signals of a node it is negotiating with
 * through us, and stops us (ERR_SPOOFED_SENDER) for any other: so forwarding one would let any peer of
 * ours cut us off from the peers we dialled.
 */
export function takesRelayedFrom(target: Peer, from: string): boolean {
  return target.direction === 'inbound' || isRoute(target, from);
}

/** A node a peer signalled through us: the replies it may still send unpaced, and its network. */
interface Route {
  replies: number;
  readonly network: string;
}

/** The network a peer counts in for signalling (signallingPlace). */
export function networkOf(peer: Peer): string {
  return signallingPlace(peer).network;
}

/**
 * The network and host a peer counts in for signalling: the relay it forwards offers through to us, the
 * sender it forwards to a page: its IPv4 /16 or IPv6 /32 and address (or /64), as the Switch fixed them,
 * its own when it names none. A peer linked over WebRTC has the place of the relay it came through
 * (Peer.holder), which is no place of its own there: two pages we dialled through the server most offers
 * reach us through, relaying, took all 16 of its network's answer slots and, naming a node as the
 * sender, that node's 2 through its host. Such a peer counts in a network of the WebRTC peers that came
 * through that network, on a host of its own (its key: a page is our relay only once we dialled it).
 */
export function signallingPlace(peer: Peer): { network: string; host: string } {
  const network = peerNetworkGroup(peer) ?? `peer:${peer.id}`;
  if (endpointRelay(peer.address) !== undefined) return { network: `${network} webrtc`, host: `webrtc:${peer.id}` };
  return { network, host: peer.holder.host ?? `peer:${peer.id}` };
}

/**
 * `peer` signalled `to` (of `network`) through us: `to`'s replies are part of its negotiations,
 * SIGNAL_ROUTE_REPLIES_PER_SIGNAL more of them unpaced (takeRouteReply), at most
 * WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION banked. 16 routes at most: past them the oldest of the
 * network holding the most goes, not the oldest of all. A page answers any offer within its answer
 * allowance, so keys of one host offering it 16 times (keys are free) pushed out the route of a node it
 * was negotiating with elsewhere, whose replies were then paced: the 16 may now push out only their own.
 */
export function rememberRoute(peer: Peer, to: string, network: string): void {
  let routes = peer.data.get(RELAY_ROUTES) as Map<string, Route> | undefined;
  if (routes === undefined) peer.data.set(RELAY_ROUTES, (routes = new Map()));
  const replies = Math.min(WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION, (routes.get(to)?.replies ?? 0) + SIGNAL_ROUTE_REPLIES_PER_SIGNAL);
  routes.delete(to);
  routes.set(to, { replies, network });
  if (routes.size > SIGNAL_RELAY_ROUTES_PER_PEER) routes.delete(oldestOfBusiestNetwork(routes));
}

/** The least recent route of the network holding the most (ties: the least recent of them all). */
function oldestOfBusiestNetwork(routes: Map<string, Route>): string {
  const held = new Map<string, number>();
  for (const { network } of routes.values()) held.set(network, (held.get(network) ?? 0) + 1);
  const most = Math.max(...held.values());
  for (const [to, { network }] of routes) if (held.get(network) === most) return to;
  return routes.keys().next().value!;
}

/** Whether `peer` signalled `from` through us (rememberRoute). */
export function isRoute(peer: Peer, from: string): boolean {
  return (peer.data.get(RELAY_ROUTES) as Map<string, Route> | undefined)?.has(from) === true;
}

/** Takes one of the replies `from` may send `peer` unpaced (rememberRoute); false when it has none left. */
export function takeRouteReply(peer: Peer, from: string): boolean {
  const route = (peer.data.get(RELAY_ROUTES) as Map<string, Route> | undefined)?.get(from);
  if (route === undefined || route.replies < 1) return false;
  route.replies -= 1;
  return true;
}

/**
 * `from`'s share of what we forward to `target` (a peer we dialled: only nodes it signalled through us,
 * at most its 16 routes; a peer that dialled us: the nodes it did not), refilled to `now` at `pace` (what `target` takes from one peer, 3/4 of it);
 * undefined while spent. Our forwarding to it has one lane, ten times that: nodes it dials through us
 * (addresses we hand out) each sending what we take from them, flooding together, spent the lane, and
 * the answers of its other negotiations through us were dropped. The caller spends the token.
 */
export function forwardShare(target: Peer, from: string, pace: Pace, now: number): TokenBucketState | undefined {
  const share = senderShare(target, FORWARD_SHARES, from, SIGNAL_RELAY_ROUTES_PER_PEER, () => fullBucket(pace.burst, now));
  return refillBucket(share, pace.burst, pace.ratePerMs, now) ? share : undefined;
}

/**
 * Our lane toward `target`, a peer that dialled us (a page), for what is not its routes' replies: its
 * relayed pace (`lane`: ten times what it takes from one peer, 3/4 of it), split between the networks of
 * the senders (networkOf, NetworkShares). A network new to it takes the newcomers' seat whole, so a node
 * from elsewhere gets its offer and candidates through at once while one host's keys flood.
 */
export function forwardLane(target: Peer, lane: Pace, now: number): NetworkShares {
  let shares = target.data.get(FORWARD_LANE) as NetworkShares | undefined;
  if (shares === undefined) {
    const options = {
      burst: lane.burst,
      ratePerMs: lane.ratePerMs,
      activeMs: SIGNAL_RELAY_NETWORK_ACTIVE_MS,
      maxNetworks: SIGNAL_RELAY_NETWORKS_PER_PEER,
      maxRestingNetworks: SIGNAL_RELAY_NETWORKS_RESTING_PER_PEER,
      newcomerTakesSeat: true,
    };
    target.data.set(FORWARD_LANE, (shares = new NetworkShares(options, now)));
  }
  return shares;
}

/**
 * `from`'s bucket among the per-sender buckets `peer` keeps under `key`: the `maxTracked` most recently
 * heard senders keep theirs; one forgotten (or new) starts with `made()`.
 */
export function senderShare(peer: Peer, key: symbol, from: string, maxTracked: number, made: () => TokenBucketState): TokenBucketState {
  let shares = peer.data.get(key) as BoundedMap<string, TokenBucketState> | undefined;
  if (shares === undefined) peer.data.set(key, (shares = new BoundedMap(maxTracked)));
  const share = shares.get(from) ?? made();
  shares.set(from, share);
  return share;
}

/**
 * We signalled `to` through `relay`, a peer that dialled us (so no relay we chose): the replies it
 * forwards from `to` are ours, also once our negotiation has ended. Four times a relay's routes, the
 * most recent. A relay keeps a route only for signals it forwarded, and answers each one it did not
 * with `unreachable`: `delta` counts our signals to `to` out (+1) and back (-1, unreachable or never
 * sent). A node all of whose signals came back is one the relay has no route for from us: forgotten,
 * so that dials it could not forward (made-up `webrtc://…?via=` addresses a liar hands our PEX) do not
 * push out a node it still routes for us, whose next offer would have had us cut the relay.
 */
export function countSignalled(relay: Peer, to: string, delta: 1 | -1): void {
  let sent = relay.data.get(SIGNALLED_THROUGH) as BoundedMap<string, { out: number }> | undefined;
  if (sent === undefined) relay.data.set(SIGNALLED_THROUGH, (sent = new BoundedMap(SIGNALLED_THROUGH_PER_RELAY)));
  const entry = sent.get(to);
  if (delta > 0) {
    // A signal going out makes `to` the most recent; one coming back keeps its place.
    sent.set(to, { out: (entry?.out ?? 0) + 1 });
  } else if (entry !== undefined && --entry.out <= 0) {
    sent.delete(to);
  }
}

export function hasSignalled(relay: Peer, from: string): boolean {
  return (relay.data.get(SIGNALLED_THROUGH) as BoundedMap<string, unknown> | undefined)?.get(from) !== undefined;
}
