/**
 * A Map that forgets its oldest inserted entries beyond `capacity` (re-setting a key makes it the
 * youngest), like LruSet but with values. For per-peer records a peer could otherwise grow without bound.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`BoundedMap capacity must be an integer ≥ 1, got ${capacity}`);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
  }

  /** Oldest first. Deleting the entry at hand while iterating is safe (a Map's iterator allows it). */
  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }
}
