import { BaseAgent, ProtocolError, monotonicNow, systemClock, type ChannelDescriptor, type Peer, type Switch } from '../../src/index.js';
import { BoundedMap } from './bounded-map.js';
import { PacedForwarding, messagePaceLimits } from './paced-forwarding.js';
import { TokenBucket } from './token-bucket.js';
import type { TopologyAgentOptions, TopologySnapshot, TopologyStats } from './topology-view.js';
import {
  decodeAnnouncement,
  encodeAnnouncement,
  LINK_TRANSPORTS,
  MAX_ANNOUNCEMENT_BYTES,
  MAX_LINKS_PER_ANNOUNCEMENT,
  MAX_MONIKER_BYTES,
  MAX_TOPOLOGY_HOPS,
  NODE_KINDS,
  truncateUtf8,
  type Announcement,
  type LinkTransport,
  type TopologyLink,
} from './topology-wire.js';

// Importers of the agent see its wire format and view too (tests, the page, the relay).
export * from './topology-wire.js';
export type { TopologyAgentOptions, TopologyNode, TopologySnapshot, TopologyStats } from './topology-view.js';

/**
 * Topology gossip for the demo's live graph: every node announces its own links (`{ peer, transport }`)
 * on its own channel, and forwards the announcements of others, so each node learns who talks to whom
 * and over what. A node's view is a table of announcements, one per origin, each expiring unless
 * renewed. Everything a peer can make us hold or do is bounded:
 *
 * - an announcement lists at most MAX_LINKS_PER_ANNOUNCEMENT links and is at most MAX_ANNOUNCEMENT_BYTES,
 *   decoded with tight msgpack limits; anything malformed costs the sender its connection;
 * - each peer may make us process at most `peerRatePerSecond` announcements (burst `peerBurst`); the
 *   rest are dropped; one origin's announcements are taken at most once per MIN_ORIGIN_INTERVAL_MS;
 * - the table holds at most `maxNodes` origins (when full, a peer that brought fewer entries than another
 *   takes the place of that one's oldest, so no peer fills it alone); entries expire after
 *   `entryTtlMs` without renewal, or after a shorter grace (two announcement intervals) for a node
 *   that was our direct peer: when a peer goes away, what it last said, even when a neighbour forwards it a moment later, is kept only
 *   until its next announcement would have come, so a dead relay is marked gone in seconds while a
 *   node still reachable through others stays;
 * - announcements travel at most MAX_TOPOLOGY_HOPS links;
 * - what we pass on to a peer is paced below that allowance and shared among the networks it came from,
 *   then the peers of each (demo/agents/paced-forwarding.ts): a relay passing on what each of several
 *   peers may send had the next node drop its surplus, honest announcements among it.
 *
 * Announcements are not signed: a neighbour could invent links for far-away nodes. Two cheap checks
 * remain: an announcement with hops 0 must come from its origin (ERR_SPOOFED_SENDER), and what a direct
 * peer says about itself is taken only from that peer, never from a forwarded copy.
 *
 * The wire format and its decoder are in topology-wire.ts; the view's types in topology-view.ts.
 */

/** The topology gossip's channel id. */
export const TopologyCh = 0x31;

