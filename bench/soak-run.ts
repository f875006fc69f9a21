/**
 * The soak run: N node processes (bench/soak-node.ts) on 127.0.0.1 in a random graph of persistent
 * links, every one sending sequence-numbered messages to each peer; every few seconds a random node
 * other than slot 0 (the longest-lived one, whose heap is sampled) is SIGKILLed and restarted with
 * the same key on the same port, so its neighbours' ordinary persistent redial finds it again.
 * At the end every node stops gracefully and sends its final records; SoakLedger does the counting.
 *
 * Ports are fixed per slot and chosen below the kernel's ephemeral range: a restarted node must get
 * its port back, and no outgoing connection can be handed that port while the node is down.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { nodeKeyFromSecret } from '../src/crypto/keys.js';
import { incarnationKey, SoakLedger, type SoakTotals } from './soak-accounting.js';
import { seededRandom } from './seeded-random.js';
import { type FromSoakNode, type MemorySample, type SoakNodeConfig, type ToSoakNode } from './soak-protocol.js';

export interface SoakOptions {
  nodes: number;
  durationMs: number;
  seed: number;
  /** Mean time between kills (each gap is 0.5–1.5× this). @default 3000 */
  killIntervalMs?: number;
  /** Stop killing after this many. @default unlimited */
  maxKills?: number;
  /** A killed node is restarted after a delay in this range. @default [500, 2000] */
  restartDelayMs?: readonly [number, number];
  /** Average links per node. @default 4 */
  degree?: number;
  /** @default 50 */
  messagesPerSecondPerLink?: number;
  /** @default 64 */
  messageBytes?: number;
  /**
   * Stop sending and let queues drain before stopping the nodes. false: stop while traffic flows,
   * which also counts what a node accepted just as its neighbour closed. @default true
   */
  quiesceBeforeStop?: boolean;
  /** Progress lines (kills, restarts), for a human watching. */
  log?: (line: string) => void;
}

export interface HeapSample {
  seconds: number;
  heapUsedMB: number;
}

export interface SoakResult extends Omit<SoakTotals, 'problems'> {
  nodes: number;
  minutes: number;
  seed: number;
  kills: number;
  restarts: number;
  /** Node processes that exited without being killed or asked to stop. */
  crashes: number;
  /** Nodes asked to stop that sent no final report in time (then killed). */
  stopFailures: number;
  /** Nodes that reported their final records but did not exit by themselves afterwards (then killed). */
  lingeringAfterStop: number;
  heapSamples: HeapSample[];
  peakHeapMB: number;
  problems: string[];
  /** Every node process ever started, for checking that none is left. */
  pids: number[];
  ok: boolean;
}

/** Booting is CPU-bound (tsx, first crypto calls): on a busy two-core machine 20 nodes can take a minute. */
const READY_TIMEOUT_BASE_MS = 30 * 1000;
const READY_TIMEOUT_PER_NODE_MS = 5 * 1000;
const QUIESCE_TIMEOUT_MS = 10 * 1000; // each node gives up after 5 s and answers anyway
const FINAL_REPORT_TIMEOUT_MS = 20 * 1000; // Switch.stop() is bounded by its own 5 s stopTimeoutMs
const EXIT_AFTER_FINAL_TIMEOUT_MS = 5 * 1000;
const REPORT_INTERVAL_MS = 100;
/** A slot whose process keeps crashing is restarted at most this many times. */
const CRASH_RESTART_LIMIT = 3;
const MB = 1024 * 1024;
const REPO_ROOT = new URL('..', import.meta.url).pathname;
const NODE_SCRIPT = new URL('./soak-node.ts', import.meta.url).pathname;

/** Children of every run in this process: killed if the process exits, however it exits. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
export function killAllSoakNodes(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  liveChildren.clear();
}

interface NodeProcess {
  slot: number;
  incarnation: number;
  child: ChildProcess;
  state: 'starting' | 'running' | 'stopping' | 'gone';
  killedByUs: boolean;
  /** Answer to 'quiesce': whether its queues drained. */
  quiesced?: boolean;
  final: boolean;
  exited: Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** True if `promise` settles within `ms`; the timer is cleared either way, so it never holds the process. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([promise.then(() => true, () => true), timeout]).finally(() => clearTimeout(timer));
}

function ephemeralPortLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A block of `count` free consecutive ports below the ephemeral range. */
async function pickPorts(count: number): Promise<number[]> {
  const high = ephemeralPortLow() - count - 1;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10000 + Math.floor(Math.random() * Math.max(1, high - 10000));
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if ((await Promise.all(ports.map(portIsFree))).every(Boolean)) return ports;
  }
  throw new Error('soak: no block of free ports found below the ephemeral range');
}

/** Undirected random graph: each node links to degree/2 others, so the average degree is ~degree. */
function randomGraph(nodes: number, degree: number, random: () => number): Set<number>[] {
  const neighbours = Array.from({ length: nodes }, () => new Set<number>());
  const linksPerNode = Math.min(nodes - 1, Math.max(1, Math.round(degree / 2)));
  for (let a = 0; a < nodes; a++) {
    for (let link = 0, tries = 0; link < linksPerNode && tries < 20 * nodes; tries++) {
      const b = Math.floor(random() * nodes);
      if (b === a || neighbours[a]!.has(b)) continue;
      neighbours[a]!.add(b);
      neighbours[b]!.add(a);
      link++;
    }
  }
  return neighbours;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { nodes, durationMs, seed } = options;
  if (!Number.isInteger(nodes) || nodes < 2) throw new Error('soak: --nodes must be an integer ≥ 2');
  const killIntervalMs = options.killIntervalMs ?? 3000;
  const [restartMin, restartMax] = options.restartDelayMs ?? [500, 2000];
  const log = options.log ?? (() => undefined);
  const random = seededRandom(seed);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllSoakNodes);
  }

  const secrets = Array.from({ length: nodes }, (_, slot) => sha256(new TextEncoder().encode(`meshlink-soak/${seed}/${slot}`)));
  const ids = secrets.map((secret) => nodeKeyFromSecret(secret).nodeId);
  const ports = await pickPorts(nodes);
  const addresses = ids.map((id, slot) => `tcp://${id}@127.0.0.1:${ports[slot]}`);
  // Both ends of a link list each other as persistent, as validators do: simultaneous redials included.
  const graph = randomGraph(nodes, options.degree ?? 4, random);

  const ledger = new SoakLedger();
  const finished = new Set<string>();
  const current: (NodeProcess | undefined)[] = new Array(nodes).fill(undefined);
  const all: NodeProcess[] = [];
  const restartTimers = new Set<ReturnType<typeof setTimeout>>();
  const crashesBySlot: number[] = new Array(nodes).fill(0);
  let heapSampler: ReturnType<typeof setInterval> | undefined;
  const counts = { kills: 0, restarts: 0, crashes: 0, stopFailures: 0, lingeringAfterStop: 0 };
  let phase: 'running' | 'stopping' = 'running';
  let startedAtMs = Date.now();
  let stopBeganAtMs = Infinity;
  let latestHeap: MemorySample | undefined;
  let peakHeapBytes = 0;
  const heapSamples: HeapSample[] = [];

  const spawn = (slot: number, incarnation: number): NodeProcess => {
    const config: SoakNodeConfig = {
      slot,
      incarnation,
      secretHex: bytesToHex(secrets[slot]!),
      port: ports[slot]!,
      persistentPeers: [...graph[slot]!].map((other) => addresses[other]!),
      messagesPerSecondPerLink: options.messagesPerSecondPerLink ?? 50,
      messageBytes: options.messageBytes ?? 64,
      reportIntervalMs: REPORT_INTERVAL_MS,
    };
    const spawnedAtMs = Date.now();
    const child = fork(NODE_SCRIPT, [JSON.stringify(config)], {
      cwd: REPO_ROOT, // `--import tsx` resolves from here
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 2, 2, 'ipc'], // a node's stray output must not corrupt --json on stdout
    });
    liveChildren.add(child);
    const node: NodeProcess = {
      slot,
      incarnation,
      child,
      state: 'starting',
      killedByUs: false,
      final: false,
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    all.push(node);
    current[slot] = node;
    child.on('message', (message: FromSoakNode) => {
      if (message.kind === 'ready') {
        if (node.state === 'starting') node.state = 'running';
        if (incarnation > 0) log(`node ${slot}.${incarnation} up ${((Date.now() - spawnedAtMs) / 1000).toFixed(1)} s after its restart`);
      } else if (message.kind === 'quiesced') {
        node.quiesced = message.drained;
      } else if (message.kind === 'failed') {
        log(`node ${slot}.${incarnation} failed to start: ${message.error}`);
      } else {
        ledger.record(message.senders, message.receivers);
        if (slot === 0) {
          latestHeap = message.memory;
          peakHeapBytes = Math.max(peakHeapBytes, message.memory.heapUsedBytes);
        }
        if (message.kind === 'final') {
          node.final = true;
          finished.add(incarnationKey(slot, incarnation));
          if (message.malformed > 0) log(`node ${slot}.${incarnation}: ${message.malformed} malformed messages`);
        }
      }
    });
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      const wasStopping = node.state === 'stopping';
      node.state = 'gone';
      if (node.killedByUs || wasStopping) return;
      // Neither killed nor asked to stop: a crash (or a failed start). Restart it like a kill.
      counts.crashes++;
      crashesBySlot[slot]! += 1;
      log(`node ${slot}.${incarnation} exited by itself (code ${code}, signal ${signal})`);
      if (phase === 'running' && slot !== 0 && crashesBySlot[slot]! <= CRASH_RESTART_LIMIT) scheduleRestart(slot, incarnation + 1);
    });
    return node;
  };

  const scheduleRestart = (slot: number, incarnation: number): void => {
    const delay = restartMin + random() * (restartMax - restartMin);
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (phase !== 'running') return;
      counts.restarts++;
      log(`t=${((Date.now() - startedAtMs) / 1000).toFixed(1)}s restart node ${slot}`);
      spawn(slot, incarnation);
    }, delay);
    restartTimers.add(timer);
  };

  const waitUntil = async (condition: () => boolean, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  };

  try {
    for (let slot = 0; slot < nodes; slot++) spawn(slot, 0);
    const readyTimeoutMs = READY_TIMEOUT_BASE_MS + nodes * READY_TIMEOUT_PER_NODE_MS;
    if (!(await waitUntil(() => current.every((n) => n?.state === 'running'), readyTimeoutMs))) {
      const late = current.filter((n) => n?.state !== 'running').map((n) => n?.slot);
      throw new Error(`soak: nodes ${late.join(', ')} were not ready within ${readyTimeoutMs} ms`);
    }
    startedAtMs = Date.now();
    const endAtMs = startedAtMs + durationMs;
    log(`${nodes} nodes up (ports ${ports[0]}–${ports[nodes - 1]}), running ${(durationMs / 1000).toFixed(0)} s, seed ${seed}`);

    const heapSampleIntervalMs = Math.min(60 * 1000, Math.max(1000, durationMs / 60));
    heapSampler = setInterval(() => {
      if (latestHeap !== undefined) {
        heapSamples.push({ seconds: Math.round((Date.now() - startedAtMs) / 1000), heapUsedMB: round1(latestHeap.heapUsedBytes / MB) });
      }
    }, heapSampleIntervalMs);

    let nextKillAtMs = startedAtMs + killIntervalMs * (0.5 + random());
    while (Date.now() < endAtMs) {
      await sleep(Math.min(100, endAtMs - Date.now()));
      if (Date.now() < nextKillAtMs || counts.kills >= (options.maxKills ?? Infinity)) continue;
      nextKillAtMs = Date.now() + killIntervalMs * (0.5 + random());
      const candidates = current.filter((n): n is NodeProcess => n !== undefined && n.slot !== 0 && n.state === 'running');
      const victim = candidates[Math.floor(random() * candidates.length)];
      if (victim === undefined) continue;
      victim.killedByUs = true;
      victim.state = 'gone';
      victim.child.kill('SIGKILL');
      counts.kills++;
      log(`t=${((Date.now() - startedAtMs) / 1000).toFixed(1)}s kill node ${victim.slot}.${victim.incarnation}`);
      scheduleRestart(victim.slot, victim.incarnation + 1);
    }
    clearInterval(heapSampler);

    // The end. Nodes still down stay down; one still booting gets to finish booting. Then, unless
    // told otherwise, quiesce: no new messages, and each node waits until what it accepted has left
    // its queues. Only then stop. Without that step a node still sending while its neighbour closes
    // loses what it accepted after the neighbour's FIN (send() keeps saying true until the socket is
    // gone), and the count would measure that race rather than the mesh; --stop-while-sending shows it.
    phase = 'stopping';
    for (const timer of restartTimers) clearTimeout(timer);
    restartTimers.clear();
    await waitUntil(() => current.every((n) => n?.state !== 'starting'), READY_TIMEOUT_BASE_MS);
    const stopping = current.filter((n): n is NodeProcess => n?.state === 'running');
    for (const node of current) if (node?.state === 'starting') log(`node ${node.slot}.${node.incarnation} never finished booting; killing it`);
    if (options.quiesceBeforeStop ?? true) {
      for (const node of stopping) if (node.child.connected) node.child.send({ kind: 'quiesce' } satisfies ToSoakNode);
      await waitUntil(() => stopping.every((n) => n.quiesced !== undefined || n.state === 'gone'), QUIESCE_TIMEOUT_MS);
      const undrained = stopping.filter((n) => n.quiesced !== true).map((n) => `${n.slot}.${n.incarnation}`);
      if (undrained.length > 0) log(`nodes ${undrained.join(', ')} did not drain their queues before the stop`);
    }
    stopBeganAtMs = Date.now();
    for (const node of stopping) {
      node.state = 'stopping';
      if (node.child.connected) node.child.send({ kind: 'stop' } satisfies ToSoakNode);
    }
    await waitUntil(() => stopping.every((n) => n.final || n.child.exitCode !== null || n.child.signalCode !== null), FINAL_REPORT_TIMEOUT_MS);
    for (const node of stopping) {
      if (!node.final) {
        counts.stopFailures++;
        log(`node ${node.slot}.${node.incarnation} sent no final report`);
      }
    }
    if (!(await settlesWithin(Promise.all(stopping.map((n) => n.exited)), EXIT_AFTER_FINAL_TIMEOUT_MS))) {
      for (const node of stopping) {
        if (node.child.exitCode !== null || node.child.signalCode !== null) continue;
        if (node.final) counts.lingeringAfterStop++;
        log(`node ${node.slot}.${node.incarnation} did not exit after stop; killing it`);
        node.child.kill('SIGKILL');
      }
    }
  } finally {
    clearInterval(heapSampler);
    phase = 'stopping';
    for (const timer of restartTimers) clearTimeout(timer);
    for (const node of all) {
      if (!liveChildren.has(node.child)) continue;
      node.killedByUs = true; // the clean-up's own kill, not a crash
      node.child.kill('SIGKILL');
    }
    await settlesWithin(Promise.all(all.map((n) => n.exited)), EXIT_AFTER_FINAL_TIMEOUT_MS);
  }

  const { problems, ...totals } = ledger.summarize(finished, stopBeganAtMs);
  const ok =
    totals.lostOnStableLinks === 0 &&
    totals.duplicated === 0 &&
    totals.deliveredBeyondSent === 0 &&
    totals.openAfterStop === 0 &&
    counts.crashes === 0 &&
    counts.stopFailures === 0;
  return {
    nodes,
    minutes: Math.round((durationMs / 60000) * 100) / 100,
    seed,
    ...counts,
    ...totals,
    heapSamples,
    peakHeapMB: round1(peakHeapBytes / MB),
    problems,
    pids: all.map((n) => n.child.pid).filter((pid): pid is number => pid !== undefined),
    ok,
  };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
