/**
 * npm run soak -- --nodes 20 --minutes 10 [--seed S] [--kill-every SECONDS] [--rate MSGS_PER_S]
 *                  [--stop-while-sending] [--json]
 *
 * A mesh of node processes over real TCP on 127.0.0.1 with random kills and restarts (see
 * bench/soak-run.ts). Prints messages sent, delivered, duplicated and lost on links that stayed up,
 * and the heap of the longest-lived node over time. Exits 1 when a stable link lost a message, a
 * message was duplicated, or a node crashed or did not stop gracefully.
 */
import { parseArgs } from 'node:util';
import { killAllSoakNodes, runSoak, type SoakResult } from './soak-run.js';

interface CommandLine {
  nodes: number;
  minutes: number;
  seed: number;
  killEverySeconds: number;
  rate: number;
  stopWhileSending: boolean;
  json: boolean;
}

function parseCommandLine(): CommandLine {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '20' },
      minutes: { type: 'string', default: '1' },
      seed: { type: 'string' },
      'kill-every': { type: 'string', default: '3' },
      rate: { type: 'string', default: '50' },
      'stop-while-sending': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const number = (name: string, text: string, min: number): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number ≥ ${min} (got "${text}")`);
    return value;
  };
  return {
    nodes: Math.floor(number('nodes', values.nodes, 2)),
    minutes: number('minutes', values.minutes, 0.05),
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Math.floor(number('seed', values.seed, 0)),
    killEverySeconds: number('kill-every', values['kill-every'], 0.5),
    rate: number('rate', values.rate, 1),
    stopWhileSending: values['stop-while-sending'],
    json: values.json,
  };
}

function printSummary(result: SoakResult): void {
  const line = (label: string, value: string | number): void => console.log(`${label.padEnd(30)}${value}`);
  console.log(`meshlink soak: ${result.nodes} nodes, ${result.minutes} min, seed ${result.seed}`);
  line('kills / restarts', `${result.kills} / ${result.restarts}`);
  line('crashes / stop failures', `${result.crashes} / ${result.stopFailures}`);
  const { stable, killed, unconfirmed, broken } = result.sessions;
  line('sessions', `${stable} stable, ${killed} killed, ${unconfirmed} unconfirmed, ${broken} broken`);
  line('sent', result.sent);
  line('delivered', result.delivered);
  line('duplicated', result.duplicated);
  line('lost on stable links', result.lostOnStableLinks);
  line('in flight at kill', result.inFlightAtKill);
  line('gaps on killed links', result.gapsOnKilledLinks);
  line('lost on unconfirmed links', result.lostOnUnconfirmedLinks);
  line('lost on broken links', result.lostOnBrokenLinks);
  line('open after stop', result.openAfterStop);
  line('lingering after stop', result.lingeringAfterStop);
  line('node 0 heap (MB over time)', result.heapSamples.map((s) => `${s.seconds}s:${s.heapUsedMB}`).join(' '));
  line('node 0 peak heap', `${result.peakHeapMB} MB`);
  for (const problem of result.problems) console.log(`  ! ${problem}`);
  console.log(result.ok ? 'OK: nothing lost on stable links, nothing duplicated' : 'FAILED');
}

async function main(): Promise<void> {
  const args = parseCommandLine();
  // Ctrl-C or a kill of the parent: take every node process down with us.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllSoakNodes();
      process.exit(130);
    });
  }
  const result = await runSoak({
    nodes: args.nodes,
    durationMs: args.minutes * 60 * 1000,
    seed: args.seed,
    killIntervalMs: args.killEverySeconds * 1000,
    messagesPerSecondPerLink: args.rate,
    quiesceBeforeStop: !args.stopWhileSending,
    log: (text) => console.error(`[soak] ${text}`),
  });
  if (args.json) {
    const { pids: _pids, ...printable } = result;
    console.log(JSON.stringify(printable));
  } else {
    printSummary(result);
  }
  process.exitCode = result.ok ? 0 : 1;
}

main().catch((error: unknown) => {
  killAllSoakNodes();
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
