/**
 * `npm run bench -- --profile`: where the time of one message goes, layer by layer, for a 64 B and a
 * 64 KiB message. Two createNode Switches over TCP on 127.0.0.1 in this process (so that both ends'
 * performance.now() marks share one clock); one message at a time, each waited for, so that the marks
 * of src/util/latency-probe.ts form its path:
 *
 *   queue   send() accepted it → the flush began packing
 *   pack    packing the batch (MConnection, channel queues, packet headers)
 *   seal    sealing the frame (SecureLink, ChaCha20-Poly1305)
 *   write   the link's write (socket.write: the syscall when the kernel takes it at once)
 *   read    the write returned → a chunk reached the receiving SecureLink (loopback, event loop)
 *   open    opening the frame (gathering chunks, ChaCha20-Poly1305)
 *   unpack  MConnection: packets, reassembly, the copy handed to the app
 *   deliver the Switch's router → the agent's receive()
 *
 * A message larger than a frame repeats the middle stages; each stage is the sum of its repeats, and
 * the time spent waiting for the next chunk of a frame counts as `read`.
 */
import { LATENCY_STAGE_NAMES, LatencyPoint, markLatency, startLatencyProbe, stopLatencyProbe } from '../src/util/latency-probe.js';
import { BENCH_CHANNEL_ID, KIB, median, payload, percentile, round } from './common.js';
import { startNodeWithAgent } from './transports.js';

const PROFILE_TIMEOUT_MS = 10 * 1000;

export interface ProfileRow {
  messageBytes: number;
  samples: number;
  /** Median µs per stage, and the median and p99 of the whole path. */
  stagesMedianUs: Record<string, number>;
  totalMedianUs: number;
  totalP99Us: number;
}

export interface ProfilePlan {
  warmup: number;
  samples: number;
}

export async function runProfile(plan: ProfilePlan, sizes: readonly number[] = [64, 64 * KIB]): Promise<ProfileRow[]> {
  const receiver = await startNodeWithAgent(undefined, ['tcp://127.0.0.1:0']);
  const sender = await startNodeWithAgent(undefined, []);
  try {
    const peer = await sender.sw.dial(receiver.sw.addresses[0]!);
    let arrived: (() => void) | undefined;
    receiver.agent.onMessage = () => {
      markLatency(LatencyPoint.Delivered);
      arrived?.();
    };
    const once = async (message: Uint8Array): Promise<void> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const delivered = new Promise<void>((resolve, reject) => {
        arrived = resolve;
        timer = setTimeout(() => reject(new Error(`profile: a ${message.length} B message did not arrive within ${PROFILE_TIMEOUT_MS} ms`)), PROFILE_TIMEOUT_MS);
      });
      if (!(await peer.send(BENCH_CHANNEL_ID, message))) throw new Error('profile: send refused');
      await delivered.finally(() => clearTimeout(timer));
    };
    const rows: ProfileRow[] = [];
    for (const size of sizes) {
      const message = payload(size);
      for (let i = 0; i < plan.warmup; i++) await once(message);
      const runs: ReturnType<typeof stopLatencyProbe>[] = [];
      for (let i = 0; i < plan.samples; i++) {
        startLatencyProbe();
        try {
          await once(message);
        } finally {
          runs.push(stopLatencyProbe());
        }
      }
      const stagesMedianUs: Record<string, number> = {};
      for (const stage of LATENCY_STAGE_NAMES.slice(1)) stagesMedianUs[stage] = round(median(runs.map((r) => r[stage] * 1000)), 1);
      const totals = runs.map((r) => r.total * 1000);
      rows.push({ messageBytes: size, samples: runs.length, stagesMedianUs, totalMedianUs: round(median(totals), 1), totalP99Us: round(percentile(totals, 0.99), 1) });
    }
    return rows;
  } finally {
    await sender.sw.stop();
    await receiver.sw.stop();
  }
}
