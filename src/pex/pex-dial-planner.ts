import { endpointRelay, isNodeId, parseAddress } from '../transport/address.js';
import { peerNetworkGroup } from '../switch/inbound-eviction.js';
import type { Peer } from '../switch/peer.js';
import type { AddressBook, KnownAddressInfo } from './address-book.js';
import { addressGroup, classifyAddress, hostPlace } from '../transport/ip.js';
import type { PexConfig } from './config.js';
import { PICK_ATTEMPTS_PER_SLOT, YIELD_WAITS_FOR_FAILED_DIALS } from './constants.js';
import { creditedSource } from './known-address.js';

/** What the planner needs to know about the node, so it can be tested without a Switch. */
export interface DialPlanContext {
  readonly book: AddressBook;
  readonly config: PexConfig;
  readonly nowMs: number;
  readonly random: () => number;
  readonly maxOutbound: number;
  /** Connected outbound peers plus dials in flight. */
  readonly outbound: number;
  /** Who told us the addresses of our current outbound peers and pending dials (undefined: unknown, a seed). */
  readonly outboundSources: readonly (string | undefined)[];
  /** Network groups (networkGroupOf, relayedGroupOf for WebRTC) of our current outbound peers and pending dials, one per peer. */
  readonly outboundGroups: readonly string[];
  /** Node ids whose addresses fill the trusted slots (the agent's seeds). */
  readonly trustedSources: ReadonlySet<string>;
  /** Connected, being dialled, recently hung up on us, or a seed (seeds have their own path). */
  isBusy(nodeId: string): boolean;
  /** Hung up on us soon after we dialled it (see HangUpList): not to be dialled, nor waited for, for a while. */
  hungUp(nodeId: string): boolean;
  isBanned(address: string): boolean;
  /** How long the entry's network waits before our next dial into it (FailingNetworks). @default 0 */
  networkWaitMs?(info: KnownAddressInfo): number;
  canDial(protocol: string): boolean;
  /** Whether we hold a connection to this node: a WebRTC address is reached only through its relay. */
  isConnected(nodeId: string): boolean;
  /**
   * The network a connected relay counts in (peerNetworkGroup); undefined when it is not connected or names
   * none. WebRTC addresses through it are grouped by it (relayedGroupOf). @default every address by its own group
   */
  relayNetwork?(relayId: string): string | undefined;
  /**
   * A seed can still be asked for more trusted addresses: then outbound peers learned from other sources
   * are held to their share (1 − trustedOutboundShare), and slots the trusted ones cannot fill wait for
   * the seed's answer. False (no seeds, or none answers) lifts that cap, so a node is never stranded.
   */
  readonly seedCanHelp: boolean;
}

/**
 * How long until `info` may be dialled again: 0 when never tried or the backoff is over. Backoff is
 * base · 2^(attempts − 1), capped; attempts are reset by a successful connection (book.markGood).
 */
export function backoffRemainingMs(info: KnownAddressInfo, nowMs: number, config: PexConfig): number {
  if (info.attempts === 0 || info.lastAttempt === 0) return 0;
  const wait = Math.min(config.dialBackoffMaxMs, config.dialBackoffBaseMs * 2 ** Math.min(info.attempts - 1, 30));
  return Math.max(0, info.lastAttempt + wait - nowMs);
}

/**
 * The network neighbourhood an address was learned from: the group of the source's address, or the
 * source's id when that is all we know. Addresses from one group count against one outbound quota.
 */
export function sourceGroupOf(source: string): string {
  if (isNodeId(source)) return `id:${source}`;
  try {
    return addressGroup(parseAddress(source));
  } catch {
    return `source:${source}`;
  }
}

/**
 * The network group of an address, for outbound diversity: IPv4 /16, IPv6 /32 (the IPv4 inside for
 * mapped, 6to4, Teredo and NAT64), a DNS name's last two labels, a WebRTC address's relay (every
 * browser reached through one relay shares its fate), a memory:// host (one per in-process node).
 */
