import type { IdlePeersResult } from './idle-peers.js';
import type { CountScale } from './bench-plan.js';
import type { ResultRow } from './bench-results.js';
import type { Target } from './bench-targets.js';

/** The human-readable report of `npm run bench` (without `--json`). */
export function printTable(rows: ResultRow[], targets: Record<string, Target>, idle: unknown, env: Record<string, unknown>): void {
  type ScalarRatio = Exclude<keyof NonNullable<ResultRow['ratios']>, 'bulkPerRep'>;
  const ratio = (row: ResultRow, key: ScalarRatio): string => (row.ratios === undefined ? '' : ` (${row.ratios[key].toFixed(2)}×)`);
  const header = ['transport', 'bulk MB/s', 'bulk ±%', '1 KiB msgs/s', '64 B msgs/s', 'RTT p50 µs', 'RTT p99 µs', 'RTT p99.9 µs'];
  const body = rows.map((row) => [
    row.name,
    `${row.bulkMBps.toFixed(0)}${ratio(row, 'bulkMBps')}`,
    `${row.bulkSpreadPct.toFixed(0)}${row.ratios === undefined ? '' : ` (${row.ratios.bulkSpreadPct.toFixed(0)})`}`,
    `${row.msgs1KiBps.toLocaleString('en-US')}${ratio(row, 'msgs1KiBps')}`,
    `${row.msgs64Bps.toLocaleString('en-US')}${ratio(row, 'msgs64Bps')}`,
    `${row.rttMedianUs.toFixed(1)}${ratio(row, 'rttMedianUs')}`,
    `${row.rttP99Us.toFixed(1)}${ratio(row, 'rttP99Us')}`,
    `${row.rttP999Us.toFixed(1)}${ratio(row, 'rttP999Us')}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out: string[] = [];
  out.push(`meshlink bench — node ${String(env['node'])}, ${String(env['cpus'])} CPUs, ${String(env['date'])}, ${String(env['mode'])} run`);
  out.push(`receiving side: ${String(env['receiver'])}`);
  out.push('');
  out.push(line(header));
  out.push(line(widths.map((w) => '-'.repeat(w))));
  for (const cells of body) out.push(line(cells));
  out.push('');
  out.push('(×) = ratio to the row\'s bare transport (raw-tcp, raw-ws, bare-webrtc) measured in this run.');
  out.push('bulk ±% = largest deviation of one repetition from the median (in brackets: of the per-repetition ratio). Rows:');
  for (const row of rows) {
    const vs = row.ratios === undefined ? '' : ` [vs ${row.baseline!}]`;
    out.push(`  ${row.name.padEnd(widths[0]!)}  ${row.description} [receiver: ${row.receiver}]${vs}`);
  }
  const scales = Object.entries((env['countScale'] ?? {}) as Record<string, CountScale>);
  if (scales.length > 0) {
    const f = (x: number): string => (x === 1 ? '1' : `1/${Math.round(1 / x)}`);
    out.push(`  counts scaled (bulk, msgs, rtt): ${scales.map(([name, s]) => `${name} ${f(s.bulk)}, ${f(s.msgs)}, ${f(s.rtt)}`).join('; ')}`);
  }
  out.push('');
  out.push('targets (ratios measured in this run; unprefixed = meshlink-tcp vs raw-tcp):');
  const nameWidth = Math.max(12, ...Object.keys(targets).map((k) => k.length));
  for (const [name, t] of Object.entries(targets)) out.push(`  ${name.padEnd(nameWidth)} ${t.target.padEnd(22)} ${t.unit === '%' ? `${t.ratio.toFixed(1)}%` : `${t.ratio.toFixed(2)}×`}  ${t.met ? 'met' : 'NOT met'}`);
  out.push('');
  const idlePeers = idle as Partial<IdlePeersResult> & { skipped?: boolean; error?: string };
  if (idlePeers.skipped === true) out.push('idle peers: skipped');
  else if (idlePeers.error !== undefined) out.push(`idle peers: FAILED: ${idlePeers.error}`);
  else {
    const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
    out.push(
      `idle peers: ${idlePeers.connected}/${idlePeers.peers} connected over ${process.env.MESHLINK_IDLE_LISTEN?.startsWith('ws') === true ? 'ws' : 'TCP'} in ${idlePeers.connectSeconds} s; hub per peer after GC: ` +
        `heap ${kib(idlePeers.heapBytesPerPeer!)} + external ${kib(idlePeers.externalBytesPerPeer!)} = ${kib(idlePeers.heapPlusExternalBytesPerPeer!)} ` +
        `(goal ≤ ${kib(idlePeers.goalBytesPerPeer!)}: ${idlePeers.goalMet ? 'met' : 'NOT met'}), RSS ${kib(idlePeers.rssBytesPerPeer!)}`,
    );
  }
  const load = env['loadAverage1m'] as { start: number; end: number };
  out.push(`elapsed ${String(env['elapsedSeconds'])} s; 1-minute load average ${load.start} at start, ${load.end} at end (${String(env['cpus'])} CPUs)`);
  process.stdout.write(`${out.join('\n')}\n`);
}
