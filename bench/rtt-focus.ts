/**
 * `npx tsx bench/rtt-focus.ts [kinds] [reps] [rounds]` — only the 64 B ping-pong, alternating the given
 * receiver kinds (default raw-tcp,meshlink-tcp,meshlink-tcp-plain), receiver in a child process.
 * Prints the median RTT per kind, its ratio to the first kind, and CPU per round trip on each side:
 * CPU is steadier than wall-clock on a busy machine, and says which side spends the extra time.
 */
import { median, percentile, type ReceiverKind } from './common.js';
import { connectKinds } from './receiver-client.js';
import { runPingPong } from './workloads.js';

const kinds = (process.argv[2] ?? 'raw-tcp,meshlink-tcp,meshlink-tcp-plain').split(',') as ReceiverKind[];
const reps = Number(process.argv[3] ?? 5);
const rounds = Number(process.argv[4] ?? 5000);
const { receivers: rp, conns } = await connectKinds(kinds);
for (const c of conns) await runPingPong(c, 2000);
const rtts = new Map<string, number[]>(kinds.map((k) => [k, []]));
const cpu = new Map<string, { s: number[]; r: number[] }>(kinds.map((k) => [k, { s: [], r: [] }]));
for (let r = 0; r < reps; r++) {
  for (const c of conns) {
    const s0 = process.cpuUsage();
    const r0 = await rp.cpuMicros();
    rtts.get(c.name)!.push(...(await runPingPong(c, rounds)));
    const s1 = process.cpuUsage(s0);
    const r1 = await rp.cpuMicros();
    cpu.get(c.name)!.s.push((s1.user + s1.system) / rounds);
    cpu.get(c.name)!.r.push((r1 - r0) / rounds);
  }
}
const base = median(rtts.get(kinds[0]!)!);
const baseP99 = percentile(rtts.get(kinds[0]!)!, 0.99);
for (const [k, v] of rtts) {
  const m = median(v);
  const p99 = percentile(v, 0.99);
  console.log(
    `${k.padEnd(20)} RTT p50 ${m.toFixed(1)} µs (${(m / base).toFixed(2)}×) p99 ${p99.toFixed(0)} µs (${(p99 / baseP99).toFixed(2)}×)  cpu/round trip sender ${median(cpu.get(k)!.s).toFixed(1)} µs receiver ${median(cpu.get(k)!.r).toFixed(1)} µs`,
  );
}
for (const c of conns) await c.sender.close();
await rp.close();
