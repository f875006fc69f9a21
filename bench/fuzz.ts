/**
 * `npm run fuzz -- --seconds N [--seed S] [--json] [--runs R] [--target NAME]...`
 *
 * Runs every decoder of peer bytes (bench/fuzz-targets.ts) under fast-check, with arbitrary and
 * structure-aware inputs. An input fails when the decoder throws anything but the MeshlinkError
 * classes it documents (a TypeError, but also e.g. a ConfigError out of a wire decoder), or needs
 * more CPU time than the per-input budget (see checkInput); a target fails when its heap (after GC)
 * grows past the heap budget. Prints a table (or one JSON object with --json); exits 1 on any failure.
 *
 *   --seconds N   total wall time, split evenly over the targets (default 30)
 *   --seed S      base seed (default: random, printed so a failing run can be replayed)
 *   --runs R      at most R inputs per target (with no --seconds: exactly R, the CI mode)
 *   --target NAME only this target (repeatable)
 *   --relay       instead: attack sequences against the relay program (bench/fuzz-relay.ts); --runs
 *                 counts sequences, --seconds bounds the run, --cost adds CPU per attacker byte by shape
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { MeshlinkError } from '../src/errors.js';
import { FUZZ_TARGETS, type FuzzTarget } from './fuzz-targets.js';

export interface FuzzPlan {
  readonly seed: number;
  /** Wall time per target; Infinity when only `runsPerTarget` bounds the run. */
  readonly millisecondsPerTarget: number;
  readonly runsPerTarget: number;
  /** CPU time one input may use; generous, and judged on re-runs only when wall time exceeds it (see checkInput). */
  readonly inputBudgetMs: number;
  /** Heap plus ArrayBuffer growth over a target's whole run, measured after GC between batches. */
  readonly heapBudgetBytes: number;
  /** Inputs per fast-check run; heap is sampled between batches. */
  readonly batchSize: number;
  readonly targets?: readonly string[];
}

export const DEFAULT_INPUT_BUDGET_MS = 50;
export const DEFAULT_HEAP_BUDGET_BYTES = 64 * 1024 * 1024;
const DEFAULT_BATCH_SIZE = 250;
const HEAP_SAMPLE_INTERVAL_MS = 2000;
/** Shrinking a failure stops after this long; the best counterexample so far is reported. */
const SHRINK_TIME_LIMIT_MS = 20 * 1000;
/** Counterexamples longer than this are cut in reports (a deep-nesting bomb can be 100 KB). */
const MAX_REPORTED_HEX_CHARS = 16 * 1024;

export interface FuzzFailure {
  /** crash: threw anything but a MeshlinkError (or broke an invariant); wrong-error: a MeshlinkError of a class the decoder does not document. */
  readonly kind: 'crash' | 'wrong-error' | 'slow' | 'heap';
  readonly message: string;
  readonly stack?: string;
  /** The shrunk input, as hex (cut at MAX_REPORTED_HEX_CHARS). */
  readonly input?: string;
  /** fast-check seed and path of the failing batch: `fc.check(..., { seed, path })` replays it. */
  readonly seed: number;
  readonly path?: string;
}

export interface TargetReport {
  readonly name: string;
  readonly inputs: number;
  readonly medianUs: number;
  readonly maxUs: number;
  readonly maxHeapDeltaBytes: number;
  readonly failures: readonly FuzzFailure[];
}

export interface FuzzReport {
  readonly seed: number;
  readonly gcExposed: boolean;
  readonly failed: boolean;
  readonly targets: readonly TargetReport[];
}

/** Thrown inside the property so fast-check shrinks slow inputs like crashing ones. */
class SlowInputError extends Error {}

/**
 * Max exactly, median from a fixed reservoir: keeping every duration of a long run would itself grow
 * the heap that is being measured.
 */
class DurationStats {
  count = 0;
  max = 0;
  private readonly sample = new Float64Array(4096);
  private random = 0x9e3779b9;

  record(us: number): void {
    this.count++;
    if (us > this.max) this.max = us;
    if (this.count <= this.sample.length) {
      this.sample[this.count - 1] = us;
      return;
    }
    this.random ^= this.random << 13;
    this.random ^= this.random >>> 17;
    this.random ^= this.random << 5;
    const slot = (this.random >>> 0) % this.count;
    if (slot < this.sample.length) this.sample[slot] = us;
  }

  median(): number {
    const filled = this.sample.slice(0, Math.min(this.count, this.sample.length)).sort();
    return filled.length === 0 ? 0 : filled[filled.length >> 1]!;
  }
}

/** global.gc when run with --expose-gc; otherwise turned on at run time (works in Node and vitest workers). */
function obtainGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/** ArrayBuffers count too: the decoders' allocations are mostly Uint8Arrays, which live outside the JS heap. */
function heapBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * The heap after a full GC, sampled between batches. ArrayBuffer backing stores are released by a
 * concurrent sweeper after the GC that found them dead, so one GC alone leaves `arrayBuffers` counting
 * the last batch's garbage (seen: 80 MiB of "growth" gone by the next GC): GC, let the sweeper run,
 * GC again. That costs 0.1–0.8 s, so samples are taken at most every HEAP_SAMPLE_INTERVAL_MS.
 */
