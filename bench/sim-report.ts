/** Measurements over a running simulation: connectivity, eclipse, degrees, message counts. */
import type { SimNode } from './sim-network.js';

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export interface GraphReport {
  /** Every honest node reachable from every other through links between honest nodes. */
  connected: boolean;
  /** Connected components of the honest subgraph. */
  components: number;
  /** Honest nodes with no honest outbound peer. */
  eclipsed: number;
  eclipsedShare: number;
  /** Peers (in + out) per honest node. */
  degree: Spread;
  /** Outbound peers per honest node. */
  outbound: Spread;
  /** Share of honest nodes' outbound peers that are malicious. */
  maliciousOutboundShare: number;
  /** Share of the entries in honest nodes' address books that are malicious. */
  maliciousBookShare: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: 0, median: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, max: sorted[sorted.length - 1]! };
}

/** True when every non-seed node has at least `target` outbound peers. */
export function allReachedTarget(nodes: readonly SimNode[], target: number): boolean {
  return nodes.every((node) => node.kind === 'seed' || node.sw.peerCounts().outbound >= target);
}

export function measureGraph(nodes: readonly SimNode[]): GraphReport {
  const honest = nodes.filter((node) => node.kind === 'honest');
  const kindOf = new Map(nodes.map((node) => [node.sw.nodeId, node.kind]));
  const indexOf = new Map(honest.map((node, i) => [node.sw.nodeId, i]));
  const parent = honest.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  let eclipsed = 0;
  let outboundTotal = 0;
  let maliciousOutbound = 0;
  const degrees: number[] = [];
  const outbounds: number[] = [];
  honest.forEach((node, i) => {
    const peers = node.sw.peers;
    degrees.push(peers.length);
    let honestOutbound = 0;
    let outbound = 0;
    for (const peer of peers) {
      const kind = kindOf.get(peer.id);
      if (peer.direction === 'outbound') {
        outbound++;
        if (kind === 'honest') honestOutbound++;
        if (kind === 'malicious') maliciousOutbound++;
      }
      const j = indexOf.get(peer.id);
      if (j !== undefined) parent[find(i)] = find(j);
    }
    outbounds.push(outbound);
    outboundTotal += outbound;
    if (honestOutbound === 0) eclipsed++;
  });
  let bookEntries = 0;
  let maliciousEntries = 0;
  for (const node of honest) {
    for (const entry of node.pex.book.entries()) {
      bookEntries++;
      if (kindOf.get(entry.nodeId) === 'malicious') maliciousEntries++;
    }
  }
  const roots = new Set(honest.map((_, i) => find(i)));
  return {
    connected: roots.size <= 1,
    components: roots.size,
    eclipsed,
    eclipsedShare: honest.length === 0 ? 0 : eclipsed / honest.length,
    degree: spread(degrees),
    outbound: spread(outbounds),
    maliciousOutboundShare: outboundTotal === 0 ? 0 : maliciousOutbound / outboundTotal,
    maliciousBookShare: bookEntries === 0 ? 0 : maliciousEntries / bookEntries,
  };
}

export interface TrafficReport {
  /** PEX messages sent by every node (requests + responses). */
  messages: number;
  requests: number;
  responses: number;
  dials: number;
  dialFailures: number;
  seedDials: number;
  misbehaviours: number;
}

export function measureTraffic(nodes: readonly SimNode[]): TrafficReport {
  const total: TrafficReport = { messages: 0, requests: 0, responses: 0, dials: 0, dialFailures: 0, seedDials: 0, misbehaviours: 0 };
  for (const node of nodes) {
    const stats = node.pex.stats();
    total.requests += stats.requestsSent;
    total.responses += stats.responsesSent;
    total.dials += stats.dials;
    total.dialFailures += stats.dialFailures;
    total.seedDials += stats.seedDials;
    total.misbehaviours += stats.misbehaviours;
  }
  total.messages = total.requests + total.responses;
  return total;
}