export function networkGroupOf(address: string): string {
  try {
    return addressGroup(parseAddress(address));
  } catch {
    return `address:${address}`;
  }
}

/**
 * The group PEX counts a WebRTC address in: `webrtc:` and the network of its relay, a connected peer
 * (`relayNetwork`, the Switch's peerNetworkGroup), so pages reached through relay keys of one host are one
 * group, as the Switch's eviction counts them; by the relay's id (the book's `webrtc:<relay>`), keys being
 * free, each key was a group of its own. Kept apart from the relay's own network: the relay is an outbound
 * peer in its own right, and WebRTC groups may yield (diversityMayYield). `group` (the address's own) for
 * other addresses, and while the relay is not connected or names no network (an in-memory link).
 */
export function relayedGroupOf(address: string, group: string, relayNetwork: ((relayId: string) => string | undefined) | undefined): string {
  if (relayNetwork === undefined || !address.startsWith('webrtc://')) return group;
  const relay = endpointRelay(address);
  const network = relay === undefined ? undefined : relayNetwork(relay);
  return network === undefined ? group : `webrtc:${network}`;
}

/**
 * The group PEX counts a connected peer in, `address` being where it is (what we dialled, or its
 * source): a WebRTC peer's relay's network as it was when the peer arrived (Peer.holder, whether the relay
 * is still here or not), as relayedGroupOf groups its address; any other peer's address's group.
 */
export function connectedPeerGroup(peer: Peer, address: string): string {
  const network = address.startsWith('webrtc://') ? peerNetworkGroup(peer) : undefined;
  return network === undefined ? networkGroupOf(address) : `webrtc:${network}`;
}

/**
 * Whether the one-outbound-per-group rule may give way in a round where nothing else is dialable. It
 * does for addresses only a book with allowLocal holds (loopback, LAN, memory): there is no outside
 * attacker to diversify against there, and a LAN is often one /16, which a strict rule would leave with
 * one outbound peer. It does for WebRTC addresses, grouped by their relay, because a page usually
 * knows one relay and would otherwise get one browser peer; the relay is still held to the per-source
 * quota. For every public IP or DNS address the rule is strict.
 */
export function diversityMayYield(address: string): boolean {
  try {
    const parsed = parseAddress(address);
    return parsed.protocol === 'webrtc' || classifyAddress(parsed).scope !== 'public';
  } catch {
    return false;
  }
}

/**
 * CometBFT's bias: with few outbound peers, prefer addresses that worked before (old); the more we
 * have, the more we try new ones. 10% new with no peers, up to 90% from 8 peers on.
 */
export function newBiasPercent(outbound: number): number {
  return Math.min(outbound, 8) * 10 + 10;
}

export interface DialPlan {
  /** Addresses to dial now, at most one per node id. */
  readonly addresses: string[];
  /** True when the per-source quota (or a yielding group rule) held back at least one dialable address. */
  readonly quotaLimited: boolean;
  /** True when slots were left for trusted addresses we do not have, or only for ones that failed before: ask a seed. */
  readonly trustedShort: boolean;
}

/**
 * Picks up to `slots` addresses to dial. First the trusted slots (trustedOutboundShare of maxOutbound)
 * are filled with addresses a seed gave us; then random picks from the book's buckets (so a flooded
 * source weighs no more than its few buckets), skipping busy, banned, undialable and backing-off
 * addresses, and keeping the outbound peers learned from any one source group under the quota. When
 * the quota is the only thing that stops us (a small network, or one source taught us everything) the
 * held-back addresses are dialled after all, so the quota shapes the mix without ever stranding a node.
 * The network-group rule has no such exception for public addresses: never more than
 * maxOutboundPerGroup outbound peers (dials included) in one network group (Bitcoin's one outbound per
 * netgroup), so an attacker must hold addresses in as many groups as we have outbound slots to surround
 * us. Local and WebRTC addresses wait with the held-back ones instead (see diversityMayYield).
 */
