/** Windows in which a connection's drain is counted. */
export const DRAIN_WINDOW_MS = 2 * 1000;
/**
 * A connection's pace is measured over this many windows (the current one included), 20 s. Over TCP a
 * slow reader's drain reaches us in bursts: its receive window opens in steps of a MiB or more, every few
 * seconds (measured on loopback: a reader taking 430 KiB/s drained our queue by ~1.5 MiB every ~4 s,
 * nothing in between), so the span must hold several of them.
 */
export const DRAIN_WINDOWS = 10;

/**
 * How fast a connection gives back the memory it holds (messages the socket took from its queues,
 * receives that settled, held chunks its reader took): bytes per window over the last DRAIN_WINDOWS
 * windows of DRAIN_WINDOW_MS, its LARGEST WINDOW LEFT OUT. A peer that reads nothing still takes at once
 * what its socket buffers (and ours) absorb when data first flows to it, a few hundred KiB to several
 * MiB, and that one burst must not pass for reading: a reader's drain comes back window after window.
 * Spreading such a burst over several windows takes a peer that holds it in receive buffers of its
 * own, memory it pays for as a reader pays in reading. Bounded: a fixed ring of counters, no timers;
 * the caller passes the clock. Windows count from the first drain.
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
   * Bytes per second drained over the DRAIN_WINDOWS windows up to `nowMs`, leaving out the largest
   * one: (sum − largest) / ((DRAIN_WINDOWS − 1) × DRAIN_WINDOW_MS). A connection younger than that
   * counts its missing windows as drained nothing.
   */
  bytesPerSecond(nowMs: number): number {
    const oldest = Math.max(this.windowAt(nowMs), this.index) - DRAIN_WINDOWS + 1;
    let sum = 0;
    let largest = 0;
    for (let window = Math.max(oldest, this.index - DRAIN_WINDOWS + 1, 0); window <= this.index; window++) {
      const bytes = this.windows[window % DRAIN_WINDOWS]!;
      sum += bytes;
      if (bytes > largest) largest = bytes;
    }
    return ((sum - largest) * 1000) / ((DRAIN_WINDOWS - 1) * DRAIN_WINDOW_MS);
  }

  private windowAt(nowMs: number): number {
    return Math.max(0, Math.floor((nowMs - this.originMs) / DRAIN_WINDOW_MS));
  }
}
