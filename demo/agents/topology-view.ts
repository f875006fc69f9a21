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