export function planDials(context: DialPlanContext, slots: number): DialPlan {
  if (slots <= 0) return { addresses: [], quotaLimited: false, trustedShort: false };
  const { config, maxOutbound } = context;
  const isTrustedSource = (source: string): boolean => context.trustedSources.has(nodeIdOfSource(source));
  const quota = Math.max(1, Math.ceil(maxOutbound * config.maxOutboundSharePerSource));
  const perGroup = new Map<string, number>();
  const perNetwork = new Map<string, number>();
  for (const group of context.outboundGroups) perNetwork.set(group, (perNetwork.get(group) ?? 0) + 1);
  const groupOf = (info: KnownAddressInfo): string => relayedGroupOf(info.address, info.group, context.relayNetwork?.bind(context));
  const networkHasRoom = (info: KnownAddressInfo): boolean => (perNetwork.get(groupOf(info)) ?? 0) < config.maxOutboundPerGroup;
  let trusted = 0;
  let untrusted = 0;
  for (const source of context.outboundSources) {
    if (source === undefined) continue;
    const group = sourceGroupOf(source);
    perGroup.set(group, (perGroup.get(group) ?? 0) + 1);
    if (isTrustedSource(source)) trusted++;
    else untrusted++;
  }
  const untrustedCap = context.seedCanHelp ? maxOutbound - Math.ceil(maxOutbound * config.trustedOutboundShare) : Infinity;
  /** Learned from a peer while those are at their share: not dialled while a seed can help. */
  const overUntrustedCap = (info: KnownAddressInfo): boolean => !isTrustedSource(creditedSource(info)) && untrusted >= untrustedCap;
  const chosen = new Map<string, string>();
  const take = (info: KnownAddressInfo, trusted = isTrustedSource(creditedSource(info))): void => {
    const group = sourceGroupOf(creditedSource(info));
    perGroup.set(group, (perGroup.get(group) ?? 0) + 1);
    if (!trusted) untrusted++;
    perNetwork.set(groupOf(info), (perNetwork.get(groupOf(info)) ?? 0) + 1);
    chosen.set(info.nodeId, info.address);
  };
  let trustedShort = false;
  const trustedWanted = Math.min(slots, Math.ceil(maxOutbound * config.trustedOutboundShare) - trusted);
  if (trustedWanted > 0) {
    for (const info of pickTrusted(context)) {
      if (chosen.size >= trustedWanted) break;
      if (chosen.has(info.nodeId) || !networkHasRoom(info)) continue;
      take(info, true);
      // A retry of one that already failed (a popular node whose inbound slots stay full): fresh
      // seed-given addresses are wanted too, or a node can retry the same few for ever.
      if (info.attempts > 0) trustedShort = true;
    }
  }
  const heldBack: string[] = [];
  const bias = newBiasPercent(context.outbound);
  const attempts = slots * PICK_ATTEMPTS_PER_SLOT;
  for (let i = 0; i < attempts && chosen.size < slots; i++) {
    const address = context.book.pickAddress(bias);
    if (address === undefined) break;
    const info = dialable(context, address, chosen);
    if (info === undefined) continue;
    if (overUntrustedCap(info)) {
      trustedShort = true;
      continue;
    }
    const isTrusted = isTrustedSource(creditedSource(info));
    if (!networkHasRoom(info)) {
      if (diversityMayYield(address) && !heldBack.includes(address)) heldBack.push(address);
      continue;
    }
    if (!isTrusted && (perGroup.get(sourceGroupOf(creditedSource(info))) ?? 0) >= quota && info.bucketType === 'new') {
      if (!heldBack.includes(address)) heldBack.push(address);
      continue;
    }
    take(info, isTrusted);
  }
  // Nothing but the quota stands between us and an empty round: dial what it held back.
  if (chosen.size === 0) {
    for (const address of heldBack) {
      if (chosen.size >= slots) break;
      const info = dialable(context, address, chosen);
      if (info !== undefined && networkHasRoom(info)) take(info);
    }
  }
  // Still nothing: a group rule that may yield gives way, for one address this round, unless another
  // group is only waiting for its turn (see YIELD_WAITS_FOR_FAILED_DIALS). An address over the untrusted
  // cap has no turn coming: counted as waiting, it held the yield back for as long as the seed answered,
  // and two pages that each knew the other through the relay (the group to yield) and through a third
  // page (such an address) never dialled each other.
  const hasTurn = (info: KnownAddressInfo): boolean => networkHasRoom(info) && !overUntrustedCap(info);
  if (chosen.size === 0 && heldBack.some(diversityMayYield) && !anotherGroupIsWaiting(context, hasTurn)) {
    for (const address of heldBack) {
      const info = dialable(context, address, chosen);
      if (info === undefined || !diversityMayYield(address)) continue;
      take(info);
      break;
    }
  }
  return { addresses: [...chosen.values()], quotaLimited: heldBack.length > 0, trustedShort };
}

