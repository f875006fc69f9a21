import type { ResultRow } from './bench-results.js';

/** `ratio` is a factor (×) unless `unit` says otherwise. */
export type Target = { target: string; ratio: number; met: boolean; unit?: '%' };

/** Issue 14: round trips within this factor of the bare transport's, at the median and at p99. */
const RTT_RATIO_GOAL = 1.2;
/** Issue 14: encrypted bulk at least the bare transport's, each repetition's ratio within ±15 %. */
const BULK_RATIO_GOAL = 1.0;
const BULK_SPREAD_GOAL_PCT = 15;

/**
 * The goals, on ratios measured in this run: meshlink-tcp against raw-tcp (keys as before), and the
 * ws and WebRTC rows against their bare transports (≥ 0.8× on rates, so ≤ 1.25× on round trips);
 * issue 14's tighter round trip (≤ 1.2× at p50 and p99) on TCP and ws, and bulk ≥ 1.0× on TCP.
 */
export function computeTargets(rows: ResultRow[]): Record<string, Target> {
  const targets: Record<string, Target> = {};
  const tcp = rows.find((row) => row.name === 'meshlink-tcp')?.ratios;
  if (tcp !== undefined) {
    targets['msgs1KiBps'] = { target: '>= 1.0x raw-tcp', ratio: tcp.msgs1KiBps, met: tcp.msgs1KiBps >= 1.0 };
    targets['msgs64Bps'] = { target: '>= 2.0x raw-tcp', ratio: tcp.msgs64Bps, met: tcp.msgs64Bps >= 2.0 };
    targets['rttMedianUs'] = { target: `<= ${RTT_RATIO_GOAL}x raw-tcp`, ratio: tcp.rttMedianUs, met: tcp.rttMedianUs <= RTT_RATIO_GOAL };
    targets['rttP99Us'] = { target: `<= ${RTT_RATIO_GOAL}x raw-tcp`, ratio: tcp.rttP99Us, met: tcp.rttP99Us <= RTT_RATIO_GOAL };
    targets['bulkMBps'] = { target: `>= ${BULK_RATIO_GOAL}x raw-tcp`, ratio: tcp.bulkMBps, met: tcp.bulkMBps >= BULK_RATIO_GOAL };
    targets['bulkSpreadPct'] = { target: `<= ${BULK_SPREAD_GOAL_PCT}% (per-rep ratio)`, ratio: tcp.bulkSpreadPct, met: tcp.bulkSpreadPct <= BULK_SPREAD_GOAL_PCT, unit: '%' };
  }
  const ws = rows.find((row) => row.name === 'meshlink-ws')?.ratios;
  if (ws !== undefined) {
    targets['meshlink-ws.rttP99Us'] = { target: `<= ${RTT_RATIO_GOAL}x raw-ws`, ratio: ws.rttP99Us, met: ws.rttP99Us <= RTT_RATIO_GOAL };
  }
  for (const name of ['meshlink-ws', 'meshlink-webrtc']) {
    const row = rows.find((r) => r.name === name);
    if (row?.ratios === undefined) continue;
    const base = row.baseline!;
    for (const key of ['bulkMBps', 'msgs1KiBps', 'msgs64Bps'] as const) {
      targets[`${name}.${key}`] = { target: `>= 0.8x ${base}`, ratio: row.ratios[key], met: row.ratios[key] >= 0.8 };
    }
    targets[`${name}.rttMedianUs`] = { target: `<= 1.25x ${base}`, ratio: row.ratios.rttMedianUs, met: row.ratios.rttMedianUs <= 1.25 };
  }
  return targets;
}
