/** DrainMeter: how fast a connection gives back what it holds, its largest windows left out. */
import { describe, expect, it } from 'vitest';
import { DRAIN_MIN_SPAN_MS, DRAIN_WINDOW_MS, DRAIN_WINDOWS, DRAIN_WINDOWS_LEFT_OUT, DrainMeter } from '../../src/util/drain-meter.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SPAN_MS = DRAIN_WINDOWS * DRAIN_WINDOW_MS;
/** Seconds a full span's pace is spread over: the span less the windows left out. */
const SPREAD_S = (SPAN_MS - DRAIN_WINDOWS_LEFT_OUT * DRAIN_WINDOW_MS) / 1000;

describe('DrainMeter', () => {
  it('measures a steady drain at about its pace', () => {
    const meter = new DrainMeter(0);
    for (let t = 0; t <= 2 * SPAN_MS; t += 100) meter.add(10 * KiB, t);
    // 100 KiB/s; the current window is still filling, so a little under.
    expect(meter.bytesPerSecond(2 * SPAN_MS)).toBeGreaterThan(90 * KiB);
    expect(meter.bytesPerSecond(2 * SPAN_MS)).toBeLessThanOrEqual(100 * KiB);
  });

  it('does not count bursts as a pace: what socket buffers absorb at once (theirs, then ours growing) from a peer that then reads nothing', () => {
    const meter = new DrainMeter(0);
    meter.add(8 * MiB, 0);
    expect(meter.bytesPerSecond(0)).toBe(0);
    meter.add(MiB, 3 * DRAIN_WINDOW_MS);
    expect(meter.bytesPerSecond(5 * DRAIN_WINDOW_MS)).toBe(0);
    expect(meter.bytesPerSecond(SPAN_MS - 1)).toBe(0);
    // A third step (it read some): counted, over the span less the windows left out.
    meter.add(MiB, 10 * DRAIN_WINDOW_MS);
    expect(meter.bytesPerSecond(SPAN_MS - 1)).toBeCloseTo(MiB / SPREAD_S, 0);
  });

  it("counts a slow reader's drain arriving in steps, as TCP's receive window reopens by half a buffer", () => {
    const meter = new DrainMeter(0);
    // 1.5 MiB every 4 s (~384 KiB/s), after a first burst of 5 MiB into the socket buffers.
    meter.add(5 * MiB, 0);
    for (let t = 4000; t <= 40_000; t += 4000) meter.add(1.5 * MiB, t);
    const pace = meter.bytesPerSecond(40_000);
    expect(pace).toBeGreaterThan(300 * KiB);
    expect(pace).toBeLessThanOrEqual(384 * KiB);
  });

  it('spreads a young connection’s drain over at least DRAIN_MIN_SPAN_MS', () => {
    const meter = new DrainMeter(0);
    for (let window = 0; window < 4; window++) meter.add(MiB, window * DRAIN_WINDOW_MS);
    expect(meter.bytesPerSecond(4 * DRAIN_WINDOW_MS - 1)).toBe((2 * MiB * 1000) / DRAIN_MIN_SPAN_MS);
  });

  it('forgets a drain that stopped, and what came before the span', () => {
    const meter = new DrainMeter(0);
    for (let t = 0; t <= SPAN_MS; t += 100) meter.add(10 * KiB, t);
    expect(meter.bytesPerSecond(SPAN_MS)).toBeGreaterThan(0);
    expect(meter.bytesPerSecond(2 * SPAN_MS + DRAIN_WINDOW_MS)).toBe(0);
    // Drains again much later: the old windows are not counted with it.
    for (let window = 0; window < 3; window++) meter.add(64 * KiB, 10 * SPAN_MS + window * DRAIN_WINDOW_MS);
    expect(meter.bytesPerSecond(10 * SPAN_MS + 3 * DRAIN_WINDOW_MS - 1)).toBeCloseTo((64 * KiB) / SPREAD_S, 0);
  });

  it('takes a clock that steps back without losing or inventing bytes', () => {
    const meter = new DrainMeter(100_000);
    meter.add(MiB, 100_000);
    meter.add(MiB, 50_000); // before its origin: counted in the last window
    meter.add(MiB, 100_000 + DRAIN_WINDOW_MS);
    meter.add(MiB, 100_000 + 2 * DRAIN_WINDOW_MS);
    expect(meter.bytesPerSecond(100_000 + 2 * DRAIN_WINDOW_MS)).toBe((MiB * 1000) / DRAIN_MIN_SPAN_MS);
  });
});
