/**
 * `npm run bench` — meshlink against the bare transports (Node TCP, `ws`, a simple-peer data channel),
 * measured side by side in one run on 127.0.0.1.
 *
 *   --json          print one JSON object instead of the table
 *   --profile       only the latency profile (bench/profile.ts): µs per layer for one 64 B and one
 *                   64 KiB message over encrypted TCP, printed as one JSON object
 *   --quick         a ~20 s smoke run (smaller counts, one repetition, 200 idle peers)
 *   --inproc        run the receiving sides in this process instead of a child process (by default
 *                   they run in one child process: on 2 cores, sender and receiver then each get a
 *                   core, as two nodes on two machines would; in one process they take turns, which
 *                   favours raw TCP, whose per-message cost is split between the two sides)
 *   --idle-peers=N  number of idle peers (default 1000; 0 skips the row); over TCP, or over WebSocket
 *                   with MESHLINK_IDLE_LISTEN=ws://127.0.0.1:0/ in the environment
 *   --reps=N        repetitions (default 5, quick 2): the bulk spread is over these
 *   --no-memory     skip the in-memory transport row
 *   --only=GROUPS   run only these groups, comma-separated (`--only ws,webrtc` works too): tcp (raw-tcp,
 *                   meshlink-tcp, meshlink-tcp-plain), memory, ws (raw-ws, meshlink-ws), webrtc
 *                   (bare-webrtc, meshlink-webrtc, always in this process), idle (the idle-peers row)
 *
 * Every workload runs on every transport in turn, repetition by repetition, so that slow phases of the
 * machine hit all of them alike; compare the ratios, not the absolute numbers (they swing run to run).
 */
import os from 'node:os';
import { parseArgs } from './bench-args.js';
import { BULK_MESSAGE_BYTES, COUNT_SCALE, FULL, QUICK, RTT_SLICE_ROUNDS, scaled, type CountScale } from './bench-plan.js';
import { resultRows, type Samples } from './bench-results.js';
import { printTable } from './bench-table.js';
import { computeTargets } from './bench-targets.js';
import { KIB, round, type ReceiverKind } from './common.js';
import { runIdlePeers, type IdlePeersResult } from './idle-peers.js';
import { runProfile } from './profile.js';
import { ReceiverProcess } from './receiver-client.js';
import { startBareWebRtcPair, startMeshlinkWebRtcPair, type InProcessPair } from './transports-webrtc.js';
import { connectSender, startMemoryPair, startReceiver } from './transports.js';
import { megabytesPerSecond, runPingPong, runThroughput, type BenchConnection } from './workloads.js';

export type { ResultRow } from './bench-results.js';