/** How often a node announces its links when nothing changes. */
export const DEFAULT_ANNOUNCE_INTERVAL_MS = 2 * 1000;
/** A node announces at most this often, even when its links change faster. */
export const MIN_ANNOUNCE_GAP_MS = 1000;
/** Of one origin, at most one announcement per this interval is accepted (and forwarded). */
export const MIN_ORIGIN_INTERVAL_MS = 500;
/** An origin not heard from for this long is dropped from the table: three missed announcements. */
export const DEFAULT_ENTRY_TTL_MS = 3 * DEFAULT_ANNOUNCE_INTERVAL_MS + 1000;
/** Origins held in the table, at most. */
export const DEFAULT_MAX_NODES = 64;
/** Announcements one peer may make us process per second: every origin's, twice over. */
export const DEFAULT_PEER_RATE_PER_S = DEFAULT_MAX_NODES;
/** …and at once: a new peer hands us its whole table. */
export const DEFAULT_PEER_BURST = 2 * DEFAULT_MAX_NODES;
/** Origins remembered per peer as "it has seq n", so we do not send it what it sent us. */
const PEER_KNOWN_CAPACITY = 2 * DEFAULT_MAX_NODES;
/** Announcements waiting to be passed on to one peer, per source and for all sources (≤ 192 KiB). */
const FORWARD_QUEUE_PER_SOURCE = 16;
const FORWARD_QUEUE = 96;
/** How often waiting announcements are offered again while any wait: about one of the default pace. */
const FORWARD_DRAIN_INTERVAL_MS = 20;
/** Former direct peers remembered (see `lostGraceMs`). */
const LOST_PEERS_CAPACITY = 2 * DEFAULT_MAX_NODES;

interface Entry extends Announcement {
  acceptedAt: number;
  expiresAt: number;
  via: string;
  /**
   * The entry as we pass it on (hops + 1), encoded once, when first needed, and shared by every peer it
   * goes to: encoded per peer, each announcement a peer made us accept cost an encode of up to 1.8 KB
   * per other peer, and each newcomer one per entry (64 of them).
   */
  forwarded?: Uint8Array;
}

/** An announcement on its way to a peer; `relayed` when passed on, not ours. */
interface Forward { readonly origin: string; readonly seq: number; readonly message: Uint8Array; readonly relayed: boolean }

interface PeerState {
  bucket: TokenBucket;
  /**
   * origin → the highest seq this peer is known to have, and when we learnt it. Believed for one entry
   * lifetime only: a seq is the peer's word (a forged 2^53 − 1 passed on by an honest neighbour), and
   * believed for good it would keep every real announcement of that origin from the peer for good.
   */
  known: BoundedMap<string, { seq: number; at: number }>;
}

const PEER_STATE = Symbol('topology.peer');
/** Delay before our first announcement after a change, so that several changes make one announcement. */
const CHANGE_SETTLE_MS = 50;

export class TopologyAgent extends BaseAgent {
  readonly channels: readonly ChannelDescriptor[] = [
    { id: TopologyCh, name: 'topology', priority: 2, sendQueueCapacity: 4 * DEFAULT_MAX_NODES, recvMessageCapacity: MAX_ANNOUNCEMENT_BYTES },
  ];
  private readonly entries = new Map<string, Entry>();
  /** Former direct peers: origin → when it went away. */
  private readonly lost = new BoundedMap<string, number>(LOST_PEERS_CAPACITY);
  private readonly counters: TopologyStats = { received: 0, accepted: 0, forwarded: 0, ignored: 0, rateLimited: 0, refusedFull: 0, evicted: 0, expired: 0 };
  private readonly listeners = new Set<() => void>();
  private readonly forwarding: PacedForwarding<Forward>;
  private readonly now: () => number;
  private readonly announceIntervalMs: number;
  private readonly entryTtlMs: number;
  private readonly lostGraceMs: number;
  private readonly maxNodes: number;
  private readonly maxLinks: number;
  private readonly peerRatePerSecond: number;
  private readonly peerBurst: number;
  private moniker = '';
  private lastSeq = 0;
  private lastAnnouncedAt = -Infinity;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private running = false;

