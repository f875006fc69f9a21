import { KIB } from './common.js';

/** How much `npm run bench` measures: the counts of a full and a quick run, scaled down per row where a transport is slow. */
export interface Plan {
  reps: number;
  bulkMessages: number;
  messages1KiB: number;
  messages64B: number;
  pingPongRounds: number;
  warmupFraction: number;
  idlePeers: number;
}

export const FULL: Plan = { reps: 5, bulkMessages: 2048, messages1KiB: 200_000, messages64B: 400_000, pingPongRounds: 5000, warmupFraction: 0.15, idlePeers: 1000 };
export const QUICK: Plan = { reps: 2, bulkMessages: 1024, messages1KiB: 100_000, messages64B: 200_000, pingPongRounds: 2000, warmupFraction: 0.2, idlePeers: 300 };

export const BULK_MESSAGE_BYTES = 64 * KIB;
export const RTT_SLICE_ROUNDS = 250;

/**
 * Counts are the plan's times these factors. Under @roamhq/wrtc each data channel `send()` is a
 * synchronous call into wrtc's network thread (0.1–0.7 ms each on the shared 2-core machine), so bare
 * WebRTC manages a few thousand messages per second and the plan's 200k-message runs would take
 * minutes. Both WebRTC rows use the same counts; their rates are per second as everywhere.
 */
export interface CountScale {
  bulk: number;
  msgs: number;
  rtt: number;
}
const UNSCALED: CountScale = { bulk: 1, msgs: 1, rtt: 1 };
export const COUNT_SCALE: Record<string, CountScale> = {
  'bare-webrtc': { bulk: 1 / 8, msgs: 1 / 40, rtt: 1 / 5 },
  'meshlink-webrtc': { bulk: 1 / 8, msgs: 1 / 40, rtt: 1 / 5 },
};
export const scaled = (name: string, n: number, key: keyof CountScale): number => Math.max(1, Math.round(n * (COUNT_SCALE[name] ?? UNSCALED)[key]));
