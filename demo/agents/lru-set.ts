/**
 * A set that forgets its least recently added or touched entries beyond `capacity`. A Map iterates in
 * insertion order, so re-inserting a key moves it to the young end and the first key is the oldest:
 * O(1) per operation without a linked list. Used for "seen" sets that a peer could otherwise grow
 * without bound by sending us endless distinct transactions.
 */
export class LruSet<T> {
  private readonly entries = new Map<T, true>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LruSet capacity must be an integer ≥ 1, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  has(value: T): boolean {
    return this.entries.has(value);
  }

  /** Adds `value` (or refreshes it) and evicts the oldest entries over capacity. Returns true if it was new. */
  add(value: T): boolean {
    const isNew = !this.entries.delete(value);
    this.entries.set(value, true);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    return isNew;
  }

  delete(value: T): boolean {
    return this.entries.delete(value);
  }

  clear(): void {
    this.entries.clear();
  }
}
