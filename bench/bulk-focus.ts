/**
 * `npx tsx bench/bulk-focus.ts [kinds] [reps] [count] [--cpu-profile]` — only the 64 KiB bulk workload,
 * alternating the given receiver kinds (default raw-tcp,meshlink-tcp,meshlink-tcp-plain), receiver in a
 * child process. Prints MB/s per repetition and the median ratio to the first kind; for profiling one
 * path at a time. With `--cpu-profile`, also the self time per message of each function in both processes
 * (bench/cpu-profile.ts; sampling slows the code, so compare profiles only with each other).
 */
import { KIB, median, type ReceiverKind } from './common.js';
import { formatSelfTimes, startCpuProfile, stopCpuProfile, type SelfTimes } from './cpu-profile.js';
import { connectKinds } from './receiver-client.js';
import { megabytesPerSecond, runThroughput } from './workloads.js';

const profiling = process.argv.includes('--cpu-profile');
const args = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const kinds = (args[0] ?? 'raw-tcp,meshlink-tcp,meshlink-tcp-plain').split(',') as ReceiverKind[];
const reps = Number(args[1] ?? 5);
const count = Number(args[2] ?? 1024);
const { receivers: rp, conns } = await connectKinds(kinds);
for (const c of conns) await runThroughput(c, 64 * KIB, 200);
const res = new Map<string, number[]>(kinds.map((k) => [k, []]));
const cpu = new Map<string, { s: number[]; r: number[] }>(kinds.map((k) => [k, { s: [], r: [] }]));
const profiles = new Map<string, { s: SelfTimes; r: SelfTimes }>(kinds.map((k) => [k, { s: new Map(), r: new Map() }]));
for (let r = 0; r < reps; r++) {
  for (const c of conns) {
    if (profiling) await Promise.all([startCpuProfile(), rp.startCpuProfile()]);
    const s0 = process.cpuUsage();
    const r0 = await rp.cpuMicros();
    res.get(c.name)!.push(megabytesPerSecond(count * 64 * KIB, await runThroughput(c, 64 * KIB, count)));
    const s1 = process.cpuUsage(s0);
    const r1 = await rp.cpuMicros();
    cpu.get(c.name)!.s.push((s1.user + s1.system) / count);
    cpu.get(c.name)!.r.push((r1 - r0) / count);
    if (profiling) {
      const profile = profiles.get(c.name)!;
      await stopCpuProfile(profile.s);
      for (const [key, us] of await rp.stopCpuProfile()) profile.r.set(key, (profile.r.get(key) ?? 0) + us);
    }
  }
}
const raw = median(res.get(kinds[0]!)!);
for (const [k, v] of res) {
  const m = median(v);
  console.log(`${k.padEnd(20)} median ${m.toFixed(0)} MB/s (${(m / raw).toFixed(2)}×)  cpu/msg sender ${median(cpu.get(k)!.s).toFixed(1)} µs receiver ${median(cpu.get(k)!.r).toFixed(1)} µs  [${v.map((x) => x.toFixed(0)).join(' ')}]`);
}
if (profiling) {
  for (const [k, profile] of profiles) {
    console.log(`\n── ${k}: sender, self time per message ──\n${formatSelfTimes(profile.s, reps * count)}`);
    console.log(`\n── ${k}: receiver, self time per message ──\n${formatSelfTimes(profile.r, reps * count)}`);
  }
}
for (const c of conns) await c.sender.close();
await rp.close();
