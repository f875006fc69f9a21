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
export class LinkMessageReader {
  /**
   * What arrived and is not consumed yet, in order. Joined only when a whole header or message is in,
   * so a peer that sends one byte per chunk costs linear work, not a copy of everything per byte.
   */
  private chunks: Uint8Array[] = [];
  private bufferedBytes = 0;
  private waiter: { resolve: (message: Uint8Array) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly link: Link,
    private readonly maxMessageBytes: number,
  ) {
    link.attach({
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
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiter = undefined;
        reject(signal?.reason instanceof Error ? signal.reason : new ProtocolError('ERR_HANDSHAKE', 'aborted'));
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
    const rest = this.joined();
    this.chunks = [];
    this.bufferedBytes = 0;
    return rest;
  }

  private onData(chunk: Uint8Array): void {
    if (this.failure !== undefined) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    // A peer may start its next protocol stage early; hold it back instead of buffering without bound.
    if (this.bufferedBytes > LINK_MESSAGE_HEADER_BYTES + this.maxMessageBytes) this.link.pause();
    if (this.waiter === undefined) return;
    const message = this.tryParse();
    if (message === undefined) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter.resolve(message);
  }

  /** Everything buffered as one array (the chunks become that one). */
  private joined(): Uint8Array {
    if (this.chunks.length > 1) {
      const joined = new Uint8Array(this.bufferedBytes);
      let offset = 0;
      for (const chunk of this.chunks) {
        joined.set(chunk, offset);
        offset += chunk.length;
      }
      this.chunks = [joined];
    }
    return this.chunks[0] ?? new Uint8Array(0);
  }

  private tryParse(): Uint8Array | undefined {
    if (this.bufferedBytes < LINK_MESSAGE_HEADER_BYTES) return undefined;
    let head = this.chunks[0]!;
    if (head.length < LINK_MESSAGE_HEADER_BYTES) head = this.joined();
    const length = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0);
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
    const buffer = this.joined();
    const message = buffer.slice(LINK_MESSAGE_HEADER_BYTES, LINK_MESSAGE_HEADER_BYTES + length);
    const rest = buffer.subarray(LINK_MESSAGE_HEADER_BYTES + length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
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
