import { monotonicNow, systemClock } from '../util/clock.js';
import { assertStorageKey, type Storage } from './storage.js';

/**
 * Storage whose writes of each key reach the storage underneath at most `bytesPerSecond` on average,
 * for values larger than that: a write of n bytes makes the next large write of that key wait
 * n / bytesPerSecond seconds. A `set` that must wait is kept (a later one of the same key replaces it)
 * and resolves at once; the kept value is written when the wait is over, and read back by `get`
 * meanwhile. A value of at most `bytesPerSecond` bytes is written at once, as by the storage itself
 * (and replaces a kept one): a caller saving a small snapshot every second stays within the pace, and
 * `await set()` still means written. So a caller that saves a whole snapshot on a timer (the address
 * book, every second in a page) writes a small one as often as before and a large one less often, and
 * never queues writes behind a slow storage (a `set` that waited would: the book's saves are serialised).
 *
 * Why: what peers tell a page decides how large its address book is and how often it changes (each dial
 * of an address changes it). A relay handing out long addresses that never answer made a page rewrite
 * a book of hundreds of KB to IndexedDB every second (GBs an hour of disk writes).
 *
 * A kept write that fails is reported by the next `set` of that key (which still takes its value, then
 * rejects, so the caller saves again). `flush()` writes whatever is kept, now: call it when the owner stops.
 */
export class PacedStorage implements Storage {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly inner: Storage,
    readonly bytesPerSecond: number,
    /**
     * Milliseconds that never step: on the wall clock, a step back (NTP, a VM restored) held every large
     * write back for as long as the step, an hour of a page's book changes lost if it was closed meanwhile.
     */
    private readonly now: () => number = () => monotonicNow(systemClock),
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`PacedStorage needs bytesPerSecond > 0, got ${bytesPerSecond}`);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertStorageKey(key);
    const slot = this.slots.get(key);
    if (slot?.kept !== undefined) return slot.kept.slice();
    await slot?.writing;
    return this.inner.get(key);
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertStorageKey(key);
    const slot = this.slotOf(key);
    // A kept write that failed is reported by this set, which still takes its own value: dropping it
    // lost the owner's last snapshot when that set was the final save at stop.
    const failure = slot.failure;
    slot.failure = undefined;
    const small = value.length <= this.bytesPerSecond;
    if (small || (slot.writing === undefined && slot.timer === undefined && this.now() >= slot.nextAt)) {
      // Newer than anything kept, which it replaces.
      clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.kept = undefined;
      await this.write(key, slot, value);
    } else {
      slot.kept = value.slice();
      this.schedule(key, slot);
    }
    if (failure !== undefined) throw failure;
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key);
    const slot = this.slots.get(key);
    if (slot !== undefined) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.kept = undefined;
      slot.failure = undefined; // about a value that is gone
      await slot.writing;
    }
    await this.inner.delete(key);
  }

  /** Writes every kept value now, whatever the pace; a failure rejects. */
  async flush(): Promise<void> {
    for (const [key, slot] of this.slots) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
      await slot.writing;
      const kept = slot.kept;
      slot.kept = undefined;
      if (kept !== undefined) await this.write(key, slot, kept);
    }
  }

  private slotOf(key: string): Slot {
    let slot = this.slots.get(key);
    // One per key the owner writes: a page's PEX writes one.
    if (slot === undefined) this.slots.set(key, (slot = { nextAt: 0, writing: undefined, timer: undefined, kept: undefined, failure: undefined }));
    return slot;
  }

  private async write(key: string, slot: Slot, value: Uint8Array): Promise<void> {
    slot.nextAt = this.now() + (value.length * 1000) / this.bytesPerSecond;
    const written = this.inner.set(key, value);
    // Small writes may overlap a large one (the storage orders them: IndexedDB transactions of one store run in order).
    const writing = written.then(
      () => undefined,
      () => undefined,
    );
    slot.writing = writing;
    try {
      await written;
    } finally {
      if (slot.writing === writing) slot.writing = undefined;
      // A set made while this one was written waits its turn.
      if (slot.kept !== undefined) this.schedule(key, slot);
    }
  }

  private schedule(key: string, slot: Slot): void {
    if (slot.timer !== undefined || slot.writing !== undefined) return;
    const timer = setTimeout(() => {
      slot.timer = undefined;
      const kept = slot.kept;
      slot.kept = undefined;
      if (kept === undefined) return;
      this.write(key, slot, kept).catch((error: unknown) => {
        slot.failure = error instanceof Error ? error : new Error(String(error));
      });
    }, Math.max(0, slot.nextAt - this.now()));
    // A kept write must not keep a Node process alive (the owner flushes on stop).
    (timer as { unref?: () => void }).unref?.();
    slot.timer = timer;
  }
}

interface Slot {
  /** When the next write may start (ms on `now`'s scale, which never steps). */
  nextAt: number;
  /** The latest write in flight (settles, never rejects). */
  writing: Promise<void> | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The latest value set while a write had to wait. */
  kept: Uint8Array | undefined;
  /** A kept write that failed, for the next set to report. */
  failure: Error | undefined;
}