  constructor(private readonly options: TopologyAgentOptions) {
    super();
    if (!(NODE_KINDS as readonly string[]).includes(options.kind)) throw new RangeError(`kind must be one of ${NODE_KINDS.join(', ')}`);
    this.now = options.now ?? (() => monotonicNow(this.sw?.options.clock ?? systemClock));
    this.announceIntervalMs = options.announceIntervalMs ?? DEFAULT_ANNOUNCE_INTERVAL_MS;
    this.entryTtlMs = options.entryTtlMs ?? DEFAULT_ENTRY_TTL_MS;
    this.lostGraceMs = Math.min(this.entryTtlMs, 2 * this.announceIntervalMs + MIN_ORIGIN_INTERVAL_MS);
    this.maxNodes = options.maxNodes ?? DEFAULT_MAX_NODES;
    this.maxLinks = Math.min(options.maxLinks ?? MAX_LINKS_PER_ANNOUNCEMENT, MAX_LINKS_PER_ANNOUNCEMENT);
    this.peerRatePerSecond = options.peerRatePerSecond ?? DEFAULT_PEER_RATE_PER_S;
    this.peerBurst = options.peerBurst ?? DEFAULT_PEER_BURST;
    if (options.onChange !== undefined) this.listeners.add(options.onChange);
    const limits = messagePaceLimits(this.peerRatePerSecond, this.peerBurst, MAX_ANNOUNCEMENT_BYTES, FORWARD_QUEUE_PER_SOURCE, FORWARD_QUEUE);
    this.forwarding = new PacedForwarding<Forward>(limits, FORWARD_DRAIN_INTERVAL_MS, (peer, forward) => this.sendNow(peer, forward));
  }

  /** Subscribes to changes of the view; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  override start(sw: Switch): void {
    if (this.running) return;
    super.start(sw);
    this.running = true;
    this.moniker = truncateUtf8(this.options.moniker ?? sw.options.moniker, MAX_MONIKER_BYTES);
    this.ticker = setInterval(() => this.tick(), Math.min(this.announceIntervalMs, 1000));
  }

  override stop(): void {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.ticker);
    clearTimeout(this.pending);
    this.ticker = undefined;
    this.pending = undefined;
    this.forwarding.stop();
    super.stop();
  }

  override addPeer(peer: Peer): void {
    peer.data.set(PEER_STATE, {
      bucket: new TokenBucket(this.peerBurst, this.peerRatePerSecond, this.now),
      known: new BoundedMap<string, { seq: number; at: number }>(PEER_KNOWN_CAPACITY),
    } satisfies PeerState);
    this.lost.delete(peer.id);
    if (this.sw !== undefined) this.forwarding.open(this.sw, peer);
    if (peer.hasChannel(TopologyCh)) {
      // Hand the newcomer what we know, so its graph fills in at once rather than over the next round.
      // Not paced: at most the table (64), while the peer's allowance for us (a burst of 128) and our
      // pace toward it (half of that) are both whole.
      for (const entry of this.entries.values()) {
        // As in forwarding: an entry at the hop limit stays here (the newcomer's decoder refuses more hops).
        if (entry.origin !== peer.id && this.isLive(entry) && entry.hops + 1 <= MAX_TOPOLOGY_HOPS) this.sendTo(peer, entry);
      }
    }
    this.linksChanged();
  }

  override removePeer(peer: Peer): void {
    peer.data.delete(PEER_STATE);
    this.forwarding.close(peer);
    // What it said about itself may be stale now. If it is still up elsewhere, its next announcement
    // reaches us through others before this shortened deadline; if not, it is gone.
    const now = this.now();
    this.lost.set(peer.id, now);
    const entry = this.entries.get(peer.id);
    if (entry !== undefined) entry.expiresAt = Math.min(entry.expiresAt, now + this.lostGraceMs);
    this.linksChanged();
  }

  receive(_channelId: number, peer: Peer, message: Uint8Array): void {
    this.counters.received++;
    const state = peer.data.get(PEER_STATE) as PeerState | undefined;
    if (state === undefined) return;
    if (!state.bucket.take()) {
      this.counters.rateLimited++;
      return;
    }
    const announcement = decodeAnnouncement(message, peer.id); // throws: the Switch drops the peer
    const { origin, seq, hops } = announcement;
    if (hops === 0 && origin !== peer.id) {
      throw new ProtocolError('ERR_SPOOFED_SENDER', `Topology announcement with hops 0 from ${peer.id} claims origin ${origin}`, { peerId: peer.id });
    }
    const sw = this.sw;
    if (sw === undefined) return;
    const now = this.now();
    if (!this.peerHas(state, origin, seq, now)) state.known.set(origin, { seq, at: now });
    const existing = this.entries.get(origin);
    if (origin === sw.nodeId || (origin !== peer.id && sw.getPeer(origin) !== undefined) || (existing !== undefined && seq <= existing.seq)) {
      this.counters.ignored++;
      return;
    }
    if (existing !== undefined && now - existing.acceptedAt < MIN_ORIGIN_INTERVAL_MS) {
      this.counters.rateLimited++;
      return;
    }
    if (existing === undefined && this.entries.size >= this.maxNodes) {
      this.sweep(now);
      if (this.entries.size >= this.maxNodes && !this.evictForNewcomer(peer.id)) {
        this.counters.refusedFull++;
        return;
      }
    }
    // Re-inserted so that the table iterates oldest-announced first.
    this.entries.delete(origin);
    const ttl = origin !== peer.id && this.lost.get(origin) !== undefined ? this.lostGraceMs : this.entryTtlMs;
    const entry: Entry = { ...announcement, acceptedAt: now, expiresAt: now + ttl, via: peer.id };
    this.entries.set(origin, entry);
    this.counters.accepted++;
    if (hops + 1 <= MAX_TOPOLOGY_HOPS) {
      const message = this.forwardedBytes(entry);
      for (const other of sw.peers) {
        if (other === peer || other.id === origin || !this.takes(other, origin, seq, message, now)) continue;
        this.forwarding.forward(other, { origin, seq, message, relayed: true }, message.length, peer);
      }
    }
    this.changed();
  }

  /** The view: our own links and every live origin's. */
  snapshot(): TopologySnapshot {
    const now = this.now();
    const sw = this.sw;
    return {
      self: { id: sw?.nodeId ?? '', moniker: this.moniker, kind: this.options.kind, links: this.ownLinks() },
      nodes: [...this.entries.values()]
        .filter((entry) => this.isLive(entry, now))
        .map((entry) => ({
          id: entry.origin,
          moniker: entry.moniker,
          kind: entry.kind,
          hops: entry.hops + 1,
          ageMs: now - entry.acceptedAt,
          via: entry.via,
          links: entry.links.map((link) => ({ ...link })),
        })),
      stats: { ...this.counters },
    };
  }

