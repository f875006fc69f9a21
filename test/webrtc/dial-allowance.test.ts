import { describe, expect, it } from 'vitest';
import { ConnectionAllowance } from '../../src/webrtc/connection-allowance.js';

/** The defaults: 60 a minute after a burst of 16, 30 a minute through one relay after 8. */
const RATES = { perMinute: 60, burst: 16, perMinutePerVia: 30, burstPerVia: 8 };

/** Every relay in `vias` (relay → network) asks every 100 ms for `ms`; returns how many were taken. */
function hammer(allowance: ConnectionAllowance, vias: ReadonlyMap<string, string>, clock: { now: number }, ms: number): number {
  let taken = 0;
  for (const end = clock.now + ms; clock.now < end; clock.now += 100) taken += burst(allowance, vias, 1);
  return taken;
}

/** Every relay in `vias` asks `times` times now; returns how many were taken. */
function burst(allowance: ConnectionAllowance, vias: ReadonlyMap<string, string>, times: number): number {
  let taken = 0;
  for (let i = 0; i < times; i++) for (const [via, network] of vias) if (allowance.take(via, network)) taken++;
  return taken;
}

describe('ConnectionAllowance for our dials', () => {
  it('gives one network half the burst (the other half held for newcomers) and the whole rate', () => {
    const clock = { now: 0 };
    const allowance = new ConnectionAllowance(RATES, () => clock.now);
    const vias = new Map([['a1', 'net-a'], ['a2', 'net-a'], ['a3', 'net-a']]);
    expect(burst(allowance, vias, 10)).toBe(9); // its first from the newcomers' seat, then what no share holds
    // 30 s: the total's 60 a minute (the newcomers' seat is full, its refill unused), less the 2-3 the
    // total first earns back up to what that seat holds.
    expect(hammer(allowance, vias, clock, 30_000)).toBeGreaterThanOrEqual(26);
    expect(allowance.take('b', 'net-b')).toBe(true);
  });

  it('keeps a share for a network new to it while relays of nine others dial all they can', () => {
    const clock = { now: 0 };
    const allowance = new ConnectionAllowance(RATES, () => clock.now);
    const hostile = new Map(Array.from({ length: 9 }, (_, i) => [`h${i}`, `net-h${i}`]));
    const taken = hammer(allowance, hostile, clock, 30_000);
    expect(taken).toBeLessThanOrEqual(16 + 30); // the total still bounds them
    // Before (one allowance for all): refused, the total spent as soon as it refilled.
    expect(allowance.take('honest', 'net-honest')).toBe(true);
    expect(allowance.activeNetworks).toBe(10);
    // Then its share, however seldom it asks: once every 12 s for two minutes while the nine ask
    // every 100 ms (before: 0 of 10, each refused, the total spent as soon as it earned one).
    let honest = 0;
    for (let ask = 0; ask < 10; ask++) {
      hammer(allowance, hostile, clock, 12_000);
      if (allowance.take('honest', 'net-honest')) honest++;
    }
    expect(honest).toBeGreaterThanOrEqual(9);
  });

  it('counts relays of one network as one: four relay keys of a host leave another network its share', () => {
    const clock = { now: 0 };
    const allowance = new ConnectionAllowance(RATES, () => clock.now);
    const host = new Map(['k1', 'k2', 'k3', 'k4'].map((via) => [via, 'net-host']));
    hammer(allowance, host, clock, 10_000);
    const b = new Map([['b1', 'net-b']]);
    const both = new Map([...host, ...b]);
    let taken = 0;
    let takenByB = 0;
    for (const end = clock.now + 60_000; clock.now < end; clock.now += 100) {
      for (const [via, network] of both) {
        if (!allowance.take(via, network)) continue;
        taken++;
        if (network === 'net-b') takenByB++;
      }
    }
    // Two networks and the newcomers' seat: b gets at least a third of the 60, and its first at once.
    expect(takenByB).toBeGreaterThanOrEqual(20);
    expect(taken).toBeLessThanOrEqual(60 + 2);
  });

  it('forgets a network quiet for a minute, which then starts as a newcomer again', () => {
    const clock = { now: 0 };
    const allowance = new ConnectionAllowance(RATES, () => clock.now);
    expect(allowance.take('a', 'net-a')).toBe(true);
    clock.now += 30_000;
    expect(allowance.take('b', 'net-b')).toBe(true);
    expect(allowance.activeNetworks).toBe(2);
    clock.now += 31_000;
    expect(allowance.take('b', 'net-b')).toBe(true);
    expect(allowance.activeNetworks).toBe(1);
  });

  it('never counts a clock step back as time', () => {
    const clock = { now: 100_000 };
    const allowance = new ConnectionAllowance(RATES, () => clock.now);
    const vias = new Map([['a1', 'net-a'], ['a2', 'net-a'], ['b1', 'net-b']]);
    const first = burst(allowance, vias, 10);
    expect(first).toBeGreaterThanOrEqual(8);
    clock.now -= 50_000;
    expect(burst(allowance, vias, 10)).toBe(0);
  });
});
