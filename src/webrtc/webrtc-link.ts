import { TransportError } from '../errors.js';
import { MessageLink } from '../transport/message-link.js';
import { monotonicNow, systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import {
  WEBRTC_CLOSE_FLUSH_TIMEOUT_MS,
  WEBRTC_DRAIN_POLL_MS,
  WEBRTC_HIGH_WATER_MARK_BYTES,
  WEBRTC_MAX_CHUNK_BYTES,
  WEBRTC_MAX_MESSAGE_BYTES,
  WEBRTC_MAX_PAUSED_BYTES,
} from './constants.js';
import { dataChannelViolation, peerErrorDetail, stackMessage } from './data-channel-guard.js';
import { HangUp, type HangUpChannel } from './hang-up.js';
import type { SimplePeerLike } from './simple-peer-like.js';
import { watchStrayData } from './stray-data-watch.js';

/**
 * A Link over one simple-peer data channel. Each binary message is one chunk of the byte stream;
 * writes are split into ≤ 16 KiB messages, sent as views of the written chunk (which the link's
 * writer does not reuse: the Link contract). Listens to the peer from construction, so bytes that
 * arrive before the link is handed out (or attached) are held, not lost.
 *
 * Backpressure: `write()` returns false above the high-water mark (an upper bound of `bufferedAmount`,
 * read afresh past half of it), and `bufferedAmount` is polled until it falls under half of it (then
 * `onDrain`), since `bufferedamountlow` is not reliable.
 */
export class WebRtcLink extends MessageLink {
  readonly transport = 'webrtc';
  private closeTimer: TimerHandle | undefined;
  /**
   * An upper bound of the data channel's buffered amount: the last value read plus what we sent since
   * (the channel only drains). Under @roamhq/wrtc each read is a synchronous call into its network
   * thread (~18 µs and a thread handoff), and a lone message used to pay one; the bound is read afresh
   * only once it reaches half the high-water mark (backpressure, drain polls). Sound because nothing but
   * this link sends on the channel. Lone messages then wait for the coalescing flush (one setImmediate)
   * instead of going out at once: cheaper than the read (round trip 1.23–1.40× → 1.03–1.20× the bare
   * channel in bench/rtt-focus.ts).
   */
  private bufferedBound = 0;
  /** Stops the watch for data on SCTP streams other than our channel's (stray-data-watch.ts). */
  private readonly stopStrayWatch: () => void;
  /** Ends the connection without closing it under a remote that is sending (hang-up.ts). */
  private readonly hangUp: HangUp;

  constructor(
    private readonly peer: SimplePeerLike,
    remoteAddress: string,
    private readonly highWaterMarkBytes = WEBRTC_HIGH_WATER_MARK_BYTES,
    clock: Clock = systemClock,
  ) {
    super(remoteAddress, { highWaterMarkBytes, drainPollMs: WEBRTC_DRAIN_POLL_MS, maxHeldBytes: WEBRTC_MAX_PAUSED_BYTES, maxMessageBytes: WEBRTC_MAX_MESSAGE_BYTES, label: 'WebRTC' }, clock);
    // simple-peer hands out a Buffer (a Uint8Array view of this one message): the chunk is ours.
    peer.on('data', (chunk) => this.receive(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBuffer)));
    peer.on('error', (error) => {
      this.failure ??= new TransportError(`WebRTC ${remoteAddress}: ${stackMessage(error)}`, { cause: error, detail: peerErrorDetail(error) });
    });
    peer.on('close', () => this.finish());
    // The remote closes and asked us to hang up: it sends no more, and we must not send either.
    this.hangUp = new HangUp(peer, clock, () => {
      this.finish();
      this.hangUp.end();
    });
    this.stopStrayWatch = watchStrayData(peer, clock, (excessBytes) => {
      this.cut(dataChannelViolation('stray-stream-data', `The remote sent ${Math.round(excessBytes / 1024)} KiB more than our data channel received (data on another SCTP stream)`));
    });
    if (peer.destroyed) queueMicrotask(() => this.finish());
  }

  /** An upper bound (see bufferedBound): 0 only when nothing was sent since the channel was last seen empty. */
  get bufferedBytes(): number {
    return this.closedValue ? 0 : this.bufferedBound;
  }

  protected get socketBufferedAmount(): number {
    if (this.bufferedBound >= this.highWaterMarkBytes / 2) this.bufferedBound = this.peer.bufferSize;
    return this.bufferedBound;
  }

  write(chunk: Uint8Array): boolean {
    if (this.closedValue || this.closeTimer !== undefined) return false;
    try {
      for (let offset = 0; offset < chunk.length; offset += WEBRTC_MAX_CHUNK_BYTES) {
        // A view goes as it is: RTCDataChannel.send(view) sends the view's bytes only (the spec; and
        // @roamhq/wrtc, test/webrtc/webrtc.test.ts), so no copy per message.
        const piece = offset === 0 && chunk.length <= WEBRTC_MAX_CHUNK_BYTES ? chunk : chunk.subarray(offset, Math.min(chunk.length, offset + WEBRTC_MAX_CHUNK_BYTES));
        this.peer.send(piece);
        this.bufferedBound += piece.length;
      }
    } catch (error) {
      this.destroy(new TransportError(`WebRTC ${this.remoteAddress}: send failed: ${stackMessage(error)}`, { cause: error }));
      return false;
    }
    return this.belowHighWaterMark();
  }

  /** Waits (bounded) for the data channel to send what it buffered, then closes. */
  close(): void {
    if (this.closedValue || this.closeTimer !== undefined) return;
    // Monotonic: on the wall clock a step forward cut the flush short (what we had sent was lost) and
    // a step back held a peer that reads nothing for as long as the step.
    const deadlineMonotonic = monotonicNow(this.clock) + WEBRTC_CLOSE_FLUSH_TIMEOUT_MS;
    const check = (): void => {
      if (this.closedValue) return;
      if (this.peer.bufferSize === 0 || monotonicNow(this.clock) >= deadlineMonotonic) {
        this.hangUp.end();
        this.finish();
      } else this.closeTimer = this.clock.setTimeout(check, WEBRTC_DRAIN_POLL_MS);
    };
    this.closeTimer = this.clock.setTimeout(check, 0);
  }

  destroy(error?: Error): void {
    if (this.closedValue) return this.abandonCloseHold(error);
    if (error !== undefined) this.failure ??= error;
    this.hangUp.end();
    this.finish();
  }

  /**
   * Destroys the link for a data channel violation (the guard's or the stray-data watch's `ERR_DATA_CHANNEL`),
   * asking the remote to hang up on `channel` when given (its only channel, which simple-peer never had).
   */
  cut(violation: Error & { code?: string; reason?: string }, channel?: HangUpChannel): void {
    if (this.closedValue) return;
    this.failure ??= new TransportError(`WebRTC ${this.remoteAddress}: ${violation.message}`, { cause: violation, detail: peerErrorDetail(violation) });
    this.hangUp.end(channel);
    this.finish();
  }

  protected override finish(): void {
    this.clock.clearTimeout(this.closeTimer);
    this.stopStrayWatch();
    super.finish();
  }
}
