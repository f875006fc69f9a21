import { describe, expect, it } from 'vitest';
import { PacedStorage } from '../../src/storage/paced-storage.js';
import { MemoryStorage } from '../../src/storage/storage.js';

/** A MemoryStorage that records each write and can be made to fail. */
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
  it('writes at once while under its pace; past it keeps the latest value, reads it back, and writes it when the wait is over', async () => {
    let now = 0;
    const inner = new Recording();
    const paced = new PacedStorage(inner, 1000, () => now);
    await paced.set('book', bytes(1, 10)); // next write of 'book' from 10 ms
    now = 20;
    await paced.set('book', bytes(2, 1000)); // next from 1,020 ms
    now = 30;
    await paced.set('book', bytes(3, 10));
    await paced.set('book', bytes(4, 10));
    expect(inner.writes).toEqual([1, 2]);
    expect((await paced.get('book'))![0]).toBe(4);
    expect((await inner.get('book'))![0]).toBe(2);
    // Another key has its own pace.
    await paced.set('other', bytes(9, 10));
    expect(inner.writes).toEqual([1, 2, 9]);
    now = 1020;
    await sleep(1000); // the timer was set for 990 ms
    expect(inner.writes).toEqual([1, 2, 9, 4]);
    expect((await inner.get('book'))![0]).toBe(4);
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
    await failing.set('k', bytes(5, 1));
    inner.fail = true;
    await failing.set('k', bytes(6, 1)); // kept for 10 ms
    await sleep(40);
    await expect(failing.set('k', bytes(7, 1))).rejects.toThrow('disk full');
    inner.fail = false;
    now = 1000;
    await failing.set('k', bytes(8, 1));
    expect((await inner.get('k'))![0]).toBe(8);
  });
});
