/** Windows in which a connection's drain is counted. */
export const DRAIN_WINDOW_MS = 2 * 1000;
/**
 * A connection's pace is measured over this many windows (the current one included): 60 s. Over TCP
 * a slow reader's drain reaches us in steps: a receiver whose buffer is more than half full advertises
 * no room, so its window reopens by about half its buffer at a time (measured on loopback: ~1.6 MiB
 * every ~4 s for a reader taking 430 KiB/s, every ~16 s at 100 KiB/s, nothing in between). The span
 * must hold several such steps.
 */
export const DRAIN_WINDOWS = 30;
/**
 * Windows left out of the pace: the largest ones. A peer that reads nothing still takes, at once, what
 * the socket buffers absorb (its receive buffer when data first flows to it, ours as it grows later: a
 * few hundred KiB to several MiB each), and those bursts must not pass for reading. A reader's drain
 * comes back step after step.
 */
export const DRAIN_WINDOWS_LEFT_OUT = 2; // bytesPerSecond keeps the two largest
/**
 * The least time a pace is spread over: a young connection's few windows are not extrapolated (a burst
 * the largest windows did not catch would pass for a fast pace).
 */
export const DRAIN_MIN_SPAN_MS = 12 * 1000;

/**
 * How fast a connection gives back the memory it holds (messages the socket took from its queues,
 * receives that settled, held chunks its reader took): bytes per second over the last DRAIN_WINDOWS
 * windows of DRAIN_WINDOW_MS, its DRAIN_WINDOWS_LEFT_OUT largest windows left out. Spreading bursts
 * over more windows than that takes a peer that holds them in receive buffers of its own, memory it
 * pays for as a reader pays in reading. Bounded: a fixed ring of counters, no timers; the caller
 * passes the clock. Windows count from the first drain.
 */
export class DrainMeter {
  /** Bytes drained in window `w` at `windows[w % DRAIN_WINDOWS]`, for the DRAIN_WINDOWS windows up to `index`. */
  private readonly windows = new Float64Array(DRAIN_WINDOWS);
  /** The window of the last drain, counted from `originMs`. */
  private index = 0;

  constructor(private readonly originMs: number) {}

  /** `bytes` were drained at `nowMs`. */
  add(bytes: number, nowMs: number): void {
    const index = this.windowAt(nowMs);
    // Windows skipped since the last drain drained nothing; a clock stepping back counts in the last one.
    if (index > this.index) {
      const last = Math.min(index, this.index + DRAIN_WINDOWS);
      for (let skipped = this.index + 1; skipped <= last; skipped++) this.windows[skipped % DRAIN_WINDOWS] = 0;
      this.index = index;
    }
    const slot = this.index % DRAIN_WINDOWS;
    this.windows[slot] = this.windows[slot]! + bytes;
  }

  /**
   * Bytes per second drained over the DRAIN_WINDOWS windows up to `nowMs`, the largest left out: what
   * the other windows drained over the time they cover (at least DRAIN_MIN_SPAN_MS).
   */
  bytesPerSecond(nowMs: number): number {
    const current = Math.max(this.windowAt(nowMs), this.index);
    const oldest = Math.max(current - DRAIN_WINDOWS + 1, this.index - DRAIN_WINDOWS + 1, 0);
    let sum = 0;
    // The two largest windows (DRAIN_WINDOWS_LEFT_OUT), largest first.
    let largest = 0;
    let second = 0;
    for (let window = oldest; window <= this.index; window++) {
      const bytes = this.windows[window % DRAIN_WINDOWS]!;
      sum += bytes;
      if (bytes > largest) {
        second = largest;
        largest = bytes;
      } else if (bytes > second) second = bytes;
    }
    const coveredMs = Math.min(Math.max(0, nowMs - this.originMs), DRAIN_WINDOWS * DRAIN_WINDOW_MS);
    const spanMs = Math.max(coveredMs - DRAIN_WINDOWS_LEFT_OUT * DRAIN_WINDOW_MS, DRAIN_MIN_SPAN_MS);
    return ((sum - largest - second) * 1000) / spanMs;
  }

  private windowAt(nowMs: number): number {
    return Math.max(0, Math.floor((nowMs - this.originMs) / DRAIN_WINDOW_MS));
  }
}
