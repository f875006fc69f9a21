import { describe, expect, it } from 'vitest';
import { PacedStorage } from '../../src/storage/paced-storage.js';
import { MemoryStorage } from '../../src/storage/storage.js';

/** A MemoryStorage that records each write (its first byte) and can be made to fail. */
class Recording extends MemoryStorage {
  readonly writes: number[] = [];
  fail = false;
  override async set(key: string, value: Uint8Array): Promise<void> {
    if (this.fail) throw new Error('disk full');
    this.writes.push(value[0]!);
    await super.set(key, value);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (first: number, length: number): Uint8Array => new Uint8Array(length).fill(first);

describe('PacedStorage', () => {
  it('keeps a large value set within the wait its last large write started (the latest wins), reads it back, and writes it when the wait is over', async () => {
    let now = 0;
    const inner = new Recording();
    const paced = new PacedStorage(inner, 10_000, () => now);
    await paced.set('book', bytes(1, 20_000)); // the next large write of 'book' from 2,000 ms
    now = 20;
    await paced.set('book', bytes(2, 20_000));
    await paced.set('book', bytes(3, 20_000));
    expect(inner.writes).toEqual([1]);
    expect((await paced.get('book'))![0]).toBe(3);
    expect((await inner.get('book'))![0]).toBe(1);
    // Another key has its own pace.
    await paced.set('other', bytes(9, 20_000));
    expect(inner.writes).toEqual([1, 9]);
    now = 2000;
    await sleep(2100); // the timer was set for 1,980 ms
    expect(inner.writes).toEqual([1, 9, 3]);
    expect((await inner.get('book'))![0]).toBe(3);
  });

  it('writes a value of at most bytesPerSecond at once, replacing a kept one', async () => {
    const inner = new Recording();
    const paced = new PacedStorage(inner, 10_000, () => 0);
    await paced.set('book', bytes(1, 20_000));
    await paced.set('book', bytes(2, 20_000)); // kept
    await paced.set('book', bytes(3, 100));
    expect(inner.writes).toEqual([1, 3]);
    await paced.flush();
    expect(inner.writes).toEqual([1, 3]);
    expect((await paced.get('book'))![0]).toBe(3);
  });

  it('writes what it kept on flush, and reports a kept write that failed at the next set', async () => {
    let now = 0;
    const inner = new Recording();
    const paced = new PacedStorage(inner, 1, () => now);
    await paced.set('book', bytes(1, 10)); // the next write waits 10 s
    await paced.set('book', bytes(2, 10));
    await paced.flush();
    expect(inner.writes).toEqual([1, 2]);

    const failing = new PacedStorage(inner, 100, () => now);
    await failing.set('k', bytes(5, 101));
    inner.fail = true;
    await failing.set('k', bytes(6, 101)); // kept for 1,010 ms
    now = 2000;
    await sleep(1100);
    inner.fail = false;
    // The failure is reported, and this set's value is still taken (before: dropped, so a final save at
    // stop that met an earlier failure lost the last snapshot).
    await expect(failing.set('k', bytes(7, 101))).rejects.toThrow('disk full');
    expect((await failing.get('k'))![0]).toBe(7);
    await failing.flush();
    expect((await inner.get('k'))![0]).toBe(7);
    now = 4000;
    await failing.set('k', bytes(8, 101));
    expect((await inner.get('k'))![0]).toBe(8);
  });
});