class HeapMeter {
  private constructor(
    private readonly gc: (() => void) | undefined,
    /** The latest sample: the baseline of the target that runs next. */
    public last: number,
    private lastAt: number,
  ) {}

  static async start(gc: (() => void) | undefined): Promise<HeapMeter> {
    return new HeapMeter(gc, await HeapMeter.settled(gc), performance.now());
  }

  private static async settled(gc: (() => void) | undefined): Promise<number> {
    if (gc !== undefined) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    return heapBytes();
  }

  /** A fresh sample if `force` or the last one is old; undefined otherwise. */
  async sample(force: boolean): Promise<number | undefined> {
    if (!force && performance.now() - this.lastAt < HEAP_SAMPLE_INTERVAL_MS) return undefined;
    this.last = await HeapMeter.settled(this.gc);
    this.lastAt = performance.now();
    return this.last;
  }
}

/** Text for anything thrown; String() itself throws on an object whose toString is not callable. */
function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return `${thrown.name}: ${thrown.message}`;
  try {
    return String(thrown);
  } catch {
    return Object.prototype.toString.call(thrown);
  }
}

/** One target's run: its counters, and the known bug it may hit. */
interface TargetRun {
  readonly target: FuzzTarget;
  readonly stats: DurationStats;
}

/** Runs one input; returns its wall time, or its CPU time (process.cpuUsage is too slow to call on every input), in µs. */
async function timeOnce(run: TargetRun, input: unknown, clock: 'wall' | 'cpu'): Promise<number> {
  const cpuStart = clock === 'cpu' ? process.cpuUsage() : undefined;
  const start = performance.now();
  try {
    await run.target.run(input);
  } catch (error) {
    if (!run.target.rejectsWith.some((errorClass) => error instanceof errorClass)) throw error;
  }
  if (cpuStart === undefined) return (performance.now() - start) * 1000;
  const cpu = process.cpuUsage(cpuStart);
  return cpu.user + cpu.system;
}

/**
 * Reports wall time; judges slowness on CPU time of two more runs. On a loaded machine (CI, two
 * shared cores) the wall time of any input can be stretched by other processes, a GC pause or a JIT
 * tier-up; the CPU time a decoder really needs, on its best of two tries, cannot.
 */
async function checkInput(run: TargetRun, input: unknown, budgetMs: number): Promise<void> {
  const wallUs = await timeOnce(run, input, 'wall');
  run.stats.record(wallUs);
  if (wallUs <= budgetMs * 1000) return;
  const cpuUs = Math.min(await timeOnce(run, input, 'cpu'), await timeOnce(run, input, 'cpu'));
  if (cpuUs > budgetMs * 1000) throw new SlowInputError(`took ${(cpuUs / 1000).toFixed(1)} ms of CPU (best of two), over the ${budgetMs} ms budget`);
}

