/**
 * Chunks a link has read while its owner cannot take them (paused, or not attached yet), kept in
 * arrival order with their byte count. The link owns the policy: what the count is bounded by and what
 * happens past it (TcpLink stops reading the socket, MessageLink drops the peer), and when to deliver.
 * Nothing here runs on a link's fast path: a chunk that finds nothing held goes straight to the owner.
 */
/**
 * What one held chunk costs beyond its bytes (its view object and its array slot), counted in
 * `HeldChunks.bytes`: a peer must not hold millions of one-byte (or empty) chunks within a byte bound.
 */
export const HELD_CHUNK_OVERHEAD_BYTES = 128;

export class HeldChunks {
  private chunks: Uint8Array[] = [];
  /** Index of the next chunk to deliver: shift() is O(n) on a long array, and a flood makes it long. */
  private head = 0;
  private byteCount = 0;

  /** Bytes held, with HELD_CHUNK_OVERHEAD_BYTES for each chunk. */
  get bytes(): number {
    return this.byteCount;
  }

  /** True when no chunk is held (a held empty chunk counts: it is still to be delivered). */
  get isEmpty(): boolean {
    return this.head === this.chunks.length;
  }

  /** Holds `chunk` after the others; returns the bytes now held, for the link to check its bound. */
  push(chunk: Uint8Array): number {
    this.chunks.push(chunk);
    this.byteCount += chunk.length + HELD_CHUNK_OVERHEAD_BYTES;
    return this.byteCount;
  }

  /**
   * Hands the chunks, oldest first, to `deliver` while `wantsMore()` says the owner takes another;
   * `deliver` may pause the owner, and the rest then waits for the next drain. True when none is left.
   */
  drain(wantsMore: () => boolean, deliver: (chunk: Uint8Array) => void): boolean {
    while (this.head < this.chunks.length && wantsMore()) {
      const chunk = this.chunks[this.head]!;
      this.chunks[this.head++] = DELIVERED;
      this.byteCount -= chunk.length + HELD_CHUNK_OVERHEAD_BYTES;
      if (this.head === this.chunks.length) this.clear();
      deliver(chunk);
    }
    return this.isEmpty;
  }

  /** Drops every chunk (the link closed). */
  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.byteCount = 0;
  }
}

/** Stands in a delivered chunk's slot, so the array does not keep its bytes alive. */
const DELIVERED = new Uint8Array(0);
