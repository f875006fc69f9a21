import { describe, expect, it } from 'vitest';
import { SimClock, SIM_EPOCH_MS } from '../../bench/sim-clock.js';
import { TimerQueue } from '../../bench/sim-timer-queue.js';
import { delay, withDeadline } from '../../src/util/abort.js';
import { TimeoutError } from '../../src/errors.js';

describe('SimClock', () => {
  it('fires timers in order of due time, then of creation, and moves now() to each', async () => {
    const clock = new SimClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.elapsedMs()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.elapsedMs()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.elapsedMs()}`), 20);
    clock.setTimeout(() => fired.push(`zero@${clock.elapsedMs()}`), 0);
    await clock.advance(100);
    expect(fired).toEqual(['zero@0', 'a@10', 'b@20', 'c@20']);
    expect(clock.now()).toBe(SIM_EPOCH_MS + 100);
    expect(clock.pendingTimers).toBe(0);
  });

  it('repeats intervals until cleared, and never fires cleared timers', async () => {
    const clock = new SimClock();
    const ticks: number[] = [];
    const interval = clock.setInterval(() => {
      ticks.push(clock.elapsedMs());
      if (ticks.length === 3) clock.clearInterval(interval);
    }, 30);
    const cancelled = clock.setTimeout(() => ticks.push(-1), 40);
    clock.clearTimeout(cancelled);
    await clock.advance(1000);
    expect(ticks).toEqual([30, 60, 90]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('settles promise chains and afterBurst callbacks before time moves on', async () => {
    const clock = new SimClock();
    const seen: string[] = [];
    clock.setTimeout(() => {
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => {
          seen.push(`chain@${clock.elapsedMs()}`);
          clock.afterBurst(() => {
            seen.push(`burst@${clock.elapsedMs()}`);
            void Promise.resolve().then(() => seen.push(`after-burst@${clock.elapsedMs()}`));
          });
        });
    }, 5);
    clock.setTimeout(() => seen.push(`next@${clock.elapsedMs()}`), 6);
    await clock.advance(10);
    expect(seen).toEqual(['chain@5', 'burst@5', 'after-burst@5', 'next@6']);
  });

  it('runs the SDK timers: delay() and withDeadline() take simulated time, not real time', async () => {
    const clock = new SimClock();
    let delayed = false;
    void delay(60_000, undefined, clock).then(() => (delayed = true));
    const deadline = withDeadline(() => new Promise<never>(() => undefined), { timeoutMs: 3_600_000, what: 'an hour', clock }).catch((error: unknown) => error);
    const started = performance.now();
    await clock.advance(59_999);
    expect(delayed).toBe(false);
    await clock.advance(1);
    expect(delayed).toBe(true);
    await clock.advance(3_600_000);
    expect(await deadline).toBeInstanceOf(TimeoutError);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('stops early when the stop predicate says so, at the step that made it true', async () => {
    const clock = new SimClock();
    let count = 0;
    clock.setInterval(() => count++, 1000);
    await clock.runUntil(SIM_EPOCH_MS + 60_000, () => count >= 5);
    expect(count).toBe(5);
    expect(clock.elapsedMs()).toBe(5000);
  });

  it('its queue pops by due time, then creation order, across growth and interleaved pushes', () => {
    const queue = new TimerQueue<number>();
    let seed = 7;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const expected: { due: number; order: number }[] = [];
    const popped: number[] = [];
    for (let order = 0; order < 5000; order++) {
      const due = Math.floor(random() * 300);
      queue.push(order, due, order);
      expected.push({ due, order });
      if (random() < 0.3) popped.push(queue.pop()!);
    }
    while (queue.size > 0) popped.push(queue.pop()!);
    expect(queue.pop()).toBeUndefined();
    // Every item comes out once; between pops, the ones out so far never jump the ones still queued.
    expect([...popped].sort((a, b) => a - b)).toEqual(expected.map((item) => item.order));
    const drained = new TimerQueue<number>();
    for (const { due, order } of expected) drained.push(order, due, order);
    const inOrder: number[] = [];
    while (drained.size > 0) inOrder.push(drained.pop()!);
    expect(inOrder).toEqual([...expected].sort((a, b) => a.due - b.due || a.order - b.order).map((item) => item.order));
  });
});
