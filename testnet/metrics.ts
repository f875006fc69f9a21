import type { NodeKind, PerturbationOp } from './manifest.js';
import type { NodeEvent } from './node-process.js';

/** A node as the report needs it. */
export interface NodeFacts {
  name: string;
  nodeId: string;
  kind: NodeKind;
  nat: string | undefined;
  /** Peers at which the node counts as in the mesh. */
  target: number;
}

/** A perturbation as it was carried out (wall-clock ms). */
export interface ExecutedAction {
  t: number;
  op: PerturbationOp;
  node: string;
}

export interface RunFacts {
  manifest: string;
  nodes: NodeFacts[];
  events: readonly NodeEvent[];
  actions: ExecutedAction[];
  launchedAt: number;
  /** When every node first had its target (undefined: never, within meshTimeoutS). */
  meshAt: number | undefined;
  /** Gossip is counted from here … */
  windowStart: number;
  /** … to here; deliveries until `collectedAt`. */
  windowEnd: number;
  collectedAt: number;
  turnIp: string | undefined;
  /** Largest resident memory seen per node, KiB. */
  maxRssKb: Map<string, number>;
  linkStats: Record<string, { up: [number, number]; down: [number, number] }>;
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface Report {
  manifest: string;
  nodes: number;
  meshFormed: boolean;
  /** ms from launch until every node had its target; per node in `perNode`. */
  timeToTargetMs: number | null;
  nodesNeverAtTarget: string[];
  gossip: {
    originated: number;
    /** Originated while the origin had no peer (the mempool gossips new txs only once): cannot spread. */
    orphaned: number;
    /** Originated while the origin's link was cut. */
    originatedWhileCut: number;
    stableReceivers: number;
    expectedDeliveries: number;
    deliveries: number;
    deliveryRatio: number | null;
    /**
     * Every node counted that was running, unperturbed and not restarted in the last 10 s, from the
     * tx's origination until 10 s later: under churn, where no node but the relays stays up throughout.
     */
    liveExpected: number;
    liveDeliveries: number;
    liveDeliveryRatio: number | null;
    latencyMs: Percentiles;
    /** A node told twice about one tx by its mempool within one process run. */
    duplicates: number;
    /** The same, counting across restarts (a restarted node starts with an empty mempool). */
    duplicatesAcrossRestarts: number;
  };
  links: { tcpToRelay: number; tcpDirect: number; webrtcDirect: number; webrtcTurn: number; webrtcUnknownRoute: number };
  reconnect: Record<string, Percentiles & { over10s: number; never: number }>;
  memoryMiB: { min: number | null; median: number | null; max: number | null };
  perNode: Array<{ name: string; kind: NodeKind; nat: string; timeToTargetMs: number | null; peersAtEnd: number; maxRssMiB: number | null; restarts: number }>;
  links_emulated: Record<string, { up: [number, number]; down: [number, number] }>;
}

const RECONNECT_GOAL_MS = 10 * 1000;
/** A node counts as live for a tx when nothing happened to it within this long before or after. */
const LIVE_SETTLE_MS = 10 * 1000;

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number | null => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.length === 0 ? null : sorted[sorted.length - 1]! };
}

/** Replays connect/disconnect events: each node's peers (id → transport) as time goes. */
class PeerTracker {
  readonly peers = new Map<string, Map<string, 'tcp' | 'webrtc'>>();
  apply(event: NodeEvent): void {
    let set = this.peers.get(event.node);
    if (set === undefined) this.peers.set(event.node, (set = new Map()));
    if (event.kind === 'started' || event.kind === 'exited') set.clear();
    else if (event.kind === 'connected') set.set(event.peer, event.transport);
    else if (event.kind === 'disconnected') set.delete(event.peer);
  }
  count(node: string): number {
    return this.peers.get(node)?.size ?? 0;
  }
}

