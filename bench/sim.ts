/**
 * `npm run sim -- --nodes 500 --seeds 3 [--malicious 0.2] [--latency 5] [--loss 0] [--json]`
 *
 * Runs that many nodes (real Switch + PEXAgent each) in one process over the in-memory transport and
 * reports whether the honest nodes form one connected graph, how long until every node had its target
 * outbound count, and how many honest nodes were eclipsed (no honest outbound peer).
 *
 * Time is WALL-CLOCK seconds with real timers; the PEX periods are shortened (ensurePeers every
 * --ensure-ms, default 1 s, instead of 30 s), so one wall second here is ~30 s of a default node's
 * schedule. Everything runs on one thread, so timings include the CPU cost of every handshake.
 */
import { EventEmitter } from 'node:events';
import { DEFAULT_SIM_CONFIG, buildNetwork, type SimConfig } from './sim-network.js';
import { allReachedTarget, measureGraph, measureTraffic } from './sim-report.js';

const FLAGS: Record<string, keyof SimConfig> = {
  '--nodes': 'nodes',
  '--seeds': 'seeds',
  '--malicious': 'malicious',
  '--latency': 'latencyMs',
  '--loss': 'loss',
  '--max-outbound': 'maxOutbound',
  '--max-inbound': 'maxInbound',
  '--ensure-ms': 'ensurePeersMs',
  '--stagger-ms': 'staggerMs',
  '--timeout': 'timeoutSec',
  '--settle': 'settleSec',
  '--rng-seed': 'rngSeed',
  '--source-share': 'maxOutboundSharePerSource',
  '--trusted-share': 'trustedOutboundShare',
  '--new-buckets-per-address': 'maxNewBucketsPerAddress',
};

const POLL_INTERVAL_MS = 100;
/** Stopping hundreds of switches gracefully is not what we measure: cap it. */
const STOP_DEADLINE_MS = 5000;

function parseArgs(argv: readonly string[]): { config: SimConfig; json: boolean } {
  const config: SimConfig = { ...DEFAULT_SIM_CONFIG };
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--json') {
      json = true;
      continue;
    }
    const key = FLAGS[flag];
    const value = Number(argv[i + 1]);
    if (key === undefined || !Number.isFinite(value)) {
      process.stderr.write(`Unknown flag or bad value: ${flag} ${argv[i + 1] ?? ''}\nFlags: ${Object.keys(FLAGS).join(' ')} --json\n`);
      process.exit(2);
    }
    config[key] = value;
    i++;
  }
  if (config.malicious < 0 || config.malicious >= 1) throw new Error('--malicious must be in [0, 1)');
  return { config, json };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  // Each in-flight dial hangs an abort listener on its Switch's stop signal; a node dialling 10+ at
  // once is normal here, not a leak. Must be set before any AbortSignal is created.
  EventEmitter.defaultMaxListeners = 1000;
  const { config, json } = parseArgs(process.argv.slice(2));
  const log = (line: string): void => {
    if (!json) process.stderr.write(`${line}\n`);
  };
  const setupStarted = performance.now();
  const { nodes, random } = buildNetwork(config);
  const seeds = nodes.filter((node) => node.kind === 'seed');
  const others = nodes.filter((node) => node.kind !== 'seed');
  await Promise.all(seeds.map((node) => node.sw.start()));
  log(`built ${nodes.length} switches in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`);

  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const elapsedSec = (): number => (performance.now() - started) / 1000;
  // Staggered starts: each node at a uniformly random moment in the window.
  const starts = others.map((node) => sleep(random() * config.staggerMs).then(() => node.sw.start()));

  let timeToTargetSec: number | null = null;
  let lastLog = 0;
  while (elapsedSec() < config.timeoutSec) {
    await sleep(POLL_INTERVAL_MS);
    if (timeToTargetSec === null && others.every((node) => node.sw.isRunning) && allReachedTarget(nodes, config.maxOutbound)) {
      timeToTargetSec = elapsedSec();
      log(`target reached at ${timeToTargetSec.toFixed(1)} s`);
    }
    if (timeToTargetSec !== null && elapsedSec() >= timeToTargetSec + config.settleSec) break;
    if (elapsedSec() - lastLog >= 5) {
      lastLog = elapsedSec();
      const reached = others.filter((node) => node.sw.peerCounts().outbound >= config.maxOutbound).length;
      log(`${lastLog.toFixed(0)} s: ${reached}/${others.length} nodes at target`);
    }
  }
  await Promise.all(starts);
  const wallSeconds = elapsedSec();
  const cpu = process.cpuUsage(cpuStart);
  const graph = measureGraph(nodes);
  const traffic = measureTraffic(nodes);
  const report = {
    nodes: config.nodes,
    seeds: config.seeds,
    malicious: config.malicious,
    maliciousNodes: others.filter((node) => node.kind === 'malicious').length,
    connected: graph.connected,
    timeToTargetSec: timeToTargetSec === null ? null : Number(timeToTargetSec.toFixed(2)),
    eclipsed: graph.eclipsed,
    eclipsedShare: Number(graph.eclipsedShare.toFixed(4)),
    degree: graph.degree,
    outbound: graph.outbound,
    maliciousOutboundShare: Number(graph.maliciousOutboundShare.toFixed(4)),
    maliciousBookShare: Number(graph.maliciousBookShare.toFixed(4)),
    components: graph.components,
    messages: traffic.messages,
    traffic,
    clock: 'wall-seconds (real timers; PEX periods shortened, see config.ensurePeersMs)',
    wallSeconds: Number(wallSeconds.toFixed(2)),
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    config,
  };
  await Promise.race([Promise.all(nodes.map((node) => node.sw.stop().catch(() => undefined))), sleep(STOP_DEADLINE_MS)]);
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${JSON.stringify(report, null, 2)}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`sim failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
