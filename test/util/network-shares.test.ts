import { describe, expect, it } from 'vitest';
import { NetworkShares } from '../../src/util/network-shares.js';

/** A total of 30 at once and 30 a second, as a relay's lane toward a page announcing 4/s, burst 4. */
const LANE = { burst: 30, ratePerMs: 30 / 1000, activeMs: 15_000, maxNetworks: 16, maxRestingNetworks: 64 };
/** The lane toward a page announcing 1/s, burst 100: 750 at once, 7.5 a second (ten times, 3/4 of it). */
const SLOW_LANE = { ...LANE, burst: 750, ratePerMs: 7.5 / 1000, newcomerTakesSeat: true };

/** `network` asks `times` times at `now`; how many it took. */
function ask(shares: NetworkShares, network: string, now: number, times: number): number {
  let taken = 0;
  for (let i = 0; i < times; i++) if (shares.take(network, now)) taken++;
  return taken;
}

/** Each of `networks` asks all it can every 10 ms from `from` for `ms`; how many they took. */
function flood(shares: NetworkShares, networks: readonly string[], from: number, ms: number): number {
  let taken = 0;
  for (let now = from; now < from + ms; now += 10) for (const network of networks) taken += ask(shares, network, now, 10);
  return taken;
}

describe('NetworkShares', () => {
  it('gives a network new to it the newcomers\' seat whole while another floods (newcomerTakesSeat), one token of it otherwise', () => {
    const burstOf = (newcomerTakesSeat: boolean): number => {
      const shares = new NetworkShares({ ...LANE, newcomerTakesSeat }, 0);
      flood(shares, ['flooder'], 0, 3_000);
      return ask(shares, 'newcomer', 3_000, 14);
    };
    // Three seats (the flooder's, the newcomer's, the newcomers'): 10 each.
    expect(burstOf(true)).toBeGreaterThanOrEqual(10);
    expect(burstOf(false)).toBeLessThan(10);
  });

  it('holds k flooding networks to about k shares of the rate, and a network joining them still gets its own', () => {
    const shares = new NetworkShares({ ...LANE, newcomerTakesSeat: true }, 0);
    flood(shares, ['a', 'b'], 0, 3_000);
    const taken = { a: 0, b: 0, c: 0 };
    for (let now = 3_000; now < 13_000; now += 10) for (const network of ['a', 'b', 'c'] as const) taken[network] += ask(shares, network, now, network === 'c' ? 1 : 10);
    // 10 s at 30 a second, four seats (a, b, c and the newcomers'): c, asking 100 a second, gets its
    // seat's 7.5 a second; a and b the rest, the newcomers' seat's unused rate too.
    expect(taken.a + taken.b + taken.c).toBeLessThanOrEqual(30 + 300);
    expect(taken.c).toBeGreaterThanOrEqual(75);
    expect(shares.activeNetworks).toBe(3);
  });

  it('takes the seat of a network quiet for activeMs, and seats at most maxNetworks; both rest, at most maxRestingNetworks', () => {
    const shares = new NetworkShares({ ...LANE, maxNetworks: 4, maxRestingNetworks: 3, newcomerTakesSeat: true }, 0);
    for (let i = 0; i < 6; i++) shares.take(`n${i}`, 0);
    expect(shares.activeNetworks).toBe(4);
    expect(shares.restingNetworks).toBe(2);
    shares.take('late', 15_000);
    expect(shares.activeNetworks).toBe(1);
    expect(shares.restingNetworks).toBe(3);
  });

  it('gives a network coming back after activeMs quiet its own share, not the newcomers\' seat: networks taking turns to go quiet leave a new one its seat', () => {
    // Eight networks take turns: each floods for 1 s, then is quiet for 15 s (a network's seat lasts
    // activeMs, 15 s), one coming back every 2 s. A network never seen before offers every 30 s, as an
    // honest node does: a description and 13 candidates at once.
    const shares = new NetworkShares(SLOW_LANE, 0);
    const cycleMs = 16_000;
    let whole = 0;
    let flooded = 0;
    for (let now = 0; now < 20 * 30_000; now += 100) {
      for (let i = 0; i < 8; i++) if ((now + i * 2_000) % cycleMs < 1_000) flooded += ask(shares, `rotating-${i}`, now, 20);
      if (now % 30_000 === 15_000 && ask(shares, `newcomer-${now}`, now, 14) === 14) whole++;
    }
    // Before: 0 of 20 (each network coming back took the newcomers' seat whole, at most 2 s after the
    // last; the seat earns 14 in 6 s with three seats).
    expect(whole).toBeGreaterThanOrEqual(19);
    // The flooders still get what nobody else uses: at most the lane's 7.5 a second and its burst.
    expect(flooded).toBeLessThanOrEqual(750 + 7.5 * 600);
    expect(flooded).toBeGreaterThan(6 * 600);
  });

  it('gives a network coming back what it left only as far as the total still holds it: a share saved, rested and spent twice starves no one', () => {
    // Eight networks keep their seats with an ask every 14 s, their shares filling, then go quiet for
    // 16 s (resting, their tokens no share's) while two others flood and take those tokens from the
    // total; then the eight come back and spend what they saved, again. An honest network asks once
    // every 2 s, below its share.
    const shares = new NetworkShares(SLOW_LANE, 0);
    const savers = Array.from({ length: 8 }, (_, i) => `saver-${i}`);
    let honestTaken = 0;
    for (let now = 0; now < 300_000; now += 10) {
      const cycle = now % 90_000;
      for (const [i, saver] of savers.entries()) {
        if (cycle < 60_000 && (now + i * 100) % 14_000 === 0) shares.take(saver, now);
        if (cycle >= 76_000) ask(shares, saver, now, 20);
      }
      for (const flooder of ['flooder-0', 'flooder-1']) ask(shares, flooder, now, 20);
      if (now >= 60_000 && now % 2_000 === 0 && shares.take('honest', now)) honestTaken++;
    }
    // Before: 93 of 120 (the savers' tokens came back whole on return, the total then holding less
    // than the shares, and the honest network's share could not be spent).
    expect(honestTaken).toBe(120);
  });
});