/**
 * Whether the book holds an address that will have its turn (`hasTurn`: a group with room, a source
 * the planner takes now) and that we will dial soon: one being dialled now, or one backing off after a
 * few failed dials. Connected, seed (trustedSources: dialled on their own path), lately hung up on us,
 * banned and undialable ones (a WebRTC address whose relay we are not connected to) do not count.
 * Runs only in the rare round where nothing else was dialable, so the copy of the book is affordable.
 */
function anotherGroupIsWaiting(context: DialPlanContext, hasTurn: (info: KnownAddressInfo) => boolean): boolean {
  return context.book.entries().some(
    (info) =>
      info.attempts <= YIELD_WAITS_FOR_FAILED_DIALS &&
      hasTurn(info) &&
      !context.isConnected(info.nodeId) &&
      !context.trustedSources.has(info.nodeId) &&
      // Its turn is up to seedRedialIntervalMs away, and a node that accepts and hangs up at once
      // (a liar's one listener) renews it each time we dial it: counted, it held the yield for good.
      !context.hungUp(info.nodeId) &&
      mayBeDialled(context, info.address),
  );
}

/**
 * The dialable addresses from trusted sources: those not failing now before those whose last dials
 * failed (a popular node with full inbound slots must not hold the slot round after round), then old
 * (proven) ones first, otherwise at random.
 */
