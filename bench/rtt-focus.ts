/**
 * `npx tsx bench/rtt-focus.ts [kinds] [reps] [rounds] [--cpu-profile]` — only the 64 B ping-pong,
 * alternating the given receiver kinds (default raw-tcp,meshlink-tcp,meshlink-tcp-plain), receiver in a
 * child process; bare-webrtc and meshlink-webrtc run both ends in this process (as in bench/index.ts),
 * so their receiver CPU is counted in the sender's. Prints the median RTT per kind, its ratio to the first kind, and CPU per round trip on
 * each side: CPU is steadier than wall-clock on a busy machine, and says which side spends the extra
 * time. With `--cpu-profile`, each kind's runs are also CPU-profiled in both processes and the
 * functions with the most self time per round trip are printed (profiled runs are several times slower:
 * compare profiles with profiles). With `--in-process`, every kind runs both ends in this process: the
 * round trip is then all the CPU of both ends (the sender's figure counts both), the steadiest
 * comparison of what each stack costs.
 */
import { median, percentile, type ReceiverKind } from './common.js';
import { formatSelfTimes, startCpuProfile, stopCpuProfile, type SelfTimes } from './cpu-profile.js';
import { connectKinds } from './receiver-client.js';
import { connectSender, startReceiver } from './transports.js';
import { startBareWebRtcPair, startMeshlinkWebRtcPair, type InProcessPair } from './transports-webrtc.js';
import { runPingPong, type BenchConnection } from './workloads.js';

const IN_PROCESS_PAIRS: Record<string, () => Promise<InProcessPair>> = {
  'bare-webrtc': startBareWebRtcPair,
  'meshlink-webrtc': startMeshlinkWebRtcPair,
};

const profiling = process.argv.includes('--cpu-profile');
const inProcess = process.argv.includes('--in-process');
const args = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const kinds = (args[0] ?? 'raw-tcp,meshlink-tcp,meshlink-tcp-plain').split(',');
const reps = Number(args[1] ?? 5);
const rounds = Number(args[2] ?? 5000);
const runsInProcess = (kind: string): boolean => inProcess || IN_PROCESS_PAIRS[kind] !== undefined;
const { receivers: rp, conns } = await connectKinds(kinds.filter((kind) => !runsInProcess(kind)) as ReceiverKind[]);
for (const kind of kinds) {
  if (!runsInProcess(kind)) continue;
  const pair = await (IN_PROCESS_PAIRS[kind] ?? (() => startInProcessPair(kind as ReceiverKind)))();
  conns.push({ name: kind, sender: pair.sender, receiver: pair.receiver, receiverPlacement: 'inproc' } satisfies BenchConnection);
}
conns.sort((a, b) => kinds.indexOf(a.name) - kinds.indexOf(b.name));
for (const c of conns) await runPingPong(c, 2000);
const rtts = new Map<string, number[]>(kinds.map((k) => [k, []]));
/** CPU µs per round trip of the sender (s) and the receiver (r), and of it in the kernel (sSys, rSys). */
const cpu = new Map<string, { s: number[]; r: number[]; sSys: number[]; rSys: number[] }>(kinds.map((k) => [k, { s: [], r: [], sSys: [], rSys: [] }]));
const profiles = new Map<string, { s: SelfTimes; r: SelfTimes }>(kinds.map((k) => [k, { s: new Map(), r: new Map() }]));
for (let r = 0; r < reps; r++) {
  for (const c of conns) {
    if (profiling) await Promise.all([startCpuProfile(), rp.startCpuProfile()]);
    const s0 = process.cpuUsage();
    const r0 = await rp.cpuUsage();
    rtts.get(c.name)!.push(...(await runPingPong(c, rounds)));
    const s1 = process.cpuUsage(s0);
    const r1 = await rp.cpuUsage();
    const used = cpu.get(c.name)!;
    used.s.push((s1.user + s1.system) / rounds);
    used.sSys.push(s1.system / rounds);
    used.r.push((r1.total - r0.total) / rounds);
    used.rSys.push((r1.system - r0.system) / rounds);
    if (profiling) {
      const profile = profiles.get(c.name)!;
      await stopCpuProfile(profile.s);
      for (const [key, us] of await rp.stopCpuProfile()) profile.r.set(key, (profile.r.get(key) ?? 0) + us);
    }
  }
}
const base = median(rtts.get(kinds[0]!)!);
const baseP99 = percentile(rtts.get(kinds[0]!)!, 0.99);
for (const [k, v] of rtts) {
  const m = median(v);
  const p99 = percentile(v, 0.99);
  const used = cpu.get(k)!;
  console.log(
    `${k.padEnd(20)} RTT p50 ${m.toFixed(1)} µs (${(m / base).toFixed(2)}×) p99 ${p99.toFixed(0)} µs (${(p99 / baseP99).toFixed(2)}×)  cpu/round trip sender ${median(used.s).toFixed(1)} µs (kernel ${median(used.sSys).toFixed(1)}) receiver ${median(used.r).toFixed(1)} µs (kernel ${median(used.rSys).toFixed(1)})`,
  );
}
if (profiling) {
  for (const [k, profile] of profiles) {
    console.log(`\n── ${k}: sender, self time per round trip ──\n${formatSelfTimes(profile.s, reps * rounds)}`);
    console.log(`\n── ${k}: receiver, self time per round trip ──\n${formatSelfTimes(profile.r, reps * rounds)}`);
  }
}
for (const c of conns) {
  await c.sender.close();
  if (c.receiverPlacement === 'inproc') await c.receiver.stop();
}
await rp.close();

async function startInProcessPair(kind: ReceiverKind): Promise<InProcessPair> {
  const receiver = await startReceiver(kind);
  return { receiver, sender: await connectSender(kind, receiver.ready.address) };
}
