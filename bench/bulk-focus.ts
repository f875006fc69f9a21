/**
 * `npx tsx bench/bulk-focus.ts [kinds] [reps]` — only the 64 KiB bulk workload, alternating the given
 * receiver kinds (default raw-tcp,meshlink-tcp,meshlink-tcp-plain), receiver in a child process.
 * Prints MB/s per repetition and the median ratio to raw-tcp; for profiling one path at a time.
 */
import { KIB, median, type ReceiverKind } from './common.js';
import { connectKinds } from './receiver-client.js';
import { megabytesPerSecond, runThroughput } from './workloads.js';

const kinds = (process.argv[2] ?? 'raw-tcp,meshlink-tcp,meshlink-tcp-plain').split(',') as ReceiverKind[];
const reps = Number(process.argv[3] ?? 5);
const count = Number(process.argv[4] ?? 1024);
const { receivers: rp, conns } = await connectKinds(kinds);
for (const c of conns) await runThroughput(c, 64 * KIB, 200);
const res = new Map<string, number[]>(kinds.map((k) => [k, []]));
const cpu = new Map<string, { s: number[]; r: number[] }>(kinds.map((k) => [k, { s: [], r: [] }]));
for (let r = 0; r < reps; r++) {
  for (const c of conns) {
    const s0 = process.cpuUsage();
    const r0 = await rp.cpuMicros();
    res.get(c.name)!.push(megabytesPerSecond(count * 64 * KIB, await runThroughput(c, 64 * KIB, count)));
    const s1 = process.cpuUsage(s0);
    const r1 = await rp.cpuMicros();
    cpu.get(c.name)!.s.push((s1.user + s1.system) / count);
    cpu.get(c.name)!.r.push((r1 - r0) / count);
  }
}
const raw = res.get('raw-tcp') !== undefined ? median(res.get('raw-tcp')!) : undefined;
for (const [k, v] of res) {
  const m = median(v);
  console.log(`${k.padEnd(20)} median ${m.toFixed(0)} MB/s${raw ? ` (${(m / raw).toFixed(2)}×)` : ''}  cpu/msg sender ${median(cpu.get(k)!.s).toFixed(1)} µs receiver ${median(cpu.get(k)!.r).toFixed(1)} µs  [${v.map((x) => x.toFixed(0)).join(' ')}]`);
}
for (const c of conns) await c.sender.close();
await rp.close();
