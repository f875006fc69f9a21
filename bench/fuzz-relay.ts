/**
 * Stateful black-box fuzzing of the relay program: `npm run fuzz -- --relay [--seconds N | --runs R]
 * [--seed S] [--cost]`. An authenticated attacker (bench/fuzz-relay-scene.ts) sends fast-check
 * sequences of mutated messages on every channel the relay declares, interleaved with reconnects over
 * TCP and WebSocket (bench/fuzz-relay-messages.ts). After each sequence: the relay process is alive
 * and wrote nothing to stderr, two honest nodes still trade txs through it within a bound, its RSS
 * and its /status answer stay bounded, and every cut of the attacker came with a typed verdict. With
 * `--cost`, each channel's valid and mutated messages are then sent alone for a while and the relay's
 * CPU per attacker byte is measured (its CPU from /proc, less its idle rate).
 *
 * Sequence i is generated from seed + i: a failure names its seed and steps, and `--seed S --runs 1`
 * replays the first (the node ids differ, being fresh keys; the shapes and sizes are the same).
 */
import fc from 'fast-check';
import {
  ATTACKERS,
  describeAction,
  message,
  MESSAGE_CHANNELS,
  sequenceArbitrary,
  type Action,
  type Cast,
} from './fuzz-relay-messages.js';
import { Attacker, honestExchange, probeStatus, startHonestPair, startRelay, untypedCut, type HonestNode, type RelayProcess } from './fuzz-relay-scene.js';

export interface RelayFuzzPlan {
  seed: number;
  /** At most this many sequences. */
  sequences: number;
  /** Stop starting sequences after this long. @default Infinity */
  milliseconds?: number;
  /** Steps per sequence, at most. @default 24 */
  maxActions?: number;
  /** How long an honest tx may take to cross the relay after a sequence. @default 5000 */
  exchangeWithinMs?: number;
  /** /status must answer within. @default 2000 */
  statusWithinMs?: number;
  /** RSS growth over the relay's RSS after warm-up. @default 192 MiB */
  rssBudgetBytes?: number;
  /** /status body size at most. @default 256 KiB */
  statusBudgetBytes?: number;
  /** Measure CPU per attacker byte per channel and shape afterwards. @default false */
  cost?: boolean;
}

export interface RelayFinding {
  sequence: number;
  seed: number;
  what: string;
  steps: string[];
}

export interface CostRow {
  shape: string;
  messages: number;
  bytes: number;
  connections: number;
  cpuMs: number;
  usPerKB: number;
}

