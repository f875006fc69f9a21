import type { NodeKind, TopologyLink } from './topology-wire.js';

/** The view a TopologyAgent offers (its `snapshot()`): what the demo's graph is drawn from. */

/** What the table says about one node. */
export interface TopologyNode {
  id: string;
  moniker: string;
  kind: NodeKind;
  /** Links its announcement travelled to reach us (1: from the node itself). */
  hops: number;
  /** Since we accepted its latest announcement. */
  ageMs: number;
  /** The peer that brought it. */
  via: string;
  links: TopologyLink[];
}

export interface TopologyStats {
  received: number;
  accepted: number;
  forwarded: number;
  /** Old, repeated, or forwarded copies of what a direct peer says itself. */
  ignored: number;
  /** Over a peer's rate, or an origin announcing too often. */
  rateLimited: number;
  /** New origins turned away because the table was full. */
  refusedFull: number;
  /** Entries dropped for a new origin from a peer that brought fewer (see TopologyAgent: the table's share per peer). */
  evicted: number;
  expired: number;
}

export interface TopologySnapshot {
  self: { id: string; moniker: string; kind: NodeKind; links: TopologyLink[] };
  nodes: TopologyNode[];
  stats: TopologyStats;
}

/** Options of a TopologyAgent (demo/agents/topology.ts, where the defaults named here are). */
export interface TopologyAgentOptions {
  kind: NodeKind;
  /** @default the Switch's moniker */
  moniker?: string;
  /** @default DEFAULT_ANNOUNCE_INTERVAL_MS */
  announceIntervalMs?: number;
  /** @default DEFAULT_ENTRY_TTL_MS */
  entryTtlMs?: number;
  /** @default DEFAULT_MAX_NODES */
  maxNodes?: number;
  /** Links put in our own announcements, at most. @default MAX_LINKS_PER_ANNOUNCEMENT */
  maxLinks?: number;
  /** @default DEFAULT_PEER_RATE_PER_S */
  peerRatePerSecond?: number;
  /** @default DEFAULT_PEER_BURST */
  peerBurst?: number;
  /** Called after the view changed (an entry came, went or changed; our own links changed). */
  onChange?: () => void;
  /**
   * Milliseconds that never step, for what is aged and paced in memory (entries, our announcements, the
   * peers' buckets): on the wall clock, a step back kept us from announcing and every origin's news out
   * for as long as the step. Our announcements' seq stays on the switch clock's now(), across restarts.
   * @default the switch clock's monotonicNow()
   */
  now?: () => number;
}
