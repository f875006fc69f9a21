/**
 * `npm run sim -- --nodes 1000 --seeds 10 [--malicious 0.2 --attack sybil] [--json]`
 * `npm run sim -- --sweep [--nodes 500] [--sweep-seeds 5] [--json]`
 *
 * Many real Switches and PEXAgents in one process, in simulated time (bench/sim-clock.ts): PEX runs at
 * its default periods, and a run is deterministic, so the same --rng-seed prints the same report.
 * stdout carries only that report; what the run cost (wall time, CPU, heap) goes to stderr.
 */
import { parseSimArgs, type SimCommand } from './sim-config.js';
import { runSimulation } from './sim-run.js';
import { runSweep, sweepTable } from './sim-sweep.js';

async function main(): Promise<void> {
  let command: SimCommand;
  try {
    command = parseSimArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  if (command.sweep) {
    const rows = await runSweep(command, log);
    process.stdout.write(command.json ? `${JSON.stringify(rows)}\n` : `${sweepTable(rows, command)}\n`);
    return;
  }
  const { report, cost } = await runSimulation(command.config, log);
  log(`cost: ${JSON.stringify(cost)}`);
  const output = command.cost ? { ...report, cost } : report;
  process.stdout.write(command.json ? `${JSON.stringify(output)}\n` : `${JSON.stringify(output, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`sim failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
