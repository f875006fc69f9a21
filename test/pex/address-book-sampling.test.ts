import { describe, expect, it } from 'vitest';
import { visitRandomIndices } from '../../src/pex/address-book-buckets.js';
import { AddressBook } from '../../src/pex/address-book.js';
import { RECENT_ATTEMPT_GRACE_MS } from '../../src/pex/constants.js';
import { FakeClock, FIXED_KEY, publicHost, seededRandom, tcp } from './address-book-helpers.js';

describe('visitRandomIndices', () => {
  it('visits every index exactly once when never stopped, in the order a Fisher-Yates shuffle gives', () => {
    const n = 500;
    const visited: number[] = [];
    visitRandomIndices(n, seededRandom(11), (index) => {
      visited.push(index);
      return true;
    });
    // The same shuffle done on a real array with the same random draws.
    const random = seededRandom(11);
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(random() * (n - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    expect(visited).toEqual(pool);
    expect(new Set(visited).size).toBe(n);
  });

  /** The order a Fisher-Yates shuffle on a real array gives with the same draws. */
  function referenceOrder(n: number, seed: number): number[] {
    const random = seededRandom(seed);
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(random() * (n - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool;
  }

  function walk(n: number, seed: number, stopAfter = Infinity): number[] {
    const visited: number[] = [];
    visitRandomIndices(n, seededRandom(seed), (index) => {
      visited.push(index);
      return visited.length < stopAfter;
    });
    return visited;
  }

  it('each walk starts from the identity, whatever earlier walks (stopped or not, larger or smaller) moved', () => {
    for (const [n, seed, stopAfter] of [[300, 1, 5], [40, 2, Infinity], [1000, 3, 999], [300, 4, Infinity], [7, 5, 3], [300, 1, Infinity]] as const) {
      expect(walk(n, seed, stopAfter)).toEqual(referenceOrder(n, seed).slice(0, Math.min(n, stopAfter)));
    }
  });

  it('a walk started from inside a visit does not disturb the outer one', () => {
    const outer: number[] = [];
    const inner: number[][] = [];
    visitRandomIndices(200, seededRandom(8), (index) => {
      outer.push(index);
      if (outer.length % 50 === 1) inner.push(walk(120, outer.length));
      return true;
    });
    expect(outer).toEqual(referenceOrder(200, 8));
    inner.forEach((order, k) => expect(order).toEqual(referenceOrder(120, 1 + 50 * k)));
  });

  it('stops as soon as the visitor says so', () => {
    let calls = 0;
    visitRandomIndices(1_000_000, seededRandom(2), () => ++calls < 3);
    expect(calls).toBe(3);
  });
});

describe('AddressBook.sampleFirstHand', () => {
  const setup = (): { book: AddressBook; clock: FakeClock } => {
    const clock = new FakeClock();
    return { book: new AddressBook({ bucketKey: FIXED_KEY, now: clock.now, random: seededRandom(4) }), clock };
  };

  it('returns only addresses we reached or that their own node told us about, never gossip', () => {
    const { book } = setup();
    const gossiper = tcp(900, publicHost(200));
    for (let n = 1; n <= 60; n++) book.addAddress(tcp(n, publicHost(n)), gossiper);
    const reached = [5, 6, 7].map((n) => tcp(n, publicHost(n)));
    for (const address of reached) book.markGood(address);
    const selfReported = tcp(70, publicHost(70));
    book.addAddress(selfReported, selfReported);
    const sample = book.sampleFirstHand(100);
    expect(new Set(sample)).toEqual(new Set([...reached, selfReported]));
    expect(book.selfCheck()).toEqual([]);
  });

  it('draws a uniform subset of at most max, and forgets removed entries', () => {
    const { book } = setup();
    const own = Array.from({ length: 40 }, (_, i) => tcp(i + 1, publicHost(i + 1)));
    for (const address of own) book.addAddress(address, address);
    const counts = new Map<string, number>();
    for (let round = 0; round < 400; round++) {
      const sample = book.sampleFirstHand(10);
      expect(sample).toHaveLength(10);
      expect(new Set(sample).size).toBe(10);
      for (const address of sample) counts.set(address, (counts.get(address) ?? 0) + 1);
    }
    // 400 draws of 10 from 40: 100 each on average; every address well within a loose band.
    for (const address of own) expect(counts.get(address)).toBeGreaterThan(50);
    for (const address of own.slice(0, 20)) book.removeAddress(address);
    const after = book.sampleFirstHand(100);
    expect(new Set(after)).toEqual(new Set(own.slice(20)));
    expect(book.selfCheck()).toEqual([]);
  });

  it('leaves out bad entries', () => {
    const { book, clock } = setup();
    const address = tcp(1, publicHost(1));
    book.addAddress(address, address);
    for (let attempt = 0; attempt < 3; attempt++) book.markAttempt(address);
    clock.advance(RECENT_ATTEMPT_GRACE_MS + 1);
    expect(book.sampleFirstHand(10)).toEqual([]);
  });
});
