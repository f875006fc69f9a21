/**
 * What `npm run sim` runs: bundles bench/sim.ts with esbuild into one plain JavaScript file and runs
 * it in a child Node with the heap it needs, passing the arguments, stdout, stderr and exit code through.
 *
 * Why not run it under tsx directly: tsx compiles with esbuild's keepNames, which wraps every function
 * and class in a `__name` call that gives each closure its own property store (about 250 bytes, and
 * a Switch makes a dozen closures per connection), and it maps every stack trace back through source
 * maps; the bundle has neither. And ten thousand nodes need several GB of heap, more than Node's default
 * limit: the child gets most of the machine's memory without the user passing a flag. `--expose-gc`
 * lets the run measure its live heap at the end (bench/sim-run.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** Share of the machine's memory the simulation's heap may grow to. */
const HEAP_SHARE_OF_MEMORY = 0.75;
/**
 * Semi-spaces of 128 MB: a simulation allocates fast, and small semi-spaces promote short-lived objects
 * and scavenge more often, each scavenge paying for the old generation's pointers into the new one
 * (10,000 nodes: 64 MB ended after 556 and 614 s wall, 741 and 813 s CPU; 128 MB after 530 s, 623 s CPU).
 */
const SEMI_SPACE_MB = 128;
/**
 * --expose-gc lets the run measure its live heap at the end. The collector keeps its helper threads:
 * parallel scavenges cost a little more CPU in all but take ~14 % off the wall time of 3,000 nodes on
 * this 2-core machine (72.7 → 62.8 s), and wall time is what a user waits for.
 */
const GC_FLAGS = ['--expose-gc'];

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'meshlink-sim-'));
  const bundle = join(workDir, 'sim.mjs');
  await build({
    entryPoints: [join(dirname(fileURLToPath(import.meta.url)), 'sim.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
  const heapMB = Math.floor((totalmem() / 2 ** 20) * HEAP_SHARE_OF_MEMORY);
  const child = spawn(process.execPath, [`--max-old-space-size=${heapMB}`, `--max-semi-space-size=${SEMI_SPACE_MB}`, ...GC_FLAGS, bundle, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward).on('SIGTERM', forward);
  // A child killed by a signal exits the shell way: 128 + the signal's number.
  const code = await new Promise<number>((resolve) => child.on('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal === null ? 0 : constants.signals[signal]))));
  rmSync(workDir, { recursive: true, force: true });
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(`sim launcher failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