/** Distinct, reproducible seeds per target and batch. */
function batchSeed(seed: number, name: string, batch: number): number {
  let hash = seed ^ Math.imul(batch + 1, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash | 0;
}

function showInput(target: FuzzTarget, input: unknown): string {
  const text = target.show(input);
  return text.length <= MAX_REPORTED_HEX_CHARS ? text : `${text.slice(0, MAX_REPORTED_HEX_CHARS)}… (${text.length} chars in all)`;
}

async function fuzzTarget(target: FuzzTarget, plan: FuzzPlan, heap: HeapMeter): Promise<TargetReport> {
  const stats = new DurationStats();
  const run: TargetRun = { target, stats };
  const failures: FuzzFailure[] = [];
  const baseline = heap.last;
  let maxHeapDeltaBytes = 0;
  let seed = 0;
  /** Records a heap sample; true when it breaks the budget. */
  const overHeapBudget = (sample: number | undefined): boolean => {
    if (sample === undefined) return false;
    const delta = sample - baseline;
    maxHeapDeltaBytes = Math.max(maxHeapDeltaBytes, delta);
    if (delta <= plan.heapBudgetBytes) return false;
    failures.push({ kind: 'heap', message: `heap grew by ${(delta / 2 ** 20).toFixed(1)} MiB, over the ${plan.heapBudgetBytes / 2 ** 20} MiB budget`, seed });
    return true;
  };
  const started = performance.now();
  const deadline = started + plan.millisecondsPerTarget;
  let generated = 0;
  for (let batch = 0; generated < plan.runsPerTarget && performance.now() < deadline; batch++) {
    seed = batchSeed(plan.seed, target.name, batch);
    // In timed runs, size the batch to end near the deadline (a batch always runs to its end).
    const fitting = generated === 0 || deadline === Infinity
      ? plan.batchSize
      : Math.floor(((deadline - performance.now()) * generated) / (performance.now() - started));
    const numRuns = Math.max(1, Math.min(plan.batchSize, plan.runsPerTarget - generated, fitting));
    const property = fc.asyncProperty(target.input, (input) => checkInput(run, input, plan.inputBudgetMs));
    const details = await fc.check(property, { seed, numRuns, interruptAfterTimeLimit: SHRINK_TIME_LIMIT_MS });
    generated += numRuns;
    if (details.failed) {
      const error = details.errorInstance;
      failures.push({
        kind: error instanceof SlowInputError ? 'slow' : error instanceof MeshlinkError ? 'wrong-error' : 'crash',
        message: describeThrown(error),
        ...(error instanceof Error && !(error instanceof SlowInputError) && error.stack !== undefined ? { stack: error.stack } : {}),
        ...(details.counterexample !== null ? { input: showInput(target, details.counterexample[0]) } : {}),
        seed,
        path: details.counterexamplePath ?? '',
      });
      break;
    }
    if (overHeapBudget(await heap.sample(false))) break;
  }
  // Always end on a sample: growth is charged to the target that caused it, and it is the next baseline.
  if (failures.length === 0) overHeapBudget(await heap.sample(true));
  const { count: inputs, max: maxUs } = stats;
  return { name: target.name, inputs, medianUs: stats.median(), maxUs, maxHeapDeltaBytes, failures };
}

export async function runFuzz(partial: Partial<FuzzPlan> & { seed: number }): Promise<FuzzReport> {
  const plan: FuzzPlan = {
    millisecondsPerTarget: Infinity,
    runsPerTarget: Infinity,
    inputBudgetMs: DEFAULT_INPUT_BUDGET_MS,
    heapBudgetBytes: DEFAULT_HEAP_BUDGET_BYTES,
    batchSize: DEFAULT_BATCH_SIZE,
    ...partial,
  };
  if (plan.millisecondsPerTarget === Infinity && plan.runsPerTarget === Infinity) throw new Error('runFuzz needs a time or a run limit');
  const chosen = plan.targets === undefined ? FUZZ_TARGETS : FUZZ_TARGETS.filter((t) => plan.targets!.includes(t.name));
  if (chosen.length === 0) throw new Error(`No such target; targets: ${FUZZ_TARGETS.map((t) => t.name).join(', ')}`);
  const gc = obtainGc();
  const heap = await HeapMeter.start(gc);
  const targets: TargetReport[] = [];
  for (const target of chosen) targets.push(await fuzzTarget(target, plan, heap));
  return { seed: plan.seed, gcExposed: gc !== undefined, failed: targets.some((t) => t.failures.length > 0), targets };
}

export function formatReport(report: FuzzReport): string {
  const header = ['target', 'inputs', 'median µs', 'max µs', 'max heap Δ MiB', 'result'];
  const rows = report.targets.map((t) => [
    t.name, String(t.inputs), t.medianUs.toFixed(1), t.maxUs.toFixed(0), (t.maxHeapDeltaBytes / 2 ** 20).toFixed(1),
    t.failures.length > 0 ? `FAIL (${t.failures[0]!.kind})` : 'ok',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(header), ...rows.map(line)];
  out.push('', `seed ${report.seed}${report.gcExposed ? '' : ' (no GC control: heap deltas are noisy)'}`);
  for (const target of report.targets) {
    for (const f of target.failures) {
      out.push('', `${target.name}: ${f.kind}: ${f.message}`, `  replay: fc seed ${f.seed}${f.path === undefined ? '' : `, path "${f.path}"`}`);
      if (f.input !== undefined) out.push(`  input: ${f.input}`);
      if (f.stack !== undefined) out.push(f.stack.split('\n').map((l) => `  ${l}`).join('\n'));
    }
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      seed: { type: 'string' },
      runs: { type: 'string' },
      json: { type: 'boolean', default: false },
      target: { type: 'string', multiple: true },
      relay: { type: 'boolean', default: false },
      cost: { type: 'boolean', default: false },
    },
  });
  const number = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number, not "${text}"`);
    return value;
  };
  const runs = number('runs', values.runs);
  const seconds = number('seconds', values.seconds) ?? (runs === undefined ? 30 : undefined);
  const seed = number('seed', values.seed) ?? Math.floor(Math.random() * 2 ** 31);
  if (values.relay) {
    // Sequences against the relay program (bench/fuzz-relay.ts): --runs counts sequences.
    const { formatRelayReport, runRelayFuzz } = await import('./fuzz-relay.js');
    const report = await runRelayFuzz({ seed, sequences: runs ?? Infinity, milliseconds: seconds === undefined ? Infinity : seconds * 1000, cost: values.cost });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatRelayReport(report));
    if (report.failed) process.exitCode = 1;
    return;
  }
  const targetCount = values.target?.length ?? FUZZ_TARGETS.length;
  const report = await runFuzz({
    seed,
    millisecondsPerTarget: seconds === undefined ? Infinity : (seconds * 1000) / targetCount,
    runsPerTarget: runs ?? Infinity,
    ...(values.target === undefined ? {} : { targets: values.target }),
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (report.failed) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
