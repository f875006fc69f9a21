/**
 * `npm run bench` — meshlink against raw Node TCP, measured side by side in one run on 127.0.0.1.
 *
 *   --json          print one JSON object instead of the table
 *   --quick         a ~20 s smoke run (smaller counts, one repetition, 200 idle peers)
 *   --inproc        run the receiving sides in this process instead of a child process (by default
 *                   they run in one child process: on 2 cores, sender and receiver then each get a
 *                   core, as two nodes on two machines would; in one process they take turns, which
 *                   favours raw TCP, whose per-message cost is split between the two sides)
 *   --idle-peers=N  number of idle peers (default 1000; 0 skips the row)
 *   --no-memory     skip the in-memory transport row
 *
 * Every workload runs on every transport in turn, repetition by repetition, so that slow phases of the
 * machine hit all of them alike; compare the ratios, not the absolute numbers (they swing run to run).
 */
import os from 'node:os';
import { KIB, median, percentile, round, type ReceiverKind } from './common.js';
import { runIdlePeers, type IdlePeersResult } from './idle-peers.js';
import { ReceiverProcess } from './receiver-client.js';
import { connectSender, startMemoryPair, startReceiver } from './transports.js';
import { megabytesPerSecond, runPingPong, runThroughput, type BenchConnection } from './workloads.js';

interface Plan {
  reps: number;
  bulkMessages: number;
  messages1KiB: number;
  messages64B: number;
  pingPongRounds: number;
  warmupFraction: number;
  idlePeers: number;
}

const FULL: Plan = { reps: 5, bulkMessages: 2048, messages1KiB: 200_000, messages64B: 400_000, pingPongRounds: 5000, warmupFraction: 0.15, idlePeers: 1000 };
const QUICK: Plan = { reps: 2, bulkMessages: 1024, messages1KiB: 100_000, messages64B: 200_000, pingPongRounds: 2000, warmupFraction: 0.2, idlePeers: 300 };

const BULK_MESSAGE_BYTES = 64 * KIB;
const RTT_SLICE_ROUNDS = 250;

export interface ResultRow {
  name: string;
  description: string;
  receiver: 'separate process' | 'same process';
  bulkMBps: number;
  msgs1KiBps: number;
  msgs64Bps: number;
  rttMedianUs: number;
  rttP99Us: number;
  ratios?: { bulkMBps: number; msgs1KiBps: number; msgs64Bps: number; rttMedianUs: number; rttP99Us: number };
}

const DESCRIPTIONS: Record<string, string> = {
  'raw-tcp': 'Node net, 4-byte length prefix, one socket.write per message (baseline)',
  'meshlink-tcp': 'createNode Switches over TCP: secure handshake, NodeInfo, MConnection, native AEAD; await peer.send()',
  'meshlink-tcp-plain': 'MConnection over a bare TcpLink, no encryption; await conn.send()',
  'meshlink-memory': 'createNode Switches over the in-memory transport (encrypted), one process',
};

function parseArgs(argv: string[]): { json: boolean; quick: boolean; inproc: boolean; idlePeers: number | undefined; memory: boolean } {
  const idle = argv.find((a) => a.startsWith('--idle-peers='));
  return {
    json: argv.includes('--json'),
    quick: argv.includes('--quick'),
    inproc: argv.includes('--inproc'),
    idlePeers: idle === undefined ? undefined : Number(idle.split('=')[1]),
    memory: !argv.includes('--no-memory'),
  };
}

