/** DrainMeter: how fast a connection gives back what it holds, its one largest window left out. */
import { describe, expect, it } from 'vitest';
import { DRAIN_WINDOW_MS, DRAIN_WINDOWS, DrainMeter } from '../../src/util/drain-meter.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SPAN_MS = DRAIN_WINDOWS * DRAIN_WINDOW_MS;

describe('DrainMeter', () => {
  it('measures a steady drain at about its pace', () => {
    const meter = new DrainMeter(0);
    for (let t = 0; t <= 2 * SPAN_MS; t += 100) meter.add(10 * KiB, t);
    // 100 KiB/s; the current window is still filling, so a little under.
    expect(meter.bytesPerSecond(2 * SPAN_MS)).toBeGreaterThan(85 * KiB);
    expect(meter.bytesPerSecond(2 * SPAN_MS)).toBeLessThanOrEqual(100 * KiB);
  });

  it('does not count one burst as a pace: what socket buffers absorb at once from a peer that then reads nothing', () => {
    const meter = new DrainMeter(0);
    meter.add(8 * MiB, 0);
    expect(meter.bytesPerSecond(0)).toBe(0);
    expect(meter.bytesPerSecond(SPAN_MS / 2)).toBe(0);
    // Two bursts far apart (its buffers filled, then once more after it read some): the second counts.
    meter.add(MiB, 5 * DRAIN_WINDOW_MS);
    expect(meter.bytesPerSecond(6 * DRAIN_WINDOW_MS)).toBe(MiB / ((DRAIN_WINDOWS - 1) * (DRAIN_WINDOW_MS / 1000)));
  });

  it("counts a slow reader's drain arriving in bursts, as TCP's receive window opens in steps", () => {
    const meter = new DrainMeter(0);
    // 1.5 MiB every 4 s (~384 KiB/s), after a first burst of 5 MiB into the socket buffers.
    meter.add(5 * MiB, 0);
    for (let t = 4000; t <= 40_000; t += 4000) meter.add(1.5 * MiB, t);
    const pace = meter.bytesPerSecond(40_000);
    expect(pace).toBeGreaterThan(250 * KiB);
    expect(pace).toBeLessThan(400 * KiB);
  });

  it('forgets a drain that stopped, and what came before the span', () => {
    const meter = new DrainMeter(0);
    for (let t = 0; t <= SPAN_MS; t += 100) meter.add(10 * KiB, t);
    expect(meter.bytesPerSecond(SPAN_MS)).toBeGreaterThan(0);
    expect(meter.bytesPerSecond(2 * SPAN_MS + DRAIN_WINDOW_MS)).toBe(0);
    // Drains again much later: the old windows are not counted with it.
    meter.add(64 * KiB, 10 * SPAN_MS);
    meter.add(64 * KiB, 10 * SPAN_MS + DRAIN_WINDOW_MS);
    expect(meter.bytesPerSecond(10 * SPAN_MS + DRAIN_WINDOW_MS)).toBe((64 * KiB) / ((DRAIN_WINDOWS - 1) * (DRAIN_WINDOW_MS / 1000)));
  });

  it('takes a clock that steps back without losing or inventing bytes', () => {
    const meter = new DrainMeter(100_000);
    meter.add(MiB, 100_000);
    meter.add(MiB, 50_000); // before its origin: counted in the last window
    meter.add(MiB, 100_000 + DRAIN_WINDOW_MS);
    expect(meter.bytesPerSecond(100_000 + DRAIN_WINDOW_MS)).toBe(MiB / ((DRAIN_WINDOWS - 1) * (DRAIN_WINDOW_MS / 1000)));
  });
});
