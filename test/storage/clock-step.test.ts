/**
 * Writes paced in memory when the machine's wall clock steps back (NTP correcting a fast clock, a VM
 * restored): only the wall clock steps, as there; timers and performance.now do not. A pace read on the
 * wall clock held the writes back for as long as the step.
 */
import { expect, it } from 'vitest';
import { AddressBook } from '../../src/pex/address-book.js';
import { PacedStorage } from '../../src/storage/paced-storage.js';
import { MemoryStorage } from '../../src/storage/storage.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { publicHost, tcp } from '../pex/address-book-helpers.js';
import { steppableWallClock } from '../helpers/wall-clock-step.js';

const HOUR_MS = 3_600_000;
const wallClock = steppableWallClock();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class Counting extends MemoryStorage {
  writes = 0;
  override async set(key: string, value: Uint8Array): Promise<void> {
    this.writes++;
    await super.set(key, value);
  }
}

it('PacedStorage: a large write kept for its turn is written on time across a one-hour step back (before: an hour later)', async () => {
  const inner = new Counting();
  const paced = new PacedStorage(inner, 1000); // 1,100 bytes: the next large write 1.1 s later
  await paced.set('book', new Uint8Array(1100).fill(1));
  wallClock.step(-HOUR_MS);
  await paced.set('book', new Uint8Array(1100).fill(2));
  expect(inner.writes).toBe(1);
  await sleep(1400);
  expect(inner.writes).toBe(2);
  expect((await inner.get('book'))![0]).toBe(2);
});

it('AddressBook auto-save: a change after a one-hour step back of the book clock\'s wall time is saved at the next tick (before: none for the hour)', async () => {
  let wall = Date.now();
  const clock: Clock = { ...systemClock, now: () => wall };
  const storage = new Counting();
  const book = new AddressBook({ storage, clock });
  const autoSave = book.startAutoSave(50);
  try {
    book.addAddress(tcp(1, publicHost(1)), tcp(9999, publicHost(77)));
    await sleep(150);
    expect(storage.writes).toBe(1);
    wall -= HOUR_MS;
    book.addAddress(tcp(2, publicHost(2)), tcp(9999, publicHost(77)));
    await sleep(150);
    expect(storage.writes, 'the change saved').toBe(2);
  } finally {
    await autoSave.stop();
  }
});
