import { ProtocolError, TransportError } from '../../errors.js';
import type { Link, LinkHandlers } from '../link.js';
import {
  WEBRTC_CLOSE_FLUSH_TIMEOUT_MS,
  WEBRTC_DRAIN_POLL_MS,
  WEBRTC_HIGH_WATER_MARK_BYTES,
  WEBRTC_MAX_CHUNK_BYTES,
  WEBRTC_MAX_PAUSED_BYTES,
} from './constants.js';
import type { SimplePeerLike } from './simple-peer-like.js';

/**
 * A Link over one simple-peer data channel. Each binary message is one chunk of the byte stream;
 * writes are split into ≤ 16 KiB messages. Listens to the peer from construction, so bytes that
 * arrive before the link is handed out (or attached) are held, not lost.
 *
 * Backpressure: `write()` returns false above the high-water mark, and `bufferedAmount` is polled
 * until it falls under half of it (then `onDrain`), since `bufferedamountlow` is not reliable.
 */
export class WebRtcLink implements Link {
  readonly transport = 'webrtc';
  private handlers: LinkHandlers | undefined;
  private closedValue = false;
  private paused = true;
  private readonly held: Uint8Array[] = [];
  private heldBytes = 0;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly peer: SimplePeerLike,
    readonly remoteAddress: string,
    private readonly highWaterMarkBytes = WEBRTC_HIGH_WATER_MARK_BYTES,
  ) {
    peer.on('data', (chunk) => this.onMessage(chunk));
    peer.on('error', (error) => {
      this.failure ??= new TransportError(`WebRTC ${remoteAddress}: ${error.message}`, { cause: error, detail: { code: error.code } });
    });
    peer.on('close', () => this.finish());
    if (peer.destroyed) queueMicrotask(() => this.finish());
  }

  get bufferedBytes(): number {
    return this.closedValue ? 0 : this.peer.bufferSize;
  }

  get closed(): boolean {
    return this.closedValue;
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers;
    if (this.closedValue) {
      queueMicrotask(() => handlers.onClose(this.failure));
      return;
    }
    // Held bytes are delivered after attach() returns: the owner typically attaches and then writes
    // its first bytes (the handshake hello); delivering synchronously would let it answer first.
    this.paused = false;
    queueMicrotask(() => this.flushHeld());
  }

  write(chunk: Uint8Array): boolean {
    if (this.closedValue || this.closeTimer !== undefined) return false;
    try {
      for (let offset = 0; offset < chunk.length; offset += WEBRTC_MAX_CHUNK_BYTES) {
        this.peer.send(standalone(chunk, offset, Math.min(chunk.length, offset + WEBRTC_MAX_CHUNK_BYTES)));
      }
    } catch (error) {
      this.destroy(new TransportError(`WebRTC ${this.remoteAddress}: send failed: ${(error as Error).message}`, { cause: error }));
      return false;
    }
    if (this.peer.bufferSize < this.highWaterMarkBytes) return true;
    this.pollDrain();
    return false;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (this.handlers === undefined) return;
    this.paused = false;
    this.flushHeld();
  }

  private flushHeld(): void {
    while (!this.paused && !this.closedValue && this.held.length > 0) {
      const chunk = this.held.shift()!;
      this.heldBytes -= chunk.length;
      this.handlers!.onData(chunk);
    }
  }

  /** Waits (bounded) for the data channel to send what it buffered, then closes. */
  close(): void {
    if (this.closedValue || this.closeTimer !== undefined) return;
    const deadline = Date.now() + WEBRTC_CLOSE_FLUSH_TIMEOUT_MS;
    const check = (): void => {
      if (this.closedValue) return;
      if (this.peer.bufferSize === 0 || Date.now() >= deadline) {
        this.peer.destroy();
        this.finish();
      } else this.closeTimer = setTimeout(check, WEBRTC_DRAIN_POLL_MS);
    };
    this.closeTimer = setTimeout(check, 0);
  }

  destroy(error?: Error): void {
    if (this.closedValue) return;
    if (error !== undefined) this.failure ??= error;
    this.peer.destroy();
    this.finish();
  }

  private onMessage(data: Uint8Array): void {
    if (this.closedValue) return;
    // simple-peer hands out a Buffer (a Uint8Array view of this one message): the chunk is ours.
    const chunk = data instanceof Uint8Array ? data : new Uint8Array(data as ArrayBuffer);
    if (!this.paused && this.handlers !== undefined && this.held.length === 0) {
      this.handlers.onData(chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes > WEBRTC_MAX_PAUSED_BYTES) {
      this.destroy(new ProtocolError('ERR_RATE_LIMIT', `WebRTC peer sent over ${WEBRTC_MAX_PAUSED_BYTES} bytes while we were paused`));
    }
  }

  private pollDrain(): void {
    if (this.drainTimer !== undefined) return;
    const check = (): void => {
      this.drainTimer = undefined;
      if (this.closedValue) return;
      if (this.peer.bufferSize < this.highWaterMarkBytes / 2) this.handlers?.onDrain();
      else this.drainTimer = setTimeout(check, WEBRTC_DRAIN_POLL_MS);
    };
    this.drainTimer = setTimeout(check, WEBRTC_DRAIN_POLL_MS);
  }

  private finish(): void {
    if (this.closedValue) return;
    this.closedValue = true;
    clearTimeout(this.drainTimer);
    clearTimeout(this.closeTimer);
    this.held.length = 0;
    this.heldBytes = 0;
    const handlers = this.handlers;
    this.handlers = undefined;
    handlers?.onClose(this.failure);
  }
}

/**
 * `chunk[start, end)` as a Uint8Array that spans its whole ArrayBuffer. Some RTCDataChannel
 * implementations send a view's entire underlying ArrayBuffer; we have not confirmed @roamhq/wrtc does,
 * but a copy of a ≤16 KiB slice is cheap insurance. A chunk that already owns its buffer goes as it is.
 */
function standalone(chunk: Uint8Array, start: number, end: number): Uint8Array {
  if (start === 0 && end === chunk.length && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength) return chunk;
  const copy = new Uint8Array(end - start);
  copy.set(chunk.subarray(start, end));
  return copy;
}
