import { afterEach, beforeEach, vi } from 'vitest';

/**
 * Lets a test file step the machine's wall clock as NTP or a restored VM does: Date.now (so
 * systemClock.now) jumps by `step(ms)`, while timers and performance.now run on. Call it at the top
 * level of the file: the spy goes in before each test, before anything is made, so code that kept a
 * reference to Date.now sees the step too, as it would; it comes out after each test.
 */
export function steppableWallClock(): { step(ms: number): void } {
  const realNow = Date.now.bind(Date);
  let stepMs = 0;
  beforeEach(() => {
    stepMs = 0;
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + stepMs);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return {
    step(ms: number): void {
      stepMs += ms;
    },
  };
}
