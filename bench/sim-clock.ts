/**
 * Simulated time for the many-node simulator: a discrete-event clock. Timers sit in a queue ordered by
 * (due time, creation order); `runUntil` lets the process finish every piece of work it has (promise
 * continuations, `afterBurst` callbacks) and only then jumps to the next due timer. Nothing waits in
 * real time, so a run is as fast as the CPU allows and, given the same inputs, always the same.
 */
import type { Clock, TimerHandle } from '../src/util/clock.js';
import { TimerQueue } from './sim-timer-queue.js';

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
/** runUntil yields to the host's event loop this often (in steps), and otherwise waits only for microtasks. */
const STEPS_PER_HOST_TURN = 1000;

export class SimClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private readonly queue = new TimerQueue<SimTimer>();
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
   *
   * A run has hundreds of thousands of instants, and a turn of the event loop (setImmediate) per instant
   * cost more than most of them. So a step waits for the microtask queue instead: a microtask queued
   * after the step's work schedules the next step with process.nextTick, which Node runs only once the
   * microtask queue is empty, continuations queued later included. That equals a full settle because
   * the SDK, given this clock, schedules nothing but microtasks and clock timers. Every
   * STEPS_PER_HOST_TURN steps the loop still yields to the host, so that I/O (the progress lines) flows.
   */
  runUntil(endMs: number, stop?: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let steps = 0;
      const step = (): void => {
        try {
          if (this.bursts.length > 0) {
            const batch = this.bursts;
            this.bursts = [];
            for (const callback of batch) callback();
          } else {
            if (stop?.() === true) return resolve();
            const next = this.peekLive();
            if (next === undefined || next.at > endMs) {
              this.nowMs = Math.max(this.nowMs, endMs);
              return resolve();
            }
            this.fireDue(next.at);
          }
          if (++steps % STEPS_PER_HOST_TURN === 0) setImmediate(step);
          else queueMicrotask(stepAfterMicrotasks);
        } catch (error) {
          reject(error);
        }
      };
      const stepAfterMicrotasks = (): void => {
        process.nextTick(step);
      };
      setImmediate(step);
    });
  }

  /** Advances by `ms` from now. */
  advance(ms: number, stop?: () => boolean): Promise<void> {
    return this.runUntil(this.nowMs + ms, stop);
  }

  /** Moves to `atMs` and fires every timer due then, in creation order; their work settles together after. */
  private fireDue(atMs: number): void {
    this.nowMs = atMs;
    const queue = this.queue;
    while (queue.peekDueAt() === atMs) {
      const timer = queue.pop()!;
      if (timer.cancelled) continue;
      if (timer.periodMs > 0) {
        timer.at += timer.periodMs;
        queue.push(timer, timer.at, timer.seq);
      } else {
        timer.cancelled = true;
        this.liveTimers--;
      }
      this.firedTimers++;
      timer.callback();
    }
  }

  private schedule(callback: () => void, delayMs: number, periodMs: number): TimerHandle {
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? Math.floor(delayMs) : 0;
    const timer: SimTimer = { at: this.nowMs + (periodMs > 0 ? Math.max(1, delay) : delay), seq: this.seq++, callback, periodMs, cancelled: false };
    this.liveTimers++;
    this.queue.push(timer, timer.at, timer.seq);
    return timer as unknown as TimerHandle;
  }

  private peekLive(): SimTimer | undefined {
    while (this.queue.peek()?.cancelled === true) this.queue.pop();
    return this.queue.peek();
  }
}