/** Progress goes to stderr, so that with `--json` stdout holds exactly one JSON object. */
function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const plan = { ...(args.quick ? QUICK : FULL) };
  if (args.idlePeers !== undefined) plan.idlePeers = args.idlePeers;
  const startedAt = performance.now();
  // Other work on the machine skews everything (the ratios least): the load average is in the output.
  const loadAtStart = os.loadavg()[0]!;
  const kinds: ReceiverKind[] = ['raw-tcp', 'meshlink-tcp', 'meshlink-tcp-plain'];
  const receiverProcess = args.inproc ? undefined : new ReceiverProcess();
  const connections: BenchConnection[] = [];
  for (const kind of kinds) {
    const receiver = receiverProcess !== undefined ? await receiverProcess.start(kind) : await startReceiver(kind);
    const sender = await connectSender(kind, receiver.ready.address);
    connections.push({ name: kind, sender, receiver, receiverPlacement: receiverProcess !== undefined ? 'process' : 'inproc' });
  }
  if (args.memory) {
    const pair = await startMemoryPair();
    connections.push({ name: 'meshlink-memory', sender: pair.sender, receiver: pair.receiver, receiverPlacement: 'inproc' });
  }

  const samples = new Map<string, { bulk: number[]; m1k: number[]; m64: number[]; rtt: number[] }>();
  for (const conn of connections) samples.set(conn.name, { bulk: [], m1k: [], m64: [], rtt: [] });
  const warm = (n: number): number => Math.max(1, Math.round(n * plan.warmupFraction));

  log(`warming up ${connections.map((c) => c.name).join(', ')}`);
  for (const conn of connections) {
    await runThroughput(conn, BULK_MESSAGE_BYTES, warm(plan.bulkMessages));
    await runThroughput(conn, KIB, warm(plan.messages1KiB));
    await runThroughput(conn, 64, warm(plan.messages64B));
    await runPingPong(conn, warm(plan.pingPongRounds));
  }
  for (let rep = 0; rep < plan.reps; rep++) {
    log(`repetition ${rep + 1}/${plan.reps}`);
    for (const conn of connections) {
      const s = samples.get(conn.name)!;
      const bulkSeconds = await runThroughput(conn, BULK_MESSAGE_BYTES, plan.bulkMessages);
      s.bulk.push(megabytesPerSecond(plan.bulkMessages * BULK_MESSAGE_BYTES, bulkSeconds));
    }
    for (const conn of connections) samples.get(conn.name)!.m1k.push(plan.messages1KiB / (await runThroughput(conn, KIB, plan.messages1KiB)));
    for (const conn of connections) samples.get(conn.name)!.m64.push(plan.messages64B / (await runThroughput(conn, 64, plan.messages64B)));
    // Round trips are short: interleave them in small slices so that every transport sees the same
    // moments of the machine's load.
    for (let done = 0; done < plan.pingPongRounds; done += RTT_SLICE_ROUNDS) {
      const rounds = Math.min(RTT_SLICE_ROUNDS, plan.pingPongRounds - done);
      for (const conn of connections) samples.get(conn.name)!.rtt.push(...(await runPingPong(conn, rounds)));
    }
  }
  for (const conn of connections) await conn.sender.close();
  for (const conn of connections) await conn.receiver.stop();
  await receiverProcess?.close();

  const rows: ResultRow[] = connections.map((conn) => {
    const s = samples.get(conn.name)!;
    return {
      name: conn.name,
      description: DESCRIPTIONS[conn.name]!,
      receiver: conn.receiverPlacement === 'process' ? 'separate process' : 'same process',
      bulkMBps: round(median(s.bulk), 1),
      msgs1KiBps: Math.round(median(s.m1k)),
      msgs64Bps: Math.round(median(s.m64)),
      rttMedianUs: round(median(s.rtt), 1),
      rttP99Us: round(percentile(s.rtt, 0.99), 1),
    };
  });
  const raw = rows.find((row) => row.name === 'raw-tcp')!;
  for (const row of rows) {
    if (row === raw) continue;
    row.ratios = {
      bulkMBps: round(row.bulkMBps / raw.bulkMBps, 2),
      msgs1KiBps: round(row.msgs1KiBps / raw.msgs1KiBps, 2),
      msgs64Bps: round(row.msgs64Bps / raw.msgs64Bps, 2),
      rttMedianUs: round(row.rttMedianUs / raw.rttMedianUs, 2),
      rttP99Us: round(row.rttP99Us / raw.rttP99Us, 2),
    };
  }
  const mesh = rows.find((row) => row.name === 'meshlink-tcp')!;
  const targets = {
    msgs1KiBps: { target: '>= 1.0x raw-tcp', ratio: mesh.ratios!.msgs1KiBps, met: mesh.ratios!.msgs1KiBps >= 1.0 },
    msgs64Bps: { target: '>= 2.0x raw-tcp', ratio: mesh.ratios!.msgs64Bps, met: mesh.ratios!.msgs64Bps >= 2.0 },
    rttMedianUs: { target: '<= 1.5x raw-tcp', ratio: mesh.ratios!.rttMedianUs, met: mesh.ratios!.rttMedianUs <= 1.5 },
  };

  let idlePeers: IdlePeersResult | { skipped: true } | { error: string } = { skipped: true };
  if (plan.idlePeers > 0) {
    log(`idle peers: connecting ${plan.idlePeers}`);
    try {
      idlePeers = await runIdlePeers(plan.idlePeers);
    } catch (error) {
      idlePeers = { error: error instanceof Error ? error.message : String(error) };
    }
  }

  const cpus = os.cpus();
  const output = {
    results: rows,
    targets,
    idlePeers,
    env: {
      node: process.version,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      platform: `${os.platform()} ${os.release()}`,
      date: new Date().toISOString(),
      mode: args.quick ? 'quick' : 'full',
      receiver: args.inproc
        ? 'same process as the sender'
        : 'separate process (child_process.fork) for raw-tcp, meshlink-tcp, meshlink-tcp-plain; meshlink-memory is in-process by nature',
      plan,
      loadAverage1m: { start: round(loadAtStart, 2), end: round(os.loadavg()[0]!, 2) },
      elapsedSeconds: round((performance.now() - startedAt) / 1000, 1),
    },
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } else {
    printTable(rows, targets, idlePeers, output.env);
  }
}

