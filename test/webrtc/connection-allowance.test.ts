import { describe, expect, it } from 'vitest';
import { ConnectionAllowance } from '../../src/webrtc/connection-allowance.js';

const RATES = { perMinute: 60, burst: 4, perMinutePerVia: 12, burstPerVia: 2 };

/** `via` (a relay of a network of its own unless `network` is given) asks `tries` times; how many it took. */
function taken(allowance: ConnectionAllowance, via: string, tries: number, network = `net-${via}`): number {
  let n = 0;
  for (let i = 0; i < tries; i++) if (allowance.take(via, network)) n++;
  return n;
}

/** The answer allowance's defaults: 60 a minute after a burst of 32, 12 and 8 per relay, 24 and 16 per network. */
const ANSWER_RATES = { perMinute: 60, burst: 32, perMinutePerVia: 12, burstPerVia: 8, perMinutePerGroup: 24, burstPerGroup: 16 };

describe('ConnectionAllowance', () => {
  it('gives each relay its burst, then its rate, within the total burst and rate split between networks', () => {
    let now = 0;
    const allowance = new ConnectionAllowance(RATES, () => now);
    expect(taken(allowance, 'r1', 10)).toBe(2);
    expect(taken(allowance, 'r2', 10)).toBe(2);
    expect(taken(allowance, 'r3', 10)).toBe(0); // the total burst (4) is spent
    // 5 s: one more per relay (12/min); five in all (60/min), capped at the burst (4), each of the three
    // networks and the newcomers' seat a share of 1 of it.
    now += 5_000;
    expect(taken(allowance, 'r1', 10)).toBe(1);
    expect(taken(allowance, 'r3', 10)).toBe(1);
    expect(taken(allowance, 'r4', 10)).toBe(1); // from the newcomers' seat
    expect(taken(allowance, 'r5', 10)).toBe(0); // the rest is r2's share
    expect(taken(allowance, 'r2', 10)).toBe(1);
  });

  it("leaves a third network's relay its first answer at once while relays of two networks take all they can", () => {
    const now = 0;
    const allowance = new ConnectionAllowance(ANSWER_RATES, () => now);
    const flooders = ['a1', 'a2', 'b1', 'b2'].map((via) => taken(allowance, via, 10, `net-${via[0]}`));
    // Before (one total for all): 16 and 16, the whole burst of 32, and the third network refused.
    expect(flooders[0]! + flooders[1]!).toBe(16);
    expect(flooders[2]! + flooders[3]!).toBeLessThan(16);
    expect(taken(allowance, 'c1', 1, 'net-c')).toBe(1);
    expect(allowance.activeNetworks).toBe(3);
  });

  it("leaves a network's last token to a host of it that took none within the minute", () => {
    let now = 0;
    const allowance = new ConnectionAllowance(ANSWER_RATES, () => now);
    const take = (via: string, host: string, tries = 1): number => {
      let n = 0;
      for (let i = 0; i < tries; i++) if (allowance.take(via, 'net-a', host)) n++;
      return n;
    };
    // Relays on two hosts of one network take its burst (16) but the last token, which a host new to it takes.
    expect(take('a1', 'h1', 10) + take('a2', 'h2', 10)).toBe(15);
    expect(take('h3-relay', 'h3')).toBe(1);
    // 2.5 s: one token more for the network (24 a minute). A fresh relay key on a host that took within
    // the minute leaves it; a relay on a host new to the network takes it. Before: the first asker's.
    now += 2_500;
    expect(take('a3', 'h1')).toBe(0);
    expect(take('a4', 'h2')).toBe(0);
    expect(take('h4-relay', 'h4')).toBe(1);
    // 5 s more: two tokens; a host that took may take one of them, leaving the other.
    now += 5_000;
    expect(take('a3', 'h1', 3)).toBe(1);
    expect(take('h5-relay', 'h5')).toBe(1);
  });

  it('does not take from the total when the relay has nothing left, and never counts a clock step back as time', () => {
    let now = 10_000;
    const allowance = new ConnectionAllowance(RATES, () => now);
    expect(taken(allowance, 'r1', 100)).toBe(2);
    expect(taken(allowance, 'r2', 2)).toBe(2);
    now -= 5_000;
    expect(taken(allowance, 'r3', 10)).toBe(0);
  });

  it("gives the relays of one network that network's burst and rate between them, others their own", () => {
    let now = 0;
    const allowance = new ConnectionAllowance({ perMinute: 600, burst: 100, perMinutePerVia: 12, burstPerVia: 2, perMinutePerGroup: 24, burstPerGroup: 4 }, () => now);
    const takenIn = (via: string, group: string, tries: number): number => {
      let n = 0;
      for (let i = 0; i < tries; i++) if (allowance.take(via, group)) n++;
      return n;
    };
    // Four relay keys of one host (before: a burst of 2 each, 8 in all): a1 and a2 spend the network's 4.
    expect(['a1', 'a2', 'a3', 'a4'].map((via) => takenIn(via, 'net-a', 10))).toEqual([2, 2, 0, 0]);
    expect(takenIn('a5', 'net-a', 10)).toBe(0);
    expect(takenIn('b1', 'net-b', 10)).toBe(2); // another network's relay keeps its own
    now += 5_000; // 5 s: two more for the network (24/min), one more per relay (12/min)
    expect(takenIn('a1', 'net-a', 10) + takenIn('a3', 'net-a', 10) + takenIn('a4', 'net-a', 10)).toBe(2);
  });

  it('keeps at most 256 relays, a forgotten one starting with a full burst', () => {
    const now = 0;
    const allowance = new ConnectionAllowance({ perMinute: 1e9, burst: 1e9, perMinutePerVia: 0, burstPerVia: 1 }, () => now);
    for (let i = 0; i < 300; i++) expect(allowance.take(`r${i}`, 'net')).toBe(true);
    expect(allowance.take('r299', 'net')).toBe(false);
    expect(allowance.take('r0', 'net')).toBe(true); // forgotten: full again
  });
});
