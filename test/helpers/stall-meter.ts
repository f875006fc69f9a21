/** Measures how long the event loop was blocked: the longest gap between ticks of a 5 ms timer. */
export interface StallMeter {
  /** Stops the timer and returns the longest stall seen since the start, in ms. */
  stop(): number;
}

export function startStallMeter(tickMs = 5): StallMeter {
  let last = performance.now();
  let longestMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last);
    last = now;
  }, tickMs);
  return {
    stop() {
      clearInterval(ticker);
      return Math.max(longestMs, performance.now() - last);
    },
  };
}
