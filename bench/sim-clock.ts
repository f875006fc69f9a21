/**
 * Simulated time for the many-node simulator: a discrete-event clock. Timers sit in a heap ordered by
 * (due time, creation order); `runUntil` lets the process finish every piece of work it has (promise
 * continuations, `afterBurst` callbacks) and only then jumps to the next due timer. Nothing waits in
 * real time, so a run is as fast as the CPU allows and, given the same inputs, always the same.
 */
import type { Clock, TimerHandle } from '../src/util/clock.js';

interface SimTimer {
  at: number;
  readonly seq: number;
  readonly callback: () => void;
  /** 0 for a one-shot timer. */
  readonly periodMs: number;
  cancelled: boolean;
}

/** Where simulated time starts: a plausible Date.now, so books' timestamps look like real ones. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

const yieldToHost = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SimClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private readonly heap: SimTimer[] = [];
  private bursts: (() => void)[] = [];
  private liveTimers = 0;
  /** Timer callbacks run so far (a cost measure). */
  firedTimers = 0;

  constructor(startMs: number = SIM_EPOCH_MS) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  /** Simulated milliseconds since the clock was made at `startMs`. */
  elapsedMs(startMs: number = SIM_EPOCH_MS): number {
    return this.nowMs - startMs;
  }

  /** Timers set and neither fired (one-shot) nor cleared. */
  get pendingTimers(): number {
    return this.liveTimers;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.schedule(callback, delayMs, 0);
  }

  setInterval(callback: () => void, periodMs: number): TimerHandle {
    // A zero period would fire for ever without time moving: the host clamps it to 1 ms as well.
    return this.schedule(callback, periodMs, Math.max(1, periodMs));
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    const timer = handle as SimTimer | undefined;
    if (timer === undefined || timer.cancelled) return;
    timer.cancelled = true;
    this.liveTimers--;
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  afterBurst(callback: () => void): void {
    this.bursts.push(callback);
  }

  /**
   * Runs until nothing is left to do at the current instant: promise continuations (drained by yielding
   * to the host) and afterBurst callbacks, repeatedly, until a yield finds no callback queued.
   */
  async settle(): Promise<void> {
    for (;;) {
      await yieldToHost();
      if (this.bursts.length === 0) return;
      const batch = this.bursts;
      this.bursts = [];
      for (const callback of batch) callback();
    }
  }

  /**
   * Advances simulated time to `endMs` (absolute), firing every timer due by then in order, with the
   * process settled before each step. `stop` is checked after each step; true ends the run early.
   */
  async runUntil(endMs: number, stop?: () => boolean): Promise<void> {
    for (;;) {
      await this.settle();
      if (stop?.() === true) return;
      const next = this.peekLive();
      if (next === undefined || next.at > endMs) {
        this.nowMs = Math.max(this.nowMs, endMs);
        return;
      }
      this.nowMs = next.at;
      // Every timer due at this instant fires in creation order; their work settles together after.
      while (this.heap.length > 0 && this.heap[0]!.at === this.nowMs) {
        const timer = this.pop();
        if (timer.cancelled) continue;
        if (timer.periodMs > 0) {
          timer.at += timer.periodMs;
          this.push(timer);
        } else {
          timer.cancelled = true;
          this.liveTimers--;
        }
        this.firedTimers++;
        timer.callback();
      }
    }
  }

  /** Advances by `ms` from now. */
  advance(ms: number, stop?: () => boolean): Promise<void> {
    return this.runUntil(this.nowMs + ms, stop);
  }

  private schedule(callback: () => void, delayMs: number, periodMs: number): TimerHandle {
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? Math.floor(delayMs) : 0;
    const timer: SimTimer = { at: this.nowMs + (periodMs > 0 ? Math.max(1, delay) : delay), seq: this.seq++, callback, periodMs, cancelled: false };
    this.liveTimers++;
    this.push(timer);
    return timer as unknown as TimerHandle;
  }

  private peekLive(): SimTimer | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0];
  }

  // ─── binary heap on (at, seq) ───────────────────────────────────────────────────────────────

  private push(timer: SimTimer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): SimTimer {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: SimTimer, b: SimTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
