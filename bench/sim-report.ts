/** Measurements over a simulation: connectivity, eclipse, attackers' shares, degrees, message counts. */
import type { SimNode } from './sim-network.js';

export interface Spread {
  min: number;
  p10: number;
  median: number;
  p90: number;
  max: number;
}

export interface GraphReport {
  honestNodes: number;
  /** Connected components of the graph of honest nodes and the links between them. */
  components: number;
  /** Honest nodes with outbound peers, all of them malicious. */
  eclipsed: number;
  /** Honest nodes with no outbound peer at all. */
  noOutbound: number;
  /** Honest nodes with at least maxOutbound outbound peers. */
  atTarget: number;
  /** Peers (in + out) per honest node. */
  degree: Spread;
  outbound: Spread;
  inbound: Spread;
  /** Entries in each honest node's address book (what a node's memory grows with). */
  bookSize: Spread;
  /** Share of honest nodes' outbound peers that are malicious. */
  maliciousOutboundShare: number;
  /** Share of honest nodes' inbound peers that are malicious. */
  maliciousInboundShare: number;
  /** Share of the entries in honest nodes' address books that are malicious or made up by attackers. */
  maliciousBookShare: number;
  /** Largest share of one honest node's outbound peers that is malicious. */
  worstMaliciousOutboundShare: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: 0, p10: 0, median: 0, p90: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { min: sorted[0]!, p10: at(0.1), median: at(0.5), p90: at(0.9), max: sorted[sorted.length - 1]! };
}

const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;

/** `nodes`: every node ever made; only the running ones are measured. */
export function measureGraph(nodes: readonly SimNode[], target: number): GraphReport {
  const live = nodes.filter((node) => node.started && !node.left);
  const honest = live.filter((node) => node.kind === 'honest');
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
  let noOutbound = 0;
  let atTarget = 0;
  let outboundTotal = 0;
  let maliciousOutbound = 0;
  let inboundTotal = 0;
  let maliciousInbound = 0;
  let worst = 0;
  const degrees: number[] = [];
  const outbounds: number[] = [];
  const inbounds: number[] = [];
  honest.forEach((node, i) => {
    let outbound = 0;
    let malicious = 0;
    let inbound = 0;
    for (const peer of node.sw.peers) {
      if (peer.direction === 'outbound') {
        outbound++;
        if (kindOf.get(peer.id) === 'malicious') malicious++;
      } else {
        inbound++;
        if (kindOf.get(peer.id) === 'malicious') maliciousInbound++;
      }
      const j = indexOf.get(peer.id);
      if (j !== undefined) parent[find(i)] = find(j);
    }
    degrees.push(outbound + inbound);
    outbounds.push(outbound);
    inbounds.push(inbound);
    outboundTotal += outbound;
    maliciousOutbound += malicious;
    inboundTotal += inbound;
    if (outbound === 0) noOutbound++;
    else if (malicious === outbound) eclipsed++;
    if (outbound >= target) atTarget++;
    if (outbound > 0) worst = Math.max(worst, malicious / outbound);
  });
  let bookEntries = 0;
  let maliciousEntries = 0;
  const countEntries = (nodeId: string, addressCount: number): void => {
    bookEntries += addressCount;
    const kind = kindOf.get(nodeId);
    if (kind === 'malicious' || kind === undefined) maliciousEntries += addressCount;
  };
  for (const node of honest) node.pex.book.forEachNodeId(countEntries);
  const bookSizes = honest.map((node) => node.pex.book.size());
  return {
    honestNodes: honest.length,
    components: new Set(honest.map((_, i) => find(i))).size,
    eclipsed,
    noOutbound,
    atTarget,
    degree: spread(degrees),
    outbound: spread(outbounds),
    inbound: spread(inbounds),
    bookSize: spread(bookSizes),
    maliciousOutboundShare: round4(outboundTotal === 0 ? 0 : maliciousOutbound / outboundTotal),
    maliciousInboundShare: round4(inboundTotal === 0 ? 0 : maliciousInbound / inboundTotal),
    maliciousBookShare: round4(bookEntries === 0 ? 0 : maliciousEntries / bookEntries),
    worstMaliciousOutboundShare: round4(worst),
  };
}

export interface TrafficReport {
  /** PEX messages sent by every node (requests + responses). */
  pexMessages: number;
  pexRequests: number;
  pexResponses: number;
  addressesReceived: number;
  /** Dials the PEX agents started, and how many failed. */
  dials: number;
  dialFailures: number;
  seedDials: number;
  misbehaviours: number;
}

export function measureTraffic(nodes: readonly SimNode[]): TrafficReport {
  const total: TrafficReport = { pexMessages: 0, pexRequests: 0, pexResponses: 0, addressesReceived: 0, dials: 0, dialFailures: 0, seedDials: 0, misbehaviours: 0 };
  for (const node of nodes) {
    if (!node.started) continue;
    const stats = node.pex.stats();
    total.pexRequests += stats.requestsSent;
    total.pexResponses += stats.responsesSent;
    total.addressesReceived += stats.addressesReceived;
    total.dials += stats.dials;
    total.dialFailures += stats.dialFailures;
    total.seedDials += stats.seedDials;
    total.misbehaviours += stats.misbehaviours;
  }
  total.pexMessages = total.pexRequests + total.pexResponses;
  return total;
}
