/**
 * One simulation run: builds the network, starts nodes at seeded random moments, plays the scenario
 * (churn, a seed dying, a split and heal, quiet attackers turning) on the simulated clock, and measures.
 * The report depends only on the config (rngSeed included); what the run cost the machine is apart.
 */
import { EventEmitter } from 'node:events';
import { SimClock, SIM_EPOCH_MS } from './sim-clock.js';
import type { SimConfig } from './sim-config.js';
import { AddressPlan, attackerHosts, nodeFactory, type SimNode } from './sim-network.js';
import { measureGraph, measureTraffic, type GraphReport, type TrafficReport } from './sim-report.js';
import { seededRandom } from './seeded-random.js';
import { SimInternet } from './sim-transport.js';

export interface SimReport {
  config: SimConfig;
  /** Simulated seconds from the start until every running honest node first had maxOutbound outbound peers. */
  timeToTargetSec: number | null;
  /** Simulated seconds the run lasted. */
  simulatedSec: number;
  nodesMade: number;
  maliciousNodes: number;
  graph: GraphReport;
  /** The graph just before the split healed (only with --split-at and --heal-at). */
  graphAtSplit?: GraphReport;
  /** The graph when the quiet attackers turned. */
  graphAtTurn?: GraphReport;
  traffic: TrafficReport;
  /** Dials on the simulated internet, and how many were lost (loss or split). */
  internet: { dials: number; lostDials: number };
  churn: { left: number; joined: number };
}

export interface SimCost {
  wallSec: number;
  cpuSec: number;
  /** Heap in use at the end, with every node alive (after a full GC when the process runs with --expose-gc, as `npm run sim` does). */
  heapMB: number;
  rssMB: number;
  heapKBPerNode: number;
  timersFired: number;
}

/** How often the harness looks at the network (time to target, the end), simulated ms. */
const CHECK_INTERVAL_MS = 1000;
/** Churn happens in steps this far apart, simulated ms. */
const CHURN_STEP_MS = 10 * 1000;
const MS = 1000;

