/**
 * Chunks a link has read while its owner cannot take them (paused, or not attached yet), kept in
 * arrival order with their byte count. The link owns the policy: what the count is bounded by and what
 * happens past it (TcpLink stops reading the socket, MessageLink drops the peer), and when to deliver.
 * Nothing here runs on a link's fast path: a chunk that finds nothing held goes straight to the owner.
 */
export class HeldChunks {
  private readonly chunks: Uint8Array[] = [];
  private byteCount = 0;

  /** Bytes held. */
  get bytes(): number {
    return this.byteCount;
  }

  /** True when no chunk is held (a held empty chunk counts: it is still to be delivered). */
  get isEmpty(): boolean {
    return this.chunks.length === 0;
  }

  /** Holds `chunk` after the others; returns the bytes now held, for the link to check its bound. */
  push(chunk: Uint8Array): number {
    this.chunks.push(chunk);
    this.byteCount += chunk.length;
    return this.byteCount;
  }

  /**
   * Hands the chunks, oldest first, to `deliver` while `wantsMore()` says the owner takes another;
   * `deliver` may pause the owner, and the rest then waits for the next drain. True when none is left.
   */
  drain(wantsMore: () => boolean, deliver: (chunk: Uint8Array) => void): boolean {
    while (this.chunks.length > 0 && wantsMore()) {
      const chunk = this.chunks.shift()!;
      this.byteCount -= chunk.length;
      deliver(chunk);
    }
    return this.chunks.length === 0;
  }

  /** Drops every chunk (the link closed). */
  clear(): void {
    this.chunks.length = 0;
    this.byteCount = 0;
  }
}
