import { TransportError } from '../errors.js';
import { MessageLink } from '../transport/message-link.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
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
 * writes are split into ≤ 16 KiB messages, sent as views of the written chunk (which the link's
 * writer does not reuse: the Link contract). Listens to the peer from construction, so bytes that
 * arrive before the link is handed out (or attached) are held, not lost.
 *
 * Backpressure: `write()` returns false above the high-water mark, and `bufferedAmount` is polled
 * until it falls under half of it (then `onDrain`), since `bufferedamountlow` is not reliable.
 */
export class WebRtcLink extends MessageLink {
  readonly transport = 'webrtc';
  private closeTimer: TimerHandle | undefined;
  /**
   * The data channel's buffered amount as read once in this burst of work, plus what we sent since (an
   * upper bound: the channel only drains). Under @roamhq/wrtc each read is a synchronous call into its
   * network thread (~20 µs), and a lone message used to read it twice (is the link idle? under the
   * high-water mark?); once per burst is enough.
   */
  private bufferedThisBurst: number | undefined;
  private readonly forgetBuffered = (): void => {
    this.bufferedThisBurst = undefined;
  };

  constructor(
    private readonly peer: SimplePeerLike,
    remoteAddress: string,
    highWaterMarkBytes = WEBRTC_HIGH_WATER_MARK_BYTES,
    clock: Clock = systemClock,
  ) {
    super(remoteAddress, { highWaterMarkBytes, drainPollMs: WEBRTC_DRAIN_POLL_MS, maxHeldBytes: WEBRTC_MAX_PAUSED_BYTES, label: 'WebRTC' }, clock);
    // simple-peer hands out a Buffer (a Uint8Array view of this one message): the chunk is ours.
    peer.on('data', (chunk) => this.receive(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBuffer)));
    peer.on('error', (error) => {
      this.failure ??= new TransportError(`WebRTC ${remoteAddress}: ${error.message}`, { cause: error, detail: { code: error.code } });
    });
    peer.on('close', () => this.finish());
    if (peer.destroyed) queueMicrotask(() => this.finish());
  }

  get bufferedBytes(): number {
    return this.closedValue ? 0 : this.socketBufferedAmount;
  }

  protected get socketBufferedAmount(): number {
    if (this.bufferedThisBurst === undefined) {
      this.bufferedThisBurst = this.peer.bufferSize;
      queueMicrotask(this.forgetBuffered);
    }
    return this.bufferedThisBurst;
  }

  write(chunk: Uint8Array): boolean {
    if (this.closedValue || this.closeTimer !== undefined) return false;
    try {
      for (let offset = 0; offset < chunk.length; offset += WEBRTC_MAX_CHUNK_BYTES) {
        // A view goes as it is: RTCDataChannel.send(view) sends the view's bytes only (the spec; and
        // @roamhq/wrtc, test/webrtc/webrtc.test.ts), so no copy per message.
        const piece = offset === 0 && chunk.length <= WEBRTC_MAX_CHUNK_BYTES ? chunk : chunk.subarray(offset, Math.min(chunk.length, offset + WEBRTC_MAX_CHUNK_BYTES));
        this.peer.send(piece);
        if (this.bufferedThisBurst !== undefined) this.bufferedThisBurst += piece.length;
      }
    } catch (error) {
      this.destroy(new TransportError(`WebRTC ${this.remoteAddress}: send failed: ${(error as Error).message}`, { cause: error }));
      return false;
    }
    return this.belowHighWaterMark();
  }

  /** Waits (bounded) for the data channel to send what it buffered, then closes. */
  close(): void {
    if (this.closedValue || this.closeTimer !== undefined) return;
    const deadline = this.clock.now() + WEBRTC_CLOSE_FLUSH_TIMEOUT_MS;
    const check = (): void => {
      if (this.closedValue) return;
      if (this.peer.bufferSize === 0 || this.clock.now() >= deadline) {
        this.peer.destroy();
        this.finish();
      } else this.closeTimer = this.clock.setTimeout(check, WEBRTC_DRAIN_POLL_MS);
    };
    this.closeTimer = this.clock.setTimeout(check, 0);
  }

  destroy(error?: Error): void {
    if (this.closedValue) return;
    if (error !== undefined) this.failure ??= error;
    this.peer.destroy();
    this.finish();
  }

  protected override finish(): void {
    this.clock.clearTimeout(this.closeTimer);
    super.finish();
  }
}
