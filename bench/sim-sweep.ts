/** `--sweep`: attacker shares × attack kinds × rng seeds, one simulation each, summed up per cell. */
import type { AttackKind, SimCommand } from './sim-config.js';
import { runSimulation } from './sim-run.js';

export interface SweepRow {
  attack: AttackKind;
  malicious: number;
  runs: number;
  /** Eclipsed honest nodes, summed over the runs, and the most in one run. */
  eclipsedTotal: number;
  eclipsedMax: number;
  /** Honest nodes without any outbound peer at the end, summed over the runs. */
  noOutboundTotal: number;
  /** Mean over runs of the attackers' share of honest outbound peers / honest book entries. */
  maliciousOutboundShare: number;
  maliciousBookShare: number;
  /** Largest share of one honest node's outbound peers held by attackers, over all runs. */
  worstNodeMaliciousShare: number;
  /** Runs whose honest graph was in more than one piece. */
  splitRuns: number;
  /** Slowest time to target over the runs (null when a run never got there). */
  timeToTargetMaxSec: number | null;
}

const mean = (values: readonly number[]): number => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;

export async function runSweep(command: SimCommand, log: (line: string) => void): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const attack of command.sweepKinds) {
    for (const malicious of command.sweepShares) {
      const reports = [];
      for (let rngSeed = 1; rngSeed <= command.sweepSeeds; rngSeed++) {
        const { report, cost } = await runSimulation({ ...command.config, attack, malicious, rngSeed });
        log(`${attack} ${malicious} seed ${rngSeed}: eclipsed ${report.graph.eclipsed}, outbound share ${report.graph.maliciousOutboundShare}, book share ${report.graph.maliciousBookShare} (${cost.wallSec} s wall)`);
        reports.push(report);
      }
      const times = reports.map((report) => report.timeToTargetSec);
      rows.push({
        attack,
        malicious,
        runs: reports.length,
        eclipsedTotal: reports.reduce((sum, report) => sum + report.graph.eclipsed, 0),
        eclipsedMax: Math.max(...reports.map((report) => report.graph.eclipsed)),
        noOutboundTotal: reports.reduce((sum, report) => sum + report.graph.noOutbound, 0),
        maliciousOutboundShare: round4(mean(reports.map((report) => report.graph.maliciousOutboundShare))),
        maliciousBookShare: round4(mean(reports.map((report) => report.graph.maliciousBookShare))),
        worstNodeMaliciousShare: Math.max(...reports.map((report) => report.graph.worstMaliciousOutboundShare)),
        splitRuns: reports.filter((report) => report.graph.components > 1).length,
        timeToTargetMaxSec: times.some((time) => time === null) ? null : Math.max(...(times as number[])),
      });
    }
  }
  return rows;
}

/** The sweep as a Markdown table (what the README shows). */
export function sweepTable(rows: readonly SweepRow[], command: SimCommand): string {
  const { nodes, seeds } = command.config;
  const percent = (share: number): string => `${(share * 100).toFixed(1)} %`;
  const lines = [
    `${nodes} nodes, ${seeds} seeds, ${command.sweepSeeds} rng seeds per row (1..${command.sweepSeeds}); eclipsed = honest nodes whose outbound peers are all attackers`,
    '',
    '| attack | attackers | eclipsed (sum, worst run) | no outbound | attackers in honest outbound | attackers in honest books | worst node | split runs | time to target (max) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.attack} | ${percent(row.malicious)} | ${row.eclipsedTotal}, ${row.eclipsedMax} | ${row.noOutboundTotal} | ${percent(row.maliciousOutboundShare)} | ${percent(row.maliciousBookShare)} | ${percent(row.worstNodeMaliciousShare)} | ${row.splitRuns} | ${row.timeToTargetMaxSec === null ? 'not reached' : `${row.timeToTargetMaxSec} s`} |`,
    );
  }
  return lines.join('\n');
}
