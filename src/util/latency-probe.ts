/**
 * Where the time of one message goes, layer by layer: `npm run bench -- --profile`. The hot paths call
 * `markLatency(point)` behind one module-level boolean, so with profiling off (always, outside that
 * bench) a mark costs a load and a branch. Marks go into one bounded process-wide timeline; the bench
 * sends one message at a time with both ends in one process, so consecutive marks form its path.
 */

/** The points a message passes, in order: each names the end of the stage of the same name. */
export const LatencyPoint = {
  /** `MConnection.send`/`trySend` accepted the message (the start). */
  Send: 0,
  /** The flush began packing: end of `queue`. */
  Pack: 1,
  /** The SecureLink got a packed batch: end of `pack`. */
  Seal: 2,
  /** The frame is sealed and goes to the link: end of `seal`. */
  Write: 3,
  /** The link's `write` returned: end of `write`. */
  Written: 4,
  /** A chunk reached the receiving SecureLink: end of `read` (the wire and the event loop). */
  Read: 5,
  /** A frame opened: end of `open`. */
  Opened: 6,
  /** MConnection has the whole message and hands it up: end of `unpack`. */
  Unpacked: 7,
  /** The agent received it: end of `deliver` (marked by whoever measures). */
  Delivered: 8,
} as const;
export type LatencyPoint = (typeof LatencyPoint)[keyof typeof LatencyPoint];

export const LATENCY_STAGE_NAMES = ['start', 'queue', 'pack', 'seal', 'write', 'read', 'open', 'unpack', 'deliver'] as const;

/** A timeline holds at most this many marks; later ones are dropped (a 64 KiB message needs ~40). */
export const MAX_LATENCY_MARKS = 4096;

/** Read on every mark: keep it a plain boolean. */
export let latencyProbeEnabled = false;
const points: number[] = [];
const times: number[] = [];

/** Records `point` now. Call as `if (latencyProbeEnabled) markLatency(...)` on hot paths. */
export function markLatency(point: LatencyPoint): void {
  if (!latencyProbeEnabled || points.length >= MAX_LATENCY_MARKS) return;
  points.push(point);
  times.push(performance.now());
}

/** Starts a new timeline (clearing the old) with profiling on. */
export function startLatencyProbe(): void {
  points.length = 0;
  times.length = 0;
  latencyProbeEnabled = true;
}

/** Stops profiling and returns the time in ms of each stage: the gaps between marks, by end point. */
export function stopLatencyProbe(): Record<(typeof LATENCY_STAGE_NAMES)[number], number> & { total: number; marks: number } {
  latencyProbeEnabled = false;
  const stages = Object.fromEntries(LATENCY_STAGE_NAMES.map((name) => [name, 0])) as Record<(typeof LATENCY_STAGE_NAMES)[number], number>;
  for (let i = 1; i < points.length; i++) stages[LATENCY_STAGE_NAMES[points[i]!]!] += times[i]! - times[i - 1]!;
  const total = points.length > 1 ? times[times.length - 1]! - times[0]! : 0;
  return { ...stages, total, marks: points.length };
}
