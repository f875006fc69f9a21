import { ProtocolError } from '../errors.js';
import type { Link } from '../transport/link.js';

/** Handshake-phase messages on a SecureLink: [u32 length, big-endian][body]. */
export const LINK_MESSAGE_HEADER_BYTES = 4;

export function frameLinkMessage(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(LINK_MESSAGE_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, LINK_MESSAGE_HEADER_BYTES);
  return out;
}

/**
 * Reads length-prefixed messages from a Link during the handshake phase, then hands the link over
 * with whatever bytes arrived after the last message (`detach()`), so that nothing the peer sent
 * early is lost. Holds at most one message of `maxMessageBytes`.
 */
/** The buffer's first size: a NodeInfo or a decision fits. */
const MIN_BUFFER_BYTES = 1024;

export class LinkMessageReader {
  /**
   * What arrived and is not consumed yet: the first `bufferedBytes` of `buffer`, which grows by
   * doubling. So a peer that sends one byte per chunk costs linear work (not a copy of everything per
   * byte) and no object per chunk, and what is held stays within twice what it sent.
   */
  private buffer = new Uint8Array(0);
  private bufferedBytes = 0;
  private waiter: { resolve: (message: Uint8Array) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly link: Link,
    private readonly maxMessageBytes: number,
  ) {
    link.attach({
      // Each chunk is copied into `buffer` during the call.
      retainsChunks: false,
      onData: (chunk) => this.onData(chunk),
      onDrain: () => undefined,
      onClose: (error) => this.fail(error ?? new ProtocolError('ERR_HANDSHAKE', 'Link closed during handshake')),
    });
  }

  /**
   * Resolves with the next message; rejects if the link closes or the peer breaks the framing.
   * Only one call may be outstanding. Bytes are parsed only on request, so anything after the last
   * requested message stays raw for `detach()`.
   */
  next(signal?: AbortSignal): Promise<Uint8Array> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const ready = this.tryParse();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const aborted = (): Error => (signal?.reason instanceof Error ? signal.reason : new ProtocolError('ERR_HANDSHAKE', 'aborted'));
    // An 'abort' listener added after the fact never fires: a refused link's linger, entered with the
    // signal that evicted it already fired, waited for as long as the peer kept its socket open.
    if (signal?.aborted === true) return Promise.reject(aborted());
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiter = undefined;
        reject(aborted());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        resolve: (message) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(message);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
    });
  }

  /** Stops reading; returns the bytes received beyond the messages consumed. */
  detach(): Uint8Array {
    this.link.pause();
    const rest = this.buffer.slice(0, this.bufferedBytes);
    this.buffer = new Uint8Array(0);
    this.bufferedBytes = 0;
    return rest;
  }

  private onData(chunk: Uint8Array): void {
    if (this.failure !== undefined) return;
    this.append(chunk);
    // A peer may start its next protocol stage early; hold it back instead of buffering without bound.
    if (this.bufferedBytes > LINK_MESSAGE_HEADER_BYTES + this.maxMessageBytes) this.link.pause();
    if (this.waiter === undefined) return;
    const message = this.tryParse();
    if (message === undefined) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter.resolve(message);
  }

  private append(chunk: Uint8Array): void {
    const needed = this.bufferedBytes + chunk.length;
    if (needed > this.buffer.length) {
      const grown = new Uint8Array(Math.max(needed, 2 * this.buffer.length, MIN_BUFFER_BYTES));
      grown.set(this.buffer.subarray(0, this.bufferedBytes));
      this.buffer = grown;
    }
    this.buffer.set(chunk, this.bufferedBytes);
    this.bufferedBytes = needed;
  }

  private tryParse(): Uint8Array | undefined {
    if (this.bufferedBytes < LINK_MESSAGE_HEADER_BYTES) return undefined;
    const length = new DataView(this.buffer.buffer, this.buffer.byteOffset, LINK_MESSAGE_HEADER_BYTES).getUint32(0);
    if (length > this.maxMessageBytes) {
      this.fail(
        new ProtocolError('ERR_MESSAGE_TOO_LARGE', `Handshake message of ${length} bytes exceeds ${this.maxMessageBytes}`, {
          detail: { length, limit: this.maxMessageBytes },
        }),
      );
      this.link.destroy(this.failure);
      return undefined;
    }
    if (this.bufferedBytes < LINK_MESSAGE_HEADER_BYTES + length) return undefined;
    const end = LINK_MESSAGE_HEADER_BYTES + length;
    const message = this.buffer.slice(LINK_MESSAGE_HEADER_BYTES, end);
    // What follows (the peer's next stage, sent early) moves to the front; it is at most a message.
    this.buffer.copyWithin(0, end, this.bufferedBytes);
    this.bufferedBytes -= end;
    this.link.resume();
    return message;
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }
}