  stats(): TopologyStats {
    return { ...this.counters };
  }

  /** Our links as announced: the first `maxLinks` peers whose transport is one we can name. */
  ownLinks(): TopologyLink[] {
    const links: TopologyLink[] = [];
    for (const peer of this.sw?.peers ?? []) {
      if (links.length >= this.maxLinks) break;
      const transport = peer.transport as LinkTransport;
      if ((LINK_TRANSPORTS as readonly string[]).includes(transport)) links.push({ peer: peer.id, transport });
    }
    return links;
  }

  /** Announces our links now (normally the timer and peer changes do it). */
  announce(): void {
    const sw = this.sw;
    if (!this.running || sw === undefined) return;
    clearTimeout(this.pending);
    this.pending = undefined;
    const now = this.now();
    this.lastAnnouncedAt = now;
    // On the wall clock: a restarted node's first seq must pass what it announced before.
    this.lastSeq = Math.max(sw.options.clock.now(), this.lastSeq + 1);
    const own: Announcement = { origin: sw.nodeId, seq: this.lastSeq, moniker: this.moniker, kind: this.options.kind, hops: 0, links: this.ownLinks() };
    const message = encodeAnnouncement(own);
    for (const peer of sw.peers) {
      if (this.takes(peer, own.origin, own.seq, message, now)) this.forwarding.forward(peer, { origin: own.origin, seq: own.seq, message, relayed: false }, message.length, undefined);
    }
  }

  /** Passes `entry` on to `peer` (one hop further) now, unless the peer has it already (the newcomer's handoff). */
  private sendTo(peer: Peer, entry: Entry): void {
    this.sendNow(peer, { origin: entry.origin, seq: entry.seq, message: this.forwardedBytes(entry), relayed: false });
  }