export function buildReport(facts: RunFacts): Report {
  const events = [...facts.events].sort((a, b) => a.t - b.t);
  const nameOf = new Map(facts.nodes.map((node) => [node.nodeId, node.name]));
  const perturbed = new Set(facts.actions.filter((action) => action.op !== 'loss').map((action) => action.node));
  const stable = facts.nodes.filter((node) => !perturbed.has(node.name)).map((node) => node.name);
  const cutIntervals = intervals(facts.actions, 'cut', 'heal', facts.collectedAt);

  // Time to target, peer counts at origination, links at the end.
  const tracker = new PeerTracker();
  const reachedAt = new Map<string, number>();
  const peersAtOrigin = new Map<string, number>();
  const targetOf = new Map(facts.nodes.map((node) => [node.name, node.target]));
  for (const event of events) {
    tracker.apply(event);
    if (event.kind === 'connected' && !reachedAt.has(event.node) && tracker.count(event.node) >= (targetOf.get(event.node) ?? 1)) reachedAt.set(event.node, event.t);
    if (event.kind === 'tx' && event.local) peersAtOrigin.set(event.hash, tracker.count(event.node));
  }
  const timeToTarget = facts.nodes.map((node) => reachedAt.get(node.name));
  const never = facts.nodes.filter((_, i) => timeToTarget[i] === undefined).map((node) => node.name);

  // Gossip.
  const origins = events.filter((e): e is Extract<NodeEvent, { kind: 'tx' }> => e.kind === 'tx' && e.local && e.t >= facts.windowStart && e.t <= facts.windowEnd);
  const firstSeen = new Map<string, Map<string, number>>(); // hash → node → t
  const seenPerRun = new Map<string, number>();
  const seenPerNode = new Map<string, number>();
  for (const event of events) {
    if (event.kind !== 'tx') continue;
    let byNode = firstSeen.get(event.hash);
    if (byNode === undefined) firstSeen.set(event.hash, (byNode = new Map()));
    if (!byNode.has(event.node)) byNode.set(event.node, event.t);
    const runKey = `${event.node}/${event.run}/${event.hash}`;
    seenPerRun.set(runKey, (seenPerRun.get(runKey) ?? 0) + 1);
    const nodeKey = `${event.node}/${event.hash}`;
    seenPerNode.set(nodeKey, (seenPerNode.get(nodeKey) ?? 0) + 1);
  }
  let orphaned = 0;
  let whileCut = 0;
  let expected = 0;
  let delivered = 0;
  const latencies: number[] = [];
  for (const origin of origins) {
    if (cutIntervals.get(origin.node)?.some(([from, to]) => origin.t >= from && origin.t <= to)) {
      whileCut++;
      continue;
    }
    if ((peersAtOrigin.get(origin.hash) ?? 0) === 0) {
      orphaned++;
      continue;
    }
    const seen = firstSeen.get(origin.hash)!;
    for (const receiver of stable) {
      if (receiver === origin.node) continue;
      expected++;
      const t = seen.get(receiver);
      if (t === undefined || t > facts.collectedAt) continue;
      delivered++;
      latencies.push(t - origin.t);
    }
  }
  // Live receivers: no perturbation span overlapping [t - settle, t + settle] (a restart counts as the end of one).
  const spans = new Map<string, Array<[number, number]>>();
  for (const [open, close] of [['kill', 'restart'], ['pause', 'resume'], ['cut', 'heal']] as const) {
    for (const [node, list] of intervals(facts.actions, open, close, facts.collectedAt)) spans.set(node, [...(spans.get(node) ?? []), ...list]);
  }
  const live = (node: string, t: number): boolean => !(spans.get(node) ?? []).some(([from, to]) => from <= t + LIVE_SETTLE_MS && to >= t - LIVE_SETTLE_MS);
  let liveExpected = 0;
  let liveDelivered = 0;
  for (const origin of origins) {
    if ((peersAtOrigin.get(origin.hash) ?? 0) === 0 || !live(origin.node, origin.t)) continue;
    const seen = firstSeen.get(origin.hash)!;
    for (const node of facts.nodes) {
      if (node.name === origin.node || !live(node.name, origin.t)) continue;
      liveExpected++;
      const t = seen.get(node.name);
      if (t !== undefined && t <= facts.collectedAt) liveDelivered++;
    }
  }
  const extra = (counts: Map<string, number>): number => [...counts.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);

  // Links at the end, each counted once (from the side with the lower node id).
  const links = { tcpToRelay: 0, tcpDirect: 0, webrtcDirect: 0, webrtcTurn: 0, webrtcUnknownRoute: 0 };
  const kindOf = new Map(facts.nodes.map((node) => [node.name, node.kind]));
  const idOf = new Map(facts.nodes.map((node) => [node.name, node.nodeId]));
  const routes = new Map<string, string[]>();
  for (const event of events) if (event.kind === 'route') routes.set(pairKey(idOf.get(event.node)!, event.peer), event.addresses);
  for (const [node, peers] of tracker.peers) {
    for (const [peerId, transport] of peers) {
      const peerName = nameOf.get(peerId);
      if (peerName === undefined || idOf.get(node)! > peerId || !tracker.peers.get(peerName)?.has(idOf.get(node)!)) continue;
      if (transport === 'tcp') {
        if (kindOf.get(node) === 'relay' || kindOf.get(peerName) === 'relay') links.tcpToRelay++;
        else links.tcpDirect++;
      } else {
        const route = routes.get(pairKey(idOf.get(node)!, peerId));
        if (route === undefined) links.webrtcUnknownRoute++;
        else if (facts.turnIp !== undefined && route.includes(facts.turnIp)) links.webrtcTurn++;
        else links.webrtcDirect++;
      }
    }
  }

  // Reconnects after restarts (first peer), resumes and heals (first gossip received).
  const reconnect: Report['reconnect'] = {};
  for (const op of ['restart', 'resume', 'heal'] as const) {
    const times: number[] = [];
    let neverBack = 0;
    for (const action of facts.actions.filter((a) => a.op === op)) {
      const back = events.find((e) => e.node === action.node && e.t >= action.t && (op === 'restart' ? e.kind === 'connected' : e.kind === 'tx' && !e.local));
      if (back === undefined) neverBack++;
      else times.push(back.t - action.t);
    }
    if (times.length + neverBack > 0) reconnect[op === 'restart' ? 'restart→first peer' : `${op}→first gossip`] = { ...percentiles(times), over10s: times.filter((ms) => ms > RECONNECT_GOAL_MS).length, never: neverBack };
  }
  const restartGossip: number[] = [];
  for (const action of facts.actions.filter((a) => a.op === 'restart')) {
    const back = events.find((e) => e.node === action.node && e.t >= action.t && e.kind === 'tx' && !e.local);
    if (back !== undefined) restartGossip.push(back.t - action.t);
  }
  if (restartGossip.length > 0) reconnect['restart→first gossip'] = { ...percentiles(restartGossip), over10s: restartGossip.filter((ms) => ms > RECONNECT_GOAL_MS).length, never: facts.actions.filter((a) => a.op === 'restart').length - restartGossip.length };

  const rss = facts.nodes.map((node) => facts.maxRssKb.get(node.name)).filter((kb): kb is number => kb !== undefined).sort((a, b) => a - b);
  const mib = (kb: number | undefined): number | null => (kb === undefined ? null : Math.round((kb / 1024) * 10) / 10);
  return {
    manifest: facts.manifest,
    nodes: facts.nodes.length,
    meshFormed: facts.meshAt !== undefined,
    timeToTargetMs: facts.meshAt === undefined ? null : facts.meshAt - facts.launchedAt,
    nodesNeverAtTarget: never,
    gossip: {
      originated: origins.length,
      orphaned,
      originatedWhileCut: whileCut,
      stableReceivers: stable.length,
      expectedDeliveries: expected,
      deliveries: delivered,
      deliveryRatio: expected === 0 ? null : delivered / expected,
      liveExpected,
      liveDeliveries: liveDelivered,
      liveDeliveryRatio: liveExpected === 0 ? null : liveDelivered / liveExpected,
      latencyMs: percentiles(latencies),
      duplicates: extra(seenPerRun),
      duplicatesAcrossRestarts: extra(seenPerNode),
    },
    links,
    reconnect,
    memoryMiB: { min: mib(rss[0]), median: mib(rss[Math.floor(rss.length / 2)]), max: mib(rss[rss.length - 1]) },
    perNode: facts.nodes.map((node, i) => ({
      name: node.name,
      kind: node.kind,
      nat: node.nat ?? 'public',
      timeToTargetMs: timeToTarget[i] === undefined ? null : timeToTarget[i]! - facts.launchedAt,
      peersAtEnd: tracker.count(node.name),
      maxRssMiB: mib(facts.maxRssKb.get(node.name)),
      restarts: facts.actions.filter((a) => a.node === node.name && a.op === 'restart').length,
    })),
    links_emulated: facts.linkStats,
  };
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}/${b}` : `${b}/${a}`;
}

/** [start, end] per node of the spans between `open` and `close` actions (end: `until` if never closed). */
function intervals(actions: ExecutedAction[], open: PerturbationOp, close: PerturbationOp, until: number): Map<string, Array<[number, number]>> {
  const spans = new Map<string, Array<[number, number]>>();
  const opened = new Map<string, number>();
  for (const action of [...actions].sort((a, b) => a.t - b.t)) {
    if (action.op === open && !opened.has(action.node)) opened.set(action.node, action.t);
    if (action.op === close && opened.has(action.node)) {
      spans.set(action.node, [...(spans.get(action.node) ?? []), [opened.get(action.node)!, action.t]]);
      opened.delete(action.node);
    }
  }
  for (const [node, from] of opened) spans.set(node, [...(spans.get(node) ?? []), [from, until]]);
  return spans;
}

/** The human table. */
export function formatReport(report: Report): string {
  const g = report.gossip;
  const ms = (value: number | null): string => (value === null ? '–' : `${Math.round(value)} ms`);
  const lines = [
    `testnet ${report.manifest}: ${report.nodes} nodes`,
    `  mesh formed                 ${report.meshFormed ? `yes, every node at its target after ${ms(report.timeToTargetMs)}` : `NO (never at target: ${report.nodesNeverAtTarget.join(', ')})`}`,
    `  gossip originated           ${g.originated} txs (${g.orphaned} by a node with no peer, ${g.originatedWhileCut} while cut off: not counted)`,
    `  delivery to stable nodes    ${g.deliveries}/${g.expectedDeliveries} = ${g.deliveryRatio === null ? '–' : `${(g.deliveryRatio * 100).toFixed(2)} %`} (${g.stableReceivers} nodes never perturbed)`,
    `  delivery to live nodes      ${g.liveDeliveries}/${g.liveExpected} = ${g.liveDeliveryRatio === null ? '–' : `${(g.liveDeliveryRatio * 100).toFixed(2)} %`} (nodes untouched from 10 s before to 10 s after each tx)`,
    `  latency p50/p90/p99/max     ${ms(g.latencyMs.p50)} / ${ms(g.latencyMs.p90)} / ${ms(g.latencyMs.p99)} / ${ms(g.latencyMs.max)}`,
    `  duplicates                  ${g.duplicates} within a process run, ${g.duplicatesAcrossRestarts} across restarts`,
    `  links at the end            tcp to a relay ${report.links.tcpToRelay}, tcp direct ${report.links.tcpDirect}, webrtc direct ${report.links.webrtcDirect}, webrtc via TURN ${report.links.webrtcTurn}${report.links.webrtcUnknownRoute > 0 ? `, webrtc route unknown ${report.links.webrtcUnknownRoute}` : ''}`,
  ];
  for (const [what, p] of Object.entries(report.reconnect)) {
    lines.push(`  ${what.padEnd(27)} n=${p.count} p50 ${ms(p.p50)} p90 ${ms(p.p90)} max ${ms(p.max)}; over 10 s: ${p.over10s}; never: ${p.never}`);
  }
  lines.push(`  memory per node (max RSS)   min ${report.memoryMiB.min ?? '–'} MiB, median ${report.memoryMiB.median ?? '–'} MiB, max ${report.memoryMiB.max ?? '–'} MiB`);
  return lines.join('\n');
}
