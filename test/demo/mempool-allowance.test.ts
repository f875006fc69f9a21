import { describe, expect, it } from 'vitest';
import { Allowances, DEPARTED_NETWORKS_REMEMBERED } from '../../demo/agents/mempool-allowance.js';

const LIMITS = { ratePerSecond: 10, burst: 20, bytesPerSecond: 1000, burstBytes: 2000 };

function allowances(): { all: Allowances; clock: { ms: number } } {
  const clock = { ms: 0 };
  return { all: new Allowances(LIMITS, () => clock.ms), clock };
}

describe('Allowances', () => {
  it('a new peer of a network starts with what its departed peer left, then refills; another network starts full', () => {
    const { all, clock } = allowances();
    const first = all.create('net-a');
    expect(first.txs.take(20)).toBe(true);
    all.depart('net-a', first);
    const second = all.create('net-a');
    expect(second.txs.available).toBe(0);
    expect(all.create('net-b').txs.available).toBe(20);
    expect(all.create(undefined).txs.available).toBe(20);
    clock.ms += 1000; // 10 refilled
    expect(second.txs.available).toBe(10);
    expect(all.create('net-a').txs.available).toBe(10);
  });

  it('keeps the least any departed peer of a network left, and the departed allowance itself (its inbox txs still spend it)', () => {
    const { all } = allowances();
    const drained = all.create('net-a');
    drained.bytes.take(2000);
    all.depart('net-a', drained);
    const full = all.create('net-b');
    all.depart('net-a', full); // a full one leaving later does not refill the record
    expect(all.create('net-a').bytes.available).toBe(0);
    const cut = all.create('net-c');
    all.depart('net-c', cut);
    cut.txs.take(20); // taken from the inbox after it left
    expect(all.create('net-c').txs.available).toBe(0);
  });

  it('forgets a network once its allowance is full again, and never holds more than DEPARTED_NETWORKS_REMEMBERED', () => {
    const { all, clock } = allowances();
    const spent = all.create('net-a');
    spent.txs.take(5);
    all.depart('net-a', spent);
    expect(all.remembered).toBe(1);
    clock.ms += 500; // full again
    all.depart('net-b', all.create('net-b'));
    expect(all.remembered).toBe(0);
    for (let i = 0; i < DEPARTED_NETWORKS_REMEMBERED + 10; i++) {
      const allowance = all.create(`net-${i}`);
      allowance.txs.take(20);
      all.depart(`net-${i}`, allowance);
    }
    expect(all.remembered).toBe(DEPARTED_NETWORKS_REMEMBERED);
    expect(all.create('net-0').txs.available).toBe(20); // the oldest, forgotten
  });
});