  /** The entry as we pass it on (hops + 1), encoded once. */
  private forwardedBytes(entry: Entry): Uint8Array {
    const { origin, seq, moniker, kind, hops, links } = entry;
    return (entry.forwarded ??= encodeAnnouncement({ origin, seq, moniker, kind, hops: hops + 1, links }));
  }

  /** Whether `peer` takes it: the channel, room (trySend throws past a declared capacity), not that seq or later already. */
  private takes(peer: Peer, origin: string, seq: number, message: Uint8Array, now: number): boolean {
    const state = peer.data.get(PEER_STATE) as PeerState | undefined;
    return state !== undefined && peer.hasChannel(TopologyCh) && peer.maxMessageBytes(TopologyCh) >= message.length && !this.peerHas(state, origin, seq, now);
  }

  /**
   * Sends an announcement to `peer` now, unless it has it (or a later one) by now, or a later one of its
   * origin waits behind it (two of one origin in a row: the peer would refuse the later as too soon).
   */
  private sendNow(peer: Peer, { origin, seq, message, relayed }: Forward): boolean {
    const now = this.now();
    if (relayed && (this.entries.get(origin)?.seq ?? seq) > seq) return false;
    if (!this.takes(peer, origin, seq, message, now) || !peer.trySend(TopologyCh, message)) return false;
    (peer.data.get(PEER_STATE) as PeerState).known.set(origin, { seq, at: now });
    if (relayed) this.counters.forwarded++;
    return true;
  }

  /** Whether the peer has `origin`'s announcement `seq` or a later one, as far as we learnt within an entry lifetime. */
  private peerHas(state: PeerState, origin: string, seq: number, now: number): boolean {
    const known = state.known.get(origin);
    return known !== undefined && known.seq >= seq && now - known.at < this.entryTtlMs;
  }

  private tick(): void {
    const now = this.now();
    if (this.sweep(now) > 0) this.changed();
    if (now - this.lastAnnouncedAt >= this.announceIntervalMs) this.announce();
  }

  /** Drops expired entries; returns how many. */
  private sweep(now: number): number {
    let dropped = 0;
    for (const [origin, entry] of this.entries) {
      if (entry.expiresAt > now) continue;
      this.entries.delete(origin);
      dropped++;
    }
    this.counters.expired += dropped;
    return dropped;
  }

  /**
   * The table is full and `via` brings a new origin: if another peer brought more than one entry more
   * than `via` did, that peer's oldest-announced entry gives way (true). So a peer that invents origins
   * holds at most its share of a full table, and what the others bring still gets in; a page hears
   * nearly all of the mesh through its relay. Before, one peer's 64 made-up origins, renewed within
   * their lifetime, kept every other node off the page's graph for as long as it liked.
   */
  private evictForNewcomer(via: string): boolean {
    const counts = new Map<string, number>();
    for (const entry of this.entries.values()) counts.set(entry.via, (counts.get(entry.via) ?? 0) + 1);
    let most: string | undefined;
    let mostCount = 0;
    for (const [peerId, count] of counts) {
      if (count > mostCount) [most, mostCount] = [peerId, count];
    }
    if (most === undefined || mostCount <= (counts.get(via) ?? 0) + 1) return false;
    for (const [origin, entry] of this.entries) {
      if (entry.via !== most) continue;
      this.entries.delete(origin);
      this.counters.evicted++;
      return true;
    }
    return false;
  }

  private isLive(entry: Entry, now = this.now()): boolean {
    return entry.expiresAt > now;
  }

  /** Our links changed: announce soon, but not more often than MIN_ANNOUNCE_GAP_MS. */
  private linksChanged(): void {
    this.changed();
    if (!this.running || this.pending !== undefined) return;
    const wait = Math.max(CHANGE_SETTLE_MS, this.lastAnnouncedAt + MIN_ANNOUNCE_GAP_MS - this.now());
    this.pending = setTimeout(() => this.announce(), wait);
  }

  private changed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        console.error('TopologyAgent: a change listener threw', error);
      }
    }
  }
}