/** Progress goes to stderr, so that with `--json` stdout holds exactly one JSON object. */
function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.profile) {
    const plan = args.quick ? { warmup: 200, samples: 300 } : { warmup: 1000, samples: 2000 };
    log(`profiling ${plan.samples} single messages of 64 B and of 64 KiB over encrypted TCP, in this process`);
    const profile = await runProfile(plan);
    const env = { node: process.version, cpus: os.cpus().length, date: new Date().toISOString(), loadAverage1m: round(os.loadavg()[0]!, 2), plan };
    process.stdout.write(`${JSON.stringify({ profile, env }, null, 2)}\n`);
    return;
  }
  const plan = { ...(args.quick ? QUICK : FULL) };
  if (args.idlePeers !== undefined) plan.idlePeers = args.idlePeers;
  if (args.reps !== undefined) plan.reps = args.reps;
  if (!args.groups.has('idle')) plan.idlePeers = 0;
  const startedAt = performance.now();
  // Other work on the machine skews everything (the ratios least): the load average is in the output.
  const loadAtStart = os.loadavg()[0]!;
  const kinds: ReceiverKind[] = [
    ...(args.groups.has('tcp') ? (['raw-tcp', 'meshlink-tcp', 'meshlink-tcp-plain'] as const) : []),
    ...(args.groups.has('ws') ? (['raw-ws', 'meshlink-ws'] as const) : []),
  ];
  const receiverProcess = args.inproc || kinds.length === 0 ? undefined : new ReceiverProcess();
  const connections: BenchConnection[] = [];
  for (const kind of kinds) {
    const receiver = receiverProcess !== undefined ? await receiverProcess.start(kind) : await startReceiver(kind);
    const sender = await connectSender(kind, receiver.ready.address);
    connections.push({ name: kind, sender, receiver, receiverPlacement: receiverProcess !== undefined ? 'process' : 'inproc' });
  }
  // Pairs whose both ends live in this process.
  const pairs: [string, () => Promise<InProcessPair>][] = [];
  if (args.groups.has('memory')) pairs.push(['meshlink-memory', startMemoryPair]);
  if (args.groups.has('webrtc')) pairs.push(['bare-webrtc', startBareWebRtcPair], ['meshlink-webrtc', startMeshlinkWebRtcPair]);
  for (const [name, start] of pairs) {
    log(`connecting ${name}`);
    const pair = await start();
    connections.push({ name, sender: pair.sender, receiver: pair.receiver, receiverPlacement: 'inproc' });
  }

  const samples = new Map<string, Samples>();
  for (const conn of connections) samples.set(conn.name, { bulk: [], m1k: [], m64: [], rtt: [] });
  const warm = (n: number): number => Math.max(1, Math.round(n * plan.warmupFraction));

  log(`warming up ${connections.map((c) => c.name).join(', ')}`);
  for (const conn of connections) {
    const n = (count: number, key: keyof CountScale): number => scaled(conn.name, warm(count), key);
    await runThroughput(conn, BULK_MESSAGE_BYTES, n(plan.bulkMessages, 'bulk'));
    await runThroughput(conn, KIB, n(plan.messages1KiB, 'msgs'));
    await runThroughput(conn, 64, n(plan.messages64B, 'msgs'));
    await runPingPong(conn, n(plan.pingPongRounds, 'rtt'));
  }
  for (let rep = 0; rep < plan.reps; rep++) {
    log(`repetition ${rep + 1}/${plan.reps}`);
    for (const conn of connections) {
      const count = scaled(conn.name, plan.bulkMessages, 'bulk');
      const bulkSeconds = await runThroughput(conn, BULK_MESSAGE_BYTES, count);
      samples.get(conn.name)!.bulk.push(megabytesPerSecond(count * BULK_MESSAGE_BYTES, bulkSeconds));
    }
    for (const [bytes, count, key] of [[KIB, plan.messages1KiB, 'm1k'], [64, plan.messages64B, 'm64']] as const) {
      for (const conn of connections) {
        const n = scaled(conn.name, count, 'msgs');
        samples.get(conn.name)![key].push(n / (await runThroughput(conn, bytes, n)));
      }
    }
    // Round trips are short: interleave them in small slices so that every transport sees the same
    // moments of the machine's load.
    for (let done = 0; done < plan.pingPongRounds; done += RTT_SLICE_ROUNDS) {
      const rounds = Math.min(RTT_SLICE_ROUNDS, plan.pingPongRounds - done);
      for (const conn of connections) samples.get(conn.name)!.rtt.push(...(await runPingPong(conn, scaled(conn.name, rounds, 'rtt'))));
    }
  }
  for (const conn of connections) await conn.sender.close();
  for (const conn of connections) await conn.receiver.stop();
  await receiverProcess?.close();

  const rows = resultRows(connections, samples);
  const targets = computeTargets(rows);

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
      receiver: describePlacement(connections),
      plan,
      countScale: Object.fromEntries(connections.filter((c) => COUNT_SCALE[c.name] !== undefined).map((c) => [c.name, COUNT_SCALE[c.name]!])),
      groups: [...args.groups],
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

function describePlacement(connections: BenchConnection[]): string {
  const names = (placement: BenchConnection['receiverPlacement']): string[] => connections.filter((c) => c.receiverPlacement === placement).map((c) => c.name);
  const parts: string[] = [];
  if (names('process').length > 0) parts.push(`separate process (child_process.fork) for ${names('process').join(', ')}`);
  if (names('inproc').length > 0) parts.push(`same process as the sender for ${names('inproc').join(', ')}`);
  return parts.join('; ');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
