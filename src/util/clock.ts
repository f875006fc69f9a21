import { scheduleAfterBurst } from './schedule.js';

/**
 * The one seam through which the SDK reads time and sets timers. Production code uses `systemClock`;
 * the simulator passes a clock it advances itself, so that thousands of nodes run deterministically in
 * simulated time without patching globals.
 */
export type TimerHandle = { readonly __timer: unique symbol } | ReturnType<typeof setTimeout>;

/**
 * The longest delay host timers honour (2^31 - 1 ms, about 24.8 days): a longer one fires after 1 ms
 * (Node also prints a TimeoutOverflowWarning each time). Delays that come from outside are capped at it.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export interface Clock {
  /** Wall-clock milliseconds (Date.now for systemClock): address books store them across restarts. */
  now(): number;
  /**
   * Milliseconds that never step, on now()'s scale at process start (`performance.timeOrigin +
   * performance.now()` for systemClock), for intervals kept only in memory: a peer's request pacing
   * must not read an NTP step or a restored VM's clock as time passing. A clock without it uses now().
   */
  monotonicNow?(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(callback: () => void, periodMs: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
  /**
   * Runs `callback` once the current burst of synchronous work and promise continuations is done
   * (see scheduleAfterBurst). On the clock so that a simulator knows when the process has no work left.
   */
  afterBurst(callback: () => void): void;
}

/** Real time: Date.now and the host's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonicNow: () => performance.timeOrigin + performance.now(),
  setTimeout: (callback: () => void, delayMs: number) => setTimeout(callback, delayMs),
  clearTimeout: (handle: TimerHandle | undefined) => clearTimeout(handle as ReturnType<typeof setTimeout> | undefined),
  setInterval: (callback: () => void, periodMs: number) => setInterval(callback, periodMs),
  clearInterval: (handle: TimerHandle | undefined) => clearInterval(handle as ReturnType<typeof setInterval> | undefined),
  afterBurst: scheduleAfterBurst,
});

/** The clock's monotonicNow(), or its now() if it has none (a simulator's time never steps). */
export function monotonicNow(clock: Clock): number {
  return clock.monotonicNow !== undefined ? clock.monotonicNow() : clock.now();
}