function printTable(rows: ResultRow[], targets: Record<string, { target: string; ratio: number; met: boolean }>, idle: unknown, env: Record<string, unknown>): void {
  const ratio = (row: ResultRow, key: keyof NonNullable<ResultRow['ratios']>): string => (row.ratios === undefined ? '' : ` (${row.ratios[key].toFixed(2)}×)`);
  const header = ['transport', 'bulk MB/s', '1 KiB msgs/s', '64 B msgs/s', 'RTT median µs', 'RTT p99 µs'];
  const body = rows.map((row) => [
    row.name,
    `${row.bulkMBps.toFixed(0)}${ratio(row, 'bulkMBps')}`,
    `${row.msgs1KiBps.toLocaleString('en-US')}${ratio(row, 'msgs1KiBps')}`,
    `${row.msgs64Bps.toLocaleString('en-US')}${ratio(row, 'msgs64Bps')}`,
    `${row.rttMedianUs.toFixed(1)}${ratio(row, 'rttMedianUs')}`,
    `${row.rttP99Us.toFixed(1)}${ratio(row, 'rttP99Us')}`,
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
  out.push('(×) = ratio to raw-tcp measured in this run. Rows:');
  for (const row of rows) out.push(`  ${row.name.padEnd(widths[0]!)}  ${row.description} [receiver: ${row.receiver}]`);
  out.push('');
  out.push('targets (meshlink-tcp vs raw-tcp):');
  for (const [name, t] of Object.entries(targets)) out.push(`  ${name.padEnd(12)} ${t.target.padEnd(16)} ${t.ratio.toFixed(2)}×  ${t.met ? 'met' : 'NOT met'}`);
  out.push('');
  const idlePeers = idle as Partial<IdlePeersResult> & { skipped?: boolean; error?: string };
  if (idlePeers.skipped === true) out.push('idle peers: skipped');
  else if (idlePeers.error !== undefined) out.push(`idle peers: FAILED: ${idlePeers.error}`);
  else {
    const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
    out.push(
      `idle peers: ${idlePeers.connected}/${idlePeers.peers} connected over TCP in ${idlePeers.connectSeconds} s; hub per peer after GC: ` +
        `heap ${kib(idlePeers.heapBytesPerPeer!)} + external ${kib(idlePeers.externalBytesPerPeer!)} = ${kib(idlePeers.heapPlusExternalBytesPerPeer!)} ` +
        `(goal ≤ ${kib(idlePeers.goalBytesPerPeer!)}: ${idlePeers.goalMet ? 'met' : 'NOT met'}), RSS ${kib(idlePeers.rssBytesPerPeer!)}`,
    );
  }
  const load = env['loadAverage1m'] as { start: number; end: number };
  out.push(`elapsed ${String(env['elapsedSeconds'])} s; 1-minute load average ${load.start} at start, ${load.end} at end (${String(env['cpus'])} CPUs)`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