function pickTrusted(context: DialPlanContext): KnownAddressInfo[] {
  const none = new Map<string, string>();
  const candidates = context.book.entriesLearnedFrom(context.trustedSources).filter((info) => dialable(context, info.address, none) !== undefined);
  shuffle(candidates, context.random);
  const rank = (info: KnownAddressInfo): number => (info.attempts > 0 ? 2 : 0) + (info.bucketType === 'old' ? 0 : 1);
  candidates.sort((a, b) => rank(a) - rank(b));
  return candidates;
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/**
 * Whether the address waits out its network's failing streak (FailingNetworks). An address in the old
 * table is exempt: we reached a meshlink node there, so dialling it reflects nothing at a stranger, and
 * made-up nodes named inside an honest node's network must not keep us from the nodes we know there
 * (nor from testing one, as a feeler does an incumbent of a tried-table collision, which goes untested).
 * So is a first-hand one, a node's word about itself on the host where we reach it (it connected from
 * there): a meshlink node was there too. Held back, an honest newcomer that announced itself (to a seed
 * above all, which crawls the made-up addresses liars feed it) waited with its /16 while liars named
 * made-up nodes in it, and was left out of the seed's answers, while the liars' own networks never wait.
 */
export function networkWaits(context: Pick<DialPlanContext, 'networkWaitMs'>, info: KnownAddressInfo): boolean {
  return info.bucketType !== 'old' && !info.firstHand && (context.networkWaitMs?.(info) ?? 0) > 0;
}

function dialable(context: DialPlanContext, address: string, chosen: ReadonlyMap<string, string>): KnownAddressInfo | undefined {
  const info = context.book.get(address);
  if (info === undefined || chosen.has(info.nodeId) || context.isBusy(info.nodeId)) return undefined;
  if (!mayBeDialled(context, address) || backoffRemainingMs(info, context.nowMs, context.config) > 0) return undefined;
  if (networkWaits(context, info)) return undefined;
  return info;
}

/** Not banned, over a transport we have, and for WebRTC through a relay we are connected to: whatever the timing. */
function mayBeDialled(context: DialPlanContext, address: string): boolean {
  if (context.isBanned(address)) return false;
  const protocol = address.slice(0, address.indexOf('://'));
  if (!context.canDial(protocol)) return false;
  // Its relay carries the offer; without a connection to it the dial fails at once and backs the address off.
  return protocol !== 'webrtc' || relayIsConnected(context, address);
}

/**
 * Seed mode: the addresses to crawl next, least recently tried first (never-tried before all), each
 * at most once per crawlRevisitMs, so the crawl sweeps the whole book rather than re-asking favourites.
 * First-hand addresses (nodes the seed reached, or that told it of themselves) and the rest take turns:
 * with never-tried first alone, liars naming made-up nodes kept the crawl on their fresh supply (in
 * bench/sim-eclipse.ts 87 % of a seed's crawl dials failed and it reached 3-7 of 110 live honest
 * nodes), never revisiting the nodes it vouches for, so that it went on vouching for ones long gone.
 */
export function planCrawl(context: DialPlanContext, slots: number): string[] {
  if (slots <= 0) return [];
  const { nowMs, config } = context;
  const due = context.book.entries().filter(
    (info) =>
      (info.lastAttempt === 0 || nowMs - info.lastAttempt >= config.crawlRevisitMs) &&
      !context.isBusy(info.nodeId) &&
      !context.isBanned(info.address) &&
      context.canDial(info.address.slice(0, info.address.indexOf('://'))) &&
      backoffRemainingMs(info, nowMs, config) === 0 &&
      !networkWaits(context, info),
  );
  // Random order first so ties (every never-tried address) do not favour the book's internal order.
  shuffle(due, context.random);
  due.sort((a, b) => a.lastAttempt - b.lastAttempt);
  const firstHand = due.filter((info) => info.firstHand);
  const others = due.filter((info) => !info.firstHand);
  const turns: KnownAddressInfo[] = [];
  for (let i = 0; i < Math.max(firstHand.length, others.length); i++) {
    if (i < firstHand.length) turns.push(firstHand[i]!);
    if (i < others.length) turns.push(others[i]!);
  }
  const chosen = new Map<string, string>();
  const places = new Set<string>();
  for (const info of turns) {
    if (chosen.size >= slots) break;
    if (chosen.has(info.nodeId)) continue;
    // One dial per public place a round: node ids cost nothing to make up, and a peer could otherwise
    // fill the book with ids at one victim's host (its ports, or names pointing at it) and have the
    // seed dial that host with every slot of every round.
    const place = crawlPlaceOf(info.address);
    if (place !== undefined && places.has(place)) continue;
    if (place !== undefined) places.add(place);
    chosen.set(info.nodeId, info.address);
  }
  return [...chosen.values()];
}

/**
 * Where a crawl dial of `address` lands, for the one-per-round rule: the IP (an IPv6 address's /64, the
 * IPv4 inside a mapped or 6to4 one: spellings of one host), or for a DNS name its domain (subdomains are free: any number of them can point at one host). Undefined, so without a
 * rule, for local and WebRTC addresses: a testnet on one machine is crawled at full speed, and a WebRTC
 * dial goes to its node through a relay.
 */
function crawlPlaceOf(address: string): string | undefined {
  try {
    const parsed = parseAddress(address);
    const { family, scope, group } = classifyAddress(parsed);
    if (scope !== 'public' || parsed.protocol === 'webrtc') return undefined;
    return family === 'dns' ? group : hostPlace(parsed.host);
  } catch {
    return undefined;
  }
}

/** The node id a book entry's source names ('' when none): a bare id or an address with one. */
export function nodeIdOfSource(source: string): string {
  if (!source.includes('://')) return source;
  try {
    return parseAddress(source).nodeId ?? '';
  } catch {
    return '';
  }
}

function relayIsConnected(context: DialPlanContext, address: string): boolean {
  try {
    const via = parseAddress(address).params['via'];
    return via !== undefined && context.isConnected(via);
  } catch {
    return false;
  }
}
