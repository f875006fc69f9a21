/**
 * A few equal-sized buffers for work that ends before control returns to the event loop (packing a
 * batch that the SecureLink seals into a frame of its own at once). Taking one from the pool instead of
 * allocating saves the allocation, the zero-fill and the garbage per write; keeping at most `maxFree`
 * bounds what an idle process holds, whatever the number of connections. A buffer is lent to one user
 * at a time: two users that overlap (one flush inside another) get different buffers.
 */
export class BufferPool {
  private readonly free: Uint8Array[] = [];

  constructor(
    readonly bufferBytes: number,
    readonly maxFree: number,
  ) {}

  /** Buffers held for reuse, not lent to anyone. */
  get freeCount(): number {
    return this.free.length;
  }

  /** A buffer of `bufferBytes` that nobody else holds until it is released. Contents are leftovers. */
  acquire(): Uint8Array {
    return this.free.pop() ?? new Uint8Array(this.bufferBytes);
  }

  /**
   * Gives back a buffer from `acquire`; the caller must not touch it afterwards. Extra buffers beyond
   * `maxFree`, foreign sizes and a buffer released twice are left to the garbage collector.
   */
  release(buffer: Uint8Array): void {
    if (buffer.buffer.byteLength !== this.bufferBytes || buffer.byteLength !== this.bufferBytes || this.free.length >= this.maxFree) return;
    // By memory, not by view: a user may hand back a new view of the buffer it was lent.
    for (const held of this.free) if (held.buffer === buffer.buffer) return;
    this.free.push(buffer);
  }

  /**
   * Gives back the very object `acquire` returned (not another view of its memory): then its size and
   * memory are known, and only a second give-back of it has to be refused. Asking a typed array for its
   * `buffer`, as `release` must, is a call into the runtime: a noticeable part of sending one small
   * message, which borrows and gives back a batch buffer.
   */
  giveBack(lent: Uint8Array): void {
    if (this.free.length >= this.maxFree) return;
    for (const held of this.free) if (held === lent) return;
    this.free.push(lent);
  }
}
