import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/conn/buffer-pool.js';

describe('BufferPool', () => {
  it('never hands out a buffer that is still lent: overlapping users get distinct buffers', () => {
    const pool = new BufferPool(1024, 4);
    const lent = new Set<Uint8Array>();
    // Nested acquisitions (a flush inside a flush), then interleaved releases and acquisitions.
    for (let round = 0; round < 50; round++) {
      const first = pool.acquire();
      expect(lent.has(first)).toBe(false);
      lent.add(first);
      const second = pool.acquire();
      expect(second).not.toBe(first);
      expect(lent.has(second)).toBe(false);
      lent.add(second);
      pool.release(first);
      lent.delete(first);
      const third = pool.acquire();
      expect(lent.has(third)).toBe(false);
      lent.add(third);
      for (const buffer of [second, third]) {
        pool.release(buffer);
        lent.delete(buffer);
      }
    }
  });

  it('reuses a released buffer instead of allocating', () => {
    const pool = new BufferPool(64, 2);
    const buffer = pool.acquire();
    buffer.fill(7);
    pool.release(buffer);
    expect(pool.acquire()).toBe(buffer);
  });

  it('keeps at most maxFree buffers, whatever is released', () => {
    const pool = new BufferPool(64, 3);
    const buffers = Array.from({ length: 10 }, () => pool.acquire());
    for (const buffer of buffers) pool.release(buffer);
    expect(pool.freeCount).toBe(3);
  });

  it('ignores a second release of the same buffer, so it cannot be lent to two users', () => {
    const pool = new BufferPool(64, 4);
    const buffer = pool.acquire();
    pool.release(buffer);
    pool.release(buffer);
    expect(pool.freeCount).toBe(1);
    const a = pool.acquire();
    const b = pool.acquire();
    expect(a).toBe(buffer);
    expect(b).not.toBe(buffer);
  });

  it('does not take buffers of another size, or views into a larger one', () => {
    const pool = new BufferPool(64, 4);
    pool.release(new Uint8Array(32));
    pool.release(new Uint8Array(128).subarray(0, 64));
    pool.release(new Uint8Array(128).subarray(64));
    expect(pool.freeCount).toBe(0);
    expect(pool.acquire().byteLength).toBe(64);
  });

  it('giveBack: takes back what acquire lent, at most maxFree, and never the same buffer twice', () => {
    const pool = new BufferPool(64, 2);
    const buffers = [pool.acquire(), pool.acquire(), pool.acquire()];
    pool.giveBack(buffers[0]!);
    pool.giveBack(buffers[0]!);
    expect(pool.freeCount).toBe(1);
    pool.giveBack(buffers[1]!);
    pool.giveBack(buffers[2]!);
    expect(pool.freeCount).toBe(2);
    const again = [pool.acquire(), pool.acquire()];
    expect(new Set(again).size).toBe(2);
    expect(again.every((buffer) => buffers.includes(buffer))).toBe(true);
  });
});
