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
/**
 * A copy held with `pushCopy` of at most this many bytes joins a shared block instead of getting a
 * buffer of its own: below about a kilobyte, a buffer's own objects cost more than its bytes.
 */
export const HELD_PACKED_COPY_MAX_BYTES = 1024;
/**
 * Small held copies are packed end to end into blocks: the first this large (a link paused with a few
 * small frames held, as under backpressure, keeps little), each next one twice the last…
 */
export const HELD_PACK_FIRST_BLOCK_BYTES = 256;
/** …up to this. */
export const HELD_PACK_BLOCK_BYTES = 16 * 1024;

export class HeldChunks {
  private chunks: Uint8Array[] = [];
  /** Index of the next chunk to deliver: shift() is O(n) on a long array, and a flood makes it long. */
  private head = 0;
  private byteCount = 0;
  /** Where packed copies go; dropped with the chunks, so an idle holder keeps no block. */
  private block: Uint8Array | undefined;
  private blockUsed = 0;
  private nextBlockBytes = HELD_PACK_FIRST_BLOCK_BYTES;
  /**
   * Where in `block` the last held chunk starts while packed copies still join it; -1 when they may
   * not (that chunk is not packed, or a drain has handed chunks on since). Its slot in `chunks` is
   * filled with the view only then, so a joining copy costs no object.
   */
  private openPackStart = -1;

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
    this.sealOpenPack();
    this.chunks.push(chunk);
    this.byteCount += chunk.length + HELD_CHUNK_OVERHEAD_BYTES;
    return this.byteCount;
  }

  /**
   * Holds a copy of `bytes` (the caller may reuse its buffer) after the others; returns the bytes now
   * held. A small copy is packed: it joins the last held chunk when that one is packed too, so what a
   * flood of tiny pieces (one-byte frames) holds is about its bytes, not an object each. Chunk
   * boundaries are therefore not kept; a large copy is a chunk of its own, copied once.
   */
  pushCopy(bytes: Uint8Array): number {
    const length = bytes.length;
    if (length > HELD_PACKED_COPY_MAX_BYTES) return this.push(new Uint8Array(bytes));
    if (this.openPackStart < 0 || this.blockUsed + length > this.block!.length) {
      this.sealOpenPack();
      if (this.block === undefined || this.blockUsed + length > this.block.length) {
        this.block = new Uint8Array(Math.max(length, this.nextBlockBytes));
        this.blockUsed = 0;
        this.nextBlockBytes = Math.min(2 * this.block.length, HELD_PACK_BLOCK_BYTES);
      }
      this.openPackStart = this.blockUsed;
      this.chunks.push(OPEN_PACK);
      this.byteCount += HELD_CHUNK_OVERHEAD_BYTES;
    }
    this.block!.set(bytes, this.blockUsed);
    this.blockUsed += length;
    this.byteCount += length;
    return this.byteCount;
  }

  /**
   * Hands the chunks, oldest first, to `deliver` while `wantsMore()` says the owner takes another;
   * `deliver` may pause the owner, and the rest then waits for the next drain. True when none is left.
   */
  drain(wantsMore: () => boolean, deliver: (chunk: Uint8Array) => void): boolean {
    this.sealOpenPack();
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
    this.block = undefined;
    this.blockUsed = 0;
    this.nextBlockBytes = HELD_PACK_FIRST_BLOCK_BYTES;
    this.openPackStart = -1;
  }

  /** Puts the view of the packed chunk still growing in its slot; later copies start a new chunk. */
  private sealOpenPack(): void {
    if (this.openPackStart < 0) return;
    this.chunks[this.chunks.length - 1] = this.block!.subarray(this.openPackStart, this.blockUsed);
    this.openPackStart = -1;
  }
}

/** Holds the slot of the packed chunk still growing, until `sealOpenPack` puts its view there. */
const OPEN_PACK = new Uint8Array(0);

/** Stands in a delivered chunk's slot, so the array does not keep its bytes alive. */
const DELIVERED = new Uint8Array(0);