export interface RelayFuzzReport {
  seed: number;
  sequences: number;
  steps: number;
  attackerConnections: number;
  attackerBytes: number;
  /** The attacker's cuts by the code the relay told it. */
  cutCodes: Record<string, number>;
  maxRssGrowthBytes: number;
  maxStatusMs: number;
  /** The sequence after which /status was slowest (a stall of the relay's event loop shows here first). */
  slowestStatus: { sequence: number; steps: string[] } | undefined;
  maxStatusBytes: number;
  maxExchangeMs: number;
  /** The sequences that cost the relay most CPU per attacker byte (at least 1 KiB sent). */
  costliest: { sequence: number; cpuMs: number; bytes: number; connections: number; usPerKB: number; steps: string[] }[];
  cost: CostRow[];
  relayEvents: Record<string, number>;
  findings: RelayFinding[];
  failed: boolean;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const COSTLIEST_KEPT = 5;
const COST_SHAPE_MS = 1500;
const IDLE_SAMPLE_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function runAction(attackers: readonly Attacker[], action: Action): Promise<void> {
  if (action.kind === 'pause') return sleep(action.ms);
  const attacker = attackers[action.who ?? 0]!;
  if (action.kind === 'reconnect') return attacker.connect(action.via);
  if (action.kind === 'abort') return attacker.abort();
  if (!attacker.connected()) await attacker.connect('tcp');
  await attacker.send(action.channel, action.bytes, action.repeat);
}

/** Runs the plan against a fresh relay process; never throws for what the relay does (that is a finding). */
export async function runRelayFuzz(plan: RelayFuzzPlan): Promise<RelayFuzzReport> {
  const relay = await startRelay();
  let honest: [HonestNode, HonestNode] | undefined;
  const attackers = Array.from({ length: ATTACKERS }, () => new Attacker(relay));
  try {
    honest = await startHonestPair(relay);
    for (const [i, attacker] of attackers.entries()) await attacker.connect(i % 2 === 0 ? 'tcp' : 'ws');
    const cast: Cast = { relay: relay.started.nodeId, honest: honest.map((h) => h.sw.nodeId), attackers: attackers.map((a) => a.id!) };
    // Warm-up: the first exchange and /status compile their paths; RSS is measured from here.
    await honestExchange(relay, honest, 10_000);
    await probeStatus(relay, 5000);
    return await fuzzSequences(plan, relay, honest, attackers, cast);
  } finally {
    await Promise.all(attackers.map((attacker) => attacker.close().catch(() => undefined)));
    await Promise.all((honest ?? []).map((h) => h.sw.stop()));
    await relay.stop();
  }
}

async function fuzzSequences(plan: RelayFuzzPlan, relay: RelayProcess, honest: [HonestNode, HonestNode], attackers: readonly Attacker[], cast: Cast): Promise<RelayFuzzReport> {
  const [attacker] = attackers as [Attacker];
  const total = (of: (a: Attacker) => number): number => attackers.reduce((sum, a) => sum + of(a), 0);
  const budget = { exchangeMs: 5000, statusMs: 2000, rssBytes: 192 * MIB, statusBytes: 256 * KIB, maxActions: 24 };
  const limits = {
    exchangeMs: plan.exchangeWithinMs ?? budget.exchangeMs,
    statusMs: plan.statusWithinMs ?? budget.statusMs,
    rssBytes: plan.rssBudgetBytes ?? budget.rssBytes,
    statusBytes: plan.statusBudgetBytes ?? budget.statusBytes,
  };
  const arbitrary = sequenceArbitrary(cast, plan.maxActions ?? budget.maxActions);
  const baselineRss = relay.rssBytes();
  const report: RelayFuzzReport = {
    seed: plan.seed, sequences: 0, steps: 0, attackerConnections: 0, attackerBytes: 0, cutCodes: {}, maxRssGrowthBytes: 0, maxStatusMs: 0,
    slowestStatus: undefined, maxStatusBytes: 0, maxExchangeMs: 0, costliest: [], cost: [], relayEvents: {}, findings: [], failed: false,
  };
  const deadline = performance.now() + (plan.milliseconds ?? Infinity);
  let cutsSeen = attackers.map(() => 0);
  for (let i = 0; i < plan.sequences && performance.now() < deadline; i++) {
    const seed = plan.seed + i;
    const [actions] = fc.sample(arbitrary, { seed, numRuns: 1 }) as [Action[]];
    const steps = actions.map(describeAction);
    const finding = (what: string): void => void report.findings.push({ sequence: i, seed, what, steps });
    const cpuBefore = relay.cpuMs();
    const bytesBefore = total((a) => a.sentBytes);
    const connectionsBefore = total((a) => a.connections);
    for (const action of actions) {
      await runAction(attackers, action).catch((error: Error) => {
        // A refused dial is the relay's right (a limit, a ban); a thrown send is ours to fix.
        if (action.kind === 'send') finding(`attacker send threw: ${error.message}`);
      });
      report.steps++;
    }
    const cpuMs = relay.cpuMs() - cpuBefore;
    const bytes = total((a) => a.sentBytes) - bytesBefore;
    report.sequences++;
    // Below 16 KiB the 10 ms ticks of /proc and a handshake's cost drown the bytes.
    if (bytes >= 16 * KIB) {
      report.costliest.push({ sequence: i, cpuMs, bytes, connections: total((a) => a.connections) - connectionsBefore, usPerKB: (cpuMs * 1000) / (bytes / KIB), steps });
      report.costliest.sort((a, b) => b.usPerKB - a.usPerKB).splice(COSTLIEST_KEPT);
    }
    // The checks. A dead relay ends the run: nothing after it would mean anything.
    if (!relay.alive()) {
      finding(`the relay process exited: ${relay.stderr().slice(-2000)}`);
      break;
    }
    await honestExchange(relay, honest, limits.exchangeMs).then(
      (ms) => void (report.maxExchangeMs = Math.max(report.maxExchangeMs, ms)),
      (error: Error) => finding(`honest exchange: ${error.message}`),
    );
    await probeStatus(relay, limits.statusMs).then(
      (status) => {
        if (status.ms > report.maxStatusMs) report.slowestStatus = { sequence: i, steps };
        report.maxStatusMs = Math.max(report.maxStatusMs, status.ms);
        report.maxStatusBytes = Math.max(report.maxStatusBytes, status.bytes);
        if (status.bytes > limits.statusBytes) finding(`/status answered ${status.bytes} bytes, over ${limits.statusBytes}`);
      },
      (error: Error) => finding(`/status: ${error.message}`),
    );
    const growth = relay.rssBytes() - baselineRss;
    report.maxRssGrowthBytes = Math.max(report.maxRssGrowthBytes, growth);
    if (growth > limits.rssBytes) finding(`relay RSS grew by ${(growth / MIB).toFixed(0)} MiB, over ${limits.rssBytes / MIB} MiB`);
    // The relay logs a disconnect a moment after the attacker sees it: give the line time to come.
    await sleep(20);
    for (const cut of attackers.flatMap((a, k) => a.cuts.slice(cutsSeen[k]))) {
      cut.relayLogged = relay.disconnectReasons.get(cut.id);
      const code = cut.ours ? 'ours' : (cut.reason as { code?: string } | undefined)?.code ?? 'none';
      report.cutCodes[code] = (report.cutCodes[code] ?? 0) + 1;
      const untyped = untypedCut(cut);
      if (untyped !== undefined) finding(untyped);
    }
    cutsSeen = attackers.map((a) => a.cuts.length);
    if (relay.stderr() !== '') finding(`the relay wrote to stderr: ${relay.stderr().slice(-2000)}`);
    if (report.findings.some((f) => f.what.startsWith('honest exchange'))) break;
  }
  if (plan.cost === true && relay.alive()) report.cost = await measureCost(relay, attacker, cast, plan.seed);
  report.attackerConnections = total((a) => a.connections);
  report.attackerBytes = total((a) => a.sentBytes);
  report.relayEvents = Object.fromEntries(relay.events);
  report.failed = report.findings.length > 0;
  return report;
}

/**
 * Each channel's valid messages, then its mutated ones, sent alone for COST_SHAPE_MS (reconnecting
 * when cut): the relay's CPU over that time less its idle rate, per KiB of attacker messages.
 */
async function measureCost(relay: RelayProcess, attacker: Attacker, cast: Cast, seed: number): Promise<CostRow[]> {
  const idleBefore = relay.cpuMs();
  await sleep(IDLE_SAMPLE_MS);
  const idleMsPerMs = (relay.cpuMs() - idleBefore) / IDLE_SAMPLE_MS;
  const rows: CostRow[] = [];
  for (const name of MESSAGE_CHANNELS) {
    const samples = fc.sample(message(cast, name), { seed, numRuns: 400 });
    for (const shape of ['valid', 'mutated'] as const) {
      const chosen = samples.filter((a) => a.label.endsWith(': valid') === (shape === 'valid'));
      if (chosen.length === 0) continue;
      const connectionsBefore = attacker.connections;
      const bytesBefore = attacker.sentBytes;
      let messages = 0;
      const began = performance.now();
      const cpuBefore = relay.cpuMs();
      for (let k = 0; performance.now() - began < COST_SHAPE_MS; k++) {
        if (!attacker.connected()) await attacker.connect(k % 2 === 0 ? 'tcp' : 'ws').catch(() => sleep(50));
        const action = chosen[k % chosen.length]!;
        await attacker.send(action.channel, action.bytes, 1);
        messages++;
      }
      await sleep(100); // let the relay finish what it has read
      const elapsed = performance.now() - began;
      const cpuMs = Math.max(0, relay.cpuMs() - cpuBefore - idleMsPerMs * elapsed);
      const bytes = attacker.sentBytes - bytesBefore;
      rows.push({ shape: `${name} ${shape}`, messages, bytes, connections: attacker.connections - connectionsBefore, cpuMs, usPerKB: bytes === 0 ? Infinity : (cpuMs * 1000) / (bytes / KIB) });
    }
  }
  rows.push(await measureHandshakes(relay, attacker, idleMsPerMs));
  return rows.sort((a, b) => b.usPerKB - a.usPerKB);
}

/** Connect, handshake, close, again, for COST_SHAPE_MS: the relay's CPU per connection (bytes: none counted). */
async function measureHandshakes(relay: RelayProcess, attacker: Attacker, idleMsPerMs: number): Promise<CostRow> {
  const connectionsBefore = attacker.connections;
  const began = performance.now();
  const cpuBefore = relay.cpuMs();
  for (let k = 0; performance.now() - began < COST_SHAPE_MS; k++) await attacker.connect(k % 2 === 0 ? 'tcp' : 'ws').catch(() => sleep(50));
  await attacker.close();
  await sleep(100);
  const cpuMs = Math.max(0, relay.cpuMs() - cpuBefore - idleMsPerMs * (performance.now() - began));
  const connections = attacker.connections - connectionsBefore;
  // Per connection, not per byte: reported in the µs column as µs per handshake.
  return { shape: 'handshake (per conn)', messages: 0, bytes: 0, connections, cpuMs, usPerKB: (cpuMs * 1000) / Math.max(1, connections) };
}

export function formatRelayReport(report: RelayFuzzReport): string {
  const out = [
    `relay fuzz: seed ${report.seed}, ${report.sequences} sequences, ${report.steps} steps, ${report.attackerConnections} attacker connections, ${(report.attackerBytes / MIB).toFixed(1)} MiB sent`,
    `attacker cuts by code: ${JSON.stringify(report.cutCodes)}`,
    `relay: RSS growth max ${(report.maxRssGrowthBytes / MIB).toFixed(1)} MiB; /status max ${report.maxStatusMs.toFixed(0)} ms, ${report.maxStatusBytes} B; honest exchange max ${report.maxExchangeMs.toFixed(0)} ms`,
    `relay log events: ${JSON.stringify(report.relayEvents)}`,
    ...(report.slowestStatus === undefined ? [] : [`slowest /status after #${report.slowestStatus.sequence} (seed ${report.seed + report.slowestStatus.sequence}):`, ...report.slowestStatus.steps.map((s) => `      ${s}`)]),
    '',
    'costliest sequences (relay CPU per KiB the attacker sent):',
    ...report.costliest.map((c) => `  #${c.sequence} (seed ${report.seed + c.sequence}): ${c.usPerKB.toFixed(0)} µs/KiB, ${c.cpuMs} ms for ${c.bytes} B over ${c.connections} new connections\n${c.steps.map((s) => `      ${s}`).join('\n')}`),
  ];
  if (report.cost.length > 0) {
    out.push('', 'CPU per attacker KiB, by channel and shape:');
    for (const row of report.cost) {
      const unit = row.bytes === 0 ? 'µs/conn' : 'µs/KiB ';
      out.push(`  ${row.shape.padEnd(20)} ${row.usPerKB.toFixed(0).padStart(7)} ${unit}  (${row.messages} msgs, ${(row.bytes / KIB).toFixed(0)} KiB, ${row.connections} reconnects, ${row.cpuMs.toFixed(0)} ms CPU)`);
    }
  }
  for (const f of report.findings) out.push('', `FINDING in sequence #${f.sequence} (seed ${f.seed}): ${f.what}`, ...f.steps.map((s) => `    ${s}`));
  out.push('', report.failed ? 'FAILED' : 'ok');
  return out.join('\n');
}