export async function runSimulation(config: SimConfig, onProgress?: (line: string) => void): Promise<{ report: SimReport; cost: SimCost }> {
  // Each in-flight dial hangs an abort listener on its Switch's stop signal; a node dialling 10+ at
  // once is normal here, not a leak.
  EventEmitter.defaultMaxListeners = Math.max(EventEmitter.defaultMaxListeners, 1000);
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const random = seededRandom(config.rngSeed);
  const clock = new SimClock();
  const internet = new SimInternet({ clock, random, latencyMs: config.latencyMs, lossRate: config.loss });
  const plan = new AddressPlan(random);
  const factory = nodeFactory(config, clock, internet, random);
  const nodes: SimNode[] = [];
  const sinceStart = (): number => clock.now() - SIM_EPOCH_MS;

  for (let i = 0; i < config.seeds; i++) nodes.push(factory.make('seed', plan.freshHost()));
  const maliciousCount = Math.round(config.nodes * config.malicious);
  const attackerAt = attackerHosts(config, maliciousCount, plan, factory.coalition);
  // Attackers are spread over the start order: a seeded shuffle of who is who.
  const kinds = Array.from({ length: config.nodes }, (_, i): 'malicious' | 'honest' => (i < maliciousCount ? 'malicious' : 'honest'));
  shuffle(kinds, random);
  let attackerIndex = 0;
  for (const kind of kinds) nodes.push(factory.make(kind, kind === 'malicious' ? attackerAt[attackerIndex++]! : plan.freshHost()));

  // Outbound counts kept up to date from the switches' events: an O(1) time-to-target check.
  const target = config.maxOutbound;
  let honestLive = 0;
  let honestAtTarget = 0;
  const track = (node: SimNode): void => {
    if (node.kind !== 'honest') return;
    let outbound = 0;
    node.sw.on('peer:connected', ({ peer }) => {
      if (peer.direction !== 'outbound' || node.left) return;
      if (++outbound === target) honestAtTarget++;
    });
    node.sw.on('peer:disconnected', ({ peer }) => {
      if (peer.direction !== 'outbound' || node.left) return;
      if (outbound-- === target) honestAtTarget--;
    });
    node.leave = () => {
      if (outbound >= target) honestAtTarget--;
      honestLive--;
    };
  };
  const start = (node: SimNode): void => {
    track(node);
    clock.setTimeout(() => {
      node.started = true;
      if (node.kind === 'honest') honestLive++;
      node.sw.start().catch((error: unknown) => onProgress?.(`node ${node.index} failed to start: ${String(error)}`));
    }, node.startAtMs);
  };
  const leave = (node: SimNode): void => {
    if (node.left || !node.started) return;
    node.leave?.();
    node.left = true;
    void node.sw.stop();
  };
  for (const node of nodes) {
    node.startAtMs = node.kind === 'seed' ? 0 : Math.floor(random() * config.staggerSec * MS);
    start(node);
  }

  const report: Partial<SimReport> = {};
  let timeToTargetSec: number | null = null;
  let lastEventMs = config.staggerSec * MS;
  const at = (sec: number, action: () => void): void => {
    if (sec < 0) return;
    lastEventMs = Math.max(lastEventMs, sec * MS);
    clock.setTimeout(action, sec * MS);
  };

  at(config.seedDiesAtSec, () => leave(nodes[0]!));
  if (config.splitAtSec >= 0) {
    // Two halves by a seeded coin per host; seeds too.
    const side = new Map(nodes.map((node) => [node.host, random() < 0.5 ? 0 : 1]));
    at(config.splitAtSec, () => internet.split((host) => side.get(host) ?? 0));
    at(config.healAtSec, () => {
      report.graphAtSplit = measureGraph(nodes, target);
      internet.heal();
    });
  }
  const turnQuietAttackers = (): void => {
    if (factory.coalition.active) return;
    report.graphAtTurn = measureGraph(nodes, target);
    factory.coalition.active = true;
    // They drop their honest peers, so that those dial again, from books the attackers helped fill.
    for (const node of nodes) if (node.kind === 'malicious') for (const peer of node.sw.peers) void node.sw.disconnect(peer);
  };
  if (config.attack === 'quiet') at(config.quietUntilSec, turnQuietAttackers);

  let joined = 0;
  let left = 0;
  if (config.churnPerMin > 0) {
    const churnEndMs = (config.staggerSec + config.churnSec) * MS;
    lastEventMs = Math.max(lastEventMs, churnEndMs);
    const step = clock.setInterval(() => {
      if (sinceStart() > churnEndMs) return clock.clearInterval(step);
      const expected = (config.churnPerMin * honestLive * CHURN_STEP_MS) / (60 * MS);
      const count = Math.floor(expected) + (random() < expected % 1 ? 1 : 0);
      const candidates = nodes.filter((node) => node.kind === 'honest' && node.started && !node.left);
      for (let i = 0; i < count && candidates.length > 0; i++) {
        const [node] = candidates.splice(Math.floor(random() * candidates.length), 1);
        leave(node!);
        left++;
        const fresh = factory.make('honest', plan.freshHost());
        fresh.startAtMs = 0;
        nodes.push(fresh);
        start(fresh);
        joined++;
      }
    }, CHURN_STEP_MS);
  }

  let endMs = config.maxSec * MS;
  let lastProgressMs = 0;
  clock.setInterval(() => {
    const nowMs = sinceStart();
    const allStarted = nowMs >= config.staggerSec * MS;
    if (timeToTargetSec === null && allStarted && honestLive > 0 && honestAtTarget === honestLive) {
      timeToTargetSec = nowMs / MS;
      onProgress?.(`${timeToTargetSec} s: every honest node has its ${target} outbound peers`);
      if (config.attack === 'quiet' && config.quietUntilSec < 0) {
        turnQuietAttackers();
        lastEventMs = Math.max(lastEventMs, nowMs);
      }
    }
    if (timeToTargetSec !== null || config.churnPerMin > 0) endMs = Math.min(endMs, Math.max(lastEventMs, (timeToTargetSec ?? 0) * MS) + config.settleSec * MS);
    if (nowMs - lastProgressMs >= 60 * MS) {
      lastProgressMs = nowMs;
      const heapMB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
      onProgress?.(`${nowMs / MS} s simulated, ${((performance.now() - wallStart) / 1000).toFixed(0)} s wall: ${honestAtTarget}/${honestLive} honest nodes at target, ${clock.pendingTimers} timers, heap ${heapMB} MB`);
    }
  }, CHECK_INTERVAL_MS);

  await clock.runUntil(SIM_EPOCH_MS + config.maxSec * MS, () => sinceStart() >= endMs);

  const cpu = process.cpuUsage(cpuStart);
  // Live heap, not whatever garbage the last collection left: what a node really holds.
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  const result: SimReport = {
    config,
    timeToTargetSec,
    simulatedSec: sinceStart() / MS,
    nodesMade: nodes.length,
    maliciousNodes: maliciousCount,
    graph: measureGraph(nodes, target),
    ...(report.graphAtSplit !== undefined ? { graphAtSplit: report.graphAtSplit } : {}),
    ...(report.graphAtTurn !== undefined ? { graphAtTurn: report.graphAtTurn } : {}),
    traffic: measureTraffic(nodes),
    internet: { dials: internet.dials, lostDials: internet.lostDials },
    churn: { left, joined },
  };
  const cost: SimCost = {
    wallSec: Number(((performance.now() - wallStart) / 1000).toFixed(2)),
    cpuSec: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    heapMB: Math.round(memory.heapUsed / 2 ** 20),
    rssMB: Math.round(memory.rss / 2 ** 20),
    heapKBPerNode: Math.round(memory.heapUsed / 1024 / Math.max(1, nodes.length)),
    timersFired: clock.firedTimers,
  };
  return { report: result, cost };
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
