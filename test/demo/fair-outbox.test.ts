import { describe, expect, it } from 'vitest';
import { FairOutbox, type FairOutboxLimits } from '../../demo/agents/fair-outbox.js';

const LIMITS: FairOutboxLimits = {
  ratePerSecond: 10,
  burst: 4,
  bytesPerSecond: 1000,
  burstBytes: 1000,
  maxQueuedPerSource: 3,
  maxQueuedBytesPerSource: 300,
  maxQueued: 6,
  maxQueuedBytes: 10_000,
};

function outbox(limits: Partial<FairOutboxLimits> = {}): { box: FairOutbox<string>; clock: { ms: number }; sent: string[]; drain: () => void } {
  const clock = { ms: 0 };
  const box = new FairOutbox<string>({ ...LIMITS, ...limits }, () => clock.ms);
  const sent: string[] = [];
  return { box, clock, sent, drain: () => box.drain((item) => (sent.push(item), true)) };
}

describe('FairOutbox', () => {
  it('sends at once within the pace, then holds the rest until time passes', () => {
    const { box, clock, sent, drain } = outbox();
    for (let i = 0; i < 5; i++) {
      box.push('a', `a${i}`, 10);
      drain();
    }
    expect(sent).toEqual(['a0', 'a1', 'a2', 'a3']); // the burst
    expect(box.pending).toBe(1);
    clock.ms += 100; // one more at 10 a second
    drain();
    expect(sent).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(box.pending).toBe(0);
  });

  it('shares a short pace round-robin among sources, so a quiet source is not crowded out by a flood', () => {
    const { box, clock, sent, drain } = outbox({ burst: 1 });
    drain();
    for (let i = 0; i < 10; i++) box.push('flood', `f${i}`, 10);
    box.push('quiet', 'q0', 10);
    expect(box.dropped).toBe(7); // the flood's queue holds 3
    for (let i = 0; i < 4; i++) {
      clock.ms += 100;
      drain();
    }
    expect(sent).toEqual(['f0', 'q0', 'f1', 'f2']);
  });

  it('when the whole is full, the longest queue gives way, not the new source', () => {
    const { box } = outbox({ maxQueuedPerSource: 5 });
    for (const source of ['x', 'y']) for (let i = 0; i < 3; i++) expect(box.push(source, `${source}${i}`, 10)).toBe(true);
    expect(box.push('z', 'z0', 10)).toBe(true);
    expect([box.pending, box.dropped]).toEqual([6, 1]); // x's oldest went: x 2, y 3, z 1
    // A source already among the longest loses its own new item instead.
    expect(box.push('y', 'y3', 10)).toBe(false);
    const sent: string[] = [];
    box.drain((item) => (sent.push(item), true));
    expect(sent).toEqual(['x1', 'y0', 'z0', 'x2']); // the burst of 4, round-robin
  });

  it('bounds bytes per source, and an item trySend skipped costs none of the pace', () => {
    const { box, sent } = outbox();
    expect(box.push('a', 'big', 250)).toBe(true);
    expect(box.push('a', 'too much', 100)).toBe(false);
    box.push('a', 'small', 10);
    let first = true;
    box.drain((item) => {
      if (first) return (first = false);
      sent.push(item);
      return true;
    });
    expect(sent).toEqual(['small']);
    expect([box.pending, box.pendingBytes]).toEqual([0, 0]);
  });
});

describe('FairOutbox: a share of the bytes, not only of the items', () => {
  it('keys flooding the largest txs within their allowances do not crowd out a small honest stream', () => {
    // The mempool's forwarding limits (demo/agents/mempool.ts, defaults): 0.9 MiB/s, 90 txs/s toward a peer.
    const largest = 64 * 1024 + 64;
    const clock = { ms: 0 };
    const box = new FairOutbox<string>(
      {
        ratePerSecond: 90,
        burst: 100,
        bytesPerSecond: 0.9 * 1024 * 1024,
        burstBytes: 8 * largest,
        maxQueuedPerSource: 16,
        maxQueuedBytesPerSource: 4 * largest,
        maxQueued: 128,
        maxQueuedBytes: 16 * largest,
      },
      () => clock.ms,
    );
    let honestSent = 0;
    let honestOffered = 0;
    // Two keys each offer 16 of the largest txs a second (their 1 MiB/s allowance with us); the honest
    // source 10 txs of 200 B a second. Drained every 20 ms as the mempool does, for 10 s.
    for (let tick = 0; tick < 500; tick++) {
      clock.ms = tick * 20;
      if (tick % 6 === 0) for (const key of ['k1', 'k2']) box.push(key, key, largest);
      if (tick % 5 === 0) {
        honestOffered++;
        box.push('honest', 'honest', 200);
      }
      box.drain((item) => {
        if (item === 'honest') honestSent++;
        return true;
      });
    }
    // Before (shared by items): ~7 rounds a second of two 64 KiB items each; 81 of 100 honest txs went.
    expect(honestSent).toBeGreaterThanOrEqual(honestOffered - 2);
  });
});

describe('FairOutbox: a share per network, then per source', () => {
  it('16 sources of one group share one turn of the round; a source of another group has the other', () => {
    const { box, clock, sent, drain } = outbox({ burst: 1, maxQueuedPerSource: 4, maxQueuedBytesPerSource: 1000, maxQueued: 64 });
    drain();
    for (let k = 0; k < 16; k++) for (let i = 0; i < 2; i++) box.push(`key${k}`, `k${k}.${i}`, 10, 'net-a');
    for (let i = 0; i < 4; i++) box.push('honest', `h${i}`, 10, 'net-b');
    for (let i = 0; i < 8; i++) {
      clock.ms += 100;
      drain();
    }
    // Before (a share per source): the honest source's first tx went 17th, after one of each key.
    expect(sent).toEqual(['k0.0', 'h0', 'k1.0', 'h1', 'k2.0', 'h2', 'k3.0', 'h3']);
  });

  it('when the whole is full, the largest group gives way (its longest queue), not a smaller group', () => {
    const { box } = outbox({ maxQueuedPerSource: 3, maxQueued: 6 });
    for (const key of ['a1', 'a2', 'a3']) for (let i = 0; i < 2; i++) expect(box.push(key, `${key}.${i}`, 10, 'net-a')).toBe(true);
    // net-a holds 6: each new honest item pushes out one of net-a's, though net-a's queues are no longer.
    for (let i = 0; i < 3; i++) expect(box.push('h', `h${i}`, 10, 'net-b')).toBe(true);
    expect([box.pending, box.dropped]).toEqual([6, 3]);
    // The groups are even now: a new key of net-a pushes out its own group's longest queue's oldest,
    expect(box.push('a4', 'a4.0', 10, 'net-a')).toBe(true);
    expect(box.dropped).toBe(4);
    // and net-b, as large as any, loses its own new item (its one queue is the longest).
    expect(box.push('h', 'h3', 10, 'net-b')).toBe(false);
    const sent: string[] = [];
    box.drain((item) => (sent.push(item), true));
    expect(sent).toHaveLength(4); // the burst
    expect(sent.filter((item) => item.startsWith('h'))).toEqual(['h0', 'h1']);
  });
});
