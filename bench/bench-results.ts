import type { BenchConnection } from './workloads.js';
import { median, percentile, round } from './common.js';

/** One transport's row of `npm run bench`: its medians over the repetitions, and its ratios to the bare transport it is compared with. */
export interface ResultRow {
  name: string;
  description: string;
  receiver: 'separate process' | 'same process';
  /** The bare transport this row's ratios are measured against (absent on baselines). */
  baseline?: string;
  bulkMBps: number;
  msgs1KiBps: number;
  msgs64Bps: number;
  /** Largest deviation of one repetition's bulk MB/s from their median, in % of the median. */
  bulkSpreadPct: number;
  bulkRepsMBps: number[];
  rttMedianUs: number;
  rttP99Us: number;
  rttP999Us: number;
  ratios?: {
    bulkMBps: number;
    /** The bulk ratio to the baseline per repetition (both measured back to back), and its spread. */
    bulkPerRep: number[];
    bulkSpreadPct: number;
    msgs1KiBps: number;
    msgs64Bps: number;
    rttMedianUs: number;
    rttP99Us: number;
    rttP999Us: number;
  };
}

const DESCRIPTIONS: Record<string, string> = {
  'raw-tcp': 'Node net, 4-byte length prefix, one socket.write per message (baseline)',
  'meshlink-tcp': 'createNode Switches over TCP: secure handshake, NodeInfo, MConnection, native AEAD; peer.trySend(), await peer.send() when full',
  'meshlink-tcp-plain': 'MConnection over a bare TcpLink, no encryption; await conn.send()',
  'meshlink-memory': 'createNode Switches over the in-memory transport (encrypted), one process',
  'raw-ws': 'ws WebSocketServer + WebSocket, one binary ws.send per message (baseline)',
  'meshlink-ws': 'createNode Switches over ws:// (secure handshake, NodeInfo, MConnection); peer.trySend(), await peer.send() when full',
  'bare-webrtc': 'two SimplePeer (@roamhq/wrtc) signalled in-process, one send() per message, bufferSize polled (baseline)',
  'meshlink-webrtc': 'createNode({ webrtc: true }) Switches, signalled through a relay Switch, webrtc://<id>?via=<relay>',
};

/** Which bare transport each meshlink row is compared with. */
const BASELINES: Record<string, string> = {
  'meshlink-tcp': 'raw-tcp',
  'meshlink-tcp-plain': 'raw-tcp',
  'meshlink-memory': 'raw-tcp',
  'meshlink-ws': 'raw-ws',
  'meshlink-webrtc': 'bare-webrtc',
};

/** What each repetition measured on one connection: bulk MB/s, 1 KiB and 64 B messages/s, round trips in µs. */
export interface Samples {
  bulk: number[];
  m1k: number[];
  m64: number[];
  rtt: number[];
}

/** The rows of the table: medians per connection, then each meshlink row's ratios to its baseline measured in this run. */
export function resultRows(connections: readonly BenchConnection[], samples: ReadonlyMap<string, Samples>): ResultRow[] {
  const rows: ResultRow[] = connections.map((conn) => {
    const s = samples.get(conn.name)!;
    return {
      name: conn.name,
      description: DESCRIPTIONS[conn.name]!,
      receiver: conn.receiverPlacement === 'process' ? 'separate process' : 'same process',
      ...(BASELINES[conn.name] !== undefined ? { baseline: BASELINES[conn.name] } : {}),
      bulkMBps: round(median(s.bulk), 1),
      bulkSpreadPct: spreadPct(s.bulk),
      bulkRepsMBps: s.bulk.map((x) => round(x, 1)),
      msgs1KiBps: Math.round(median(s.m1k)),
      msgs64Bps: Math.round(median(s.m64)),
      rttMedianUs: round(median(s.rtt), 1),
      rttP99Us: round(percentile(s.rtt, 0.99), 1),
      rttP999Us: round(percentile(s.rtt, 0.999), 1),
    };
  });
  for (const row of rows) {
    const raw = rows.find((r) => r.name === row.baseline);
    if (raw === undefined) {
      delete row.baseline;
      continue;
    }
    const bulkPerRep = samples.get(row.name)!.bulk.map((x, i) => x / samples.get(raw.name)!.bulk[i]!);
    row.ratios = {
      bulkMBps: round(row.bulkMBps / raw.bulkMBps, 2),
      bulkPerRep: bulkPerRep.map((x) => round(x, 2)),
      bulkSpreadPct: spreadPct(bulkPerRep),
      msgs1KiBps: round(row.msgs1KiBps / raw.msgs1KiBps, 2),
      msgs64Bps: round(row.msgs64Bps / raw.msgs64Bps, 2),
      rttMedianUs: round(row.rttMedianUs / raw.rttMedianUs, 2),
      rttP99Us: round(row.rttP99Us / raw.rttP99Us, 2),
      rttP999Us: round(row.rttP999Us / raw.rttP999Us, 2),
    };
  }
  return rows;
}

/** Largest deviation from the median, in % of the median. */
function spreadPct(values: readonly number[]): number {
  const mid = median(values);
  return round((Math.max(...values.map((x) => Math.abs(x - mid))) / mid) * 100, 1);
}
