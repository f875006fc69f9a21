import { MeshlinkError, ProtocolError, toError } from '../errors.js';
import { HeldChunks } from '../transport/held-chunks.js';
import type { Link, LinkHandlers } from '../transport/link.js';
import { LatencyPoint, latencyProbeEnabled, markLatency } from '../util/latency-probe.js';
import { releaserOf } from './frame-pool.js';
import type { FrameDecoder, FrameEncoder } from './secure-link-frame.js';

/**
 * A Link whose peer has proven its ed25519 identity; every byte it carries is sealed.
 * Obtained from `secureHandshake()`. Same contract as Link, plus:
 * - `write()` seals its argument into one frame (several if longer than the frame payload limit)
 *   and hands each frame to the underlying link in one `write`; it does not keep `chunk`.
 *   Batch small messages into one write: every frame costs one seal and one socket write.
 * - `bufferedBytes` counts sealed bytes (16 bytes of tag + 4 of header per frame) of the underlying link.
 * - A frame that fails to open ends the link with ProtocolError ERR_DECRYPT; a declared length over
 *   the limit with ERR_FRAME_TOO_LARGE. Errors carry the remote node id.
 * - An exception thrown by `onData` destroys the link with that exception as the close error.
 */
export interface SecureLink extends Link {
  readonly remoteNodeId: string;
  /** 32-byte ed25519 key the peer proved it holds (a copy). */
  readonly remotePublicKey: Uint8Array;
  readonly localNodeId: string;
  /**
   * Frames opened so far. Frames that wait while the owner is paused are packed together and handed on
   * as larger chunks, so an owner that accounts for work per frame counts them here, not by its chunks.
   * Optional for other implementations (a simulated link), whose chunks then count one each.
   */
  readonly framesReceived?: number;
}

export interface AuthenticatedRemote {
  readonly nodeId: string;
  readonly publicKey: Uint8Array;
}

const Phase = {
  Open: 0,
  /** The underlying link ended cleanly; plaintext still waits for the owner before onClose. */
  Ending: 1,
  Closed: 2,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * Built by the handshake at the moment the peer's auth frame checks out, still inside the
 * underlying link's onData: frames coalesced behind the auth frame arrive through `receiveFrame`
 * before anyone has attached, so they are queued and the underlying link is paused until `attach`.
 *
 * The session is itself the handlers of the link below (its internal `onData`, `onDrain`, `onEnd`,
 * `onClose`), so an idle connection holds no closures for them.
 */
export class SecureLinkSession implements SecureLink {
  /** `write` seals its chunk into new frames before returning. */
  readonly releasesWrittenChunk = true;
  /**
   * As the handlers of the link below: frames are opened in the chunk and whatever outlives `onData`
   * is copied (queued plaintext, and plaintext for an owner that retains chunks).
   */
  readonly retainsChunks = false;
  readonly remoteNodeId: string;
  private readonly remoteKey: Uint8Array;
  private handlers: LinkHandlers | undefined;
  /** Opened frames the owner could not take yet (not attached, or paused), oldest first. */
  private readonly pending = new HeldChunks();
  private phase: Phase = Phase.Open;
  private closeError: Error | undefined;
  private closeReported = false;
  private closing = false;
  private userPaused = false;
  private linkPaused = false;
  private flushScheduled = false;
  private writeBlocked = false;
  /** The remote finished sending; the owner hears of it once what is pending is delivered. */
  private remoteEnded = false;
  private endReported = false;

  constructor(
    private readonly link: Link,
    private readonly decoder: FrameDecoder,
    private readonly encoder: FrameEncoder,
    readonly localNodeId: string,
    remote: AuthenticatedRemote,
  ) {
    this.remoteNodeId = remote.nodeId;
    // A copy: the key the handshake decoded may be a view of the whole chunk it arrived in.
    this.remoteKey = new Uint8Array(remote.publicKey);
    link.attach(this);
    this.updateLinkFlow();
  }

  get transport(): string {
    return this.link.transport;
  }

  get remoteAddress(): string {
    return this.link.remoteAddress;
  }

  get remotePublicKey(): Uint8Array {
    return this.remoteKey.slice();
  }

  get bufferedBytes(): number {
    return this.link.bufferedBytes;
  }

  get pauseHoldsInMemory(): boolean {
    return this.link.pauseHoldsInMemory === true;
  }

  get framesReceived(): number {
    return this.decoder.framesOpened;
  }

  get closed(): boolean {
    return this.phase === Phase.Closed || this.link.closed;
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers;
    this.scheduleFlush();
  }

  write(chunk: Uint8Array): boolean {
    if (this.phase !== Phase.Open || this.closing) return false;
    if (chunk.length === 0) return !this.writeBlocked;
    const max = this.encoder.maxPayloadBytes;
    let ok = true;
    try {
      for (let offset = 0; offset < chunk.length; offset += max) {
        const end = Math.min(offset + max, chunk.length);
        if (latencyProbeEnabled) markLatency(LatencyPoint.Seal);
        const frame = this.encoder.encode(offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end));
        if (latencyProbeEnabled) markLatency(LatencyPoint.Write);
        ok = this.link.write(frame, releaserOf(frame));
        if (latencyProbeEnabled) markLatency(LatencyPoint.Written);
      }
    } catch (error) {
      this.destroy(toError(error));
      return false;
    }
    this.writeBlocked = !ok;
    return ok;
  }

  pause(): void {
    this.userPaused = true;
    this.updateLinkFlow();
  }

  resume(): void {
    if (!this.userPaused) return;
    this.userPaused = false;
    this.scheduleFlush();
  }

  close(): void {
    if (this.phase !== Phase.Open || this.closing) return;
    this.closing = true;
    this.link.close();
  }

  destroy(error?: Error): void {
    if (this.phase === Phase.Closed) return;
    this.enterClosed(error);
    this.link.destroy(error);
    this.reportClose();
  }

  /** Takes one opened frame from the decoder; also used by the handshake for coalesced frames. */
  readonly receiveFrame = (plaintext: Uint8Array): void => {
    if (latencyProbeEnabled) markLatency(LatencyPoint.Opened);
    if (this.phase !== Phase.Open) return;
    if (plaintext.length === 0) {
      // `write` seals no empty frame. One carries nothing yet costs an AEAD open, and no byte count
      // (received bytes, the receive rate limit) sees it: a flood of them was free to send and unmetered.
      this.fail(new ProtocolError('ERR_PROTOCOL', 'Empty frame', { detail: { frameIndex: this.decoder.framesOpened - 1 } }));
      return;
    }
    const handlers = this.handlers;
    if (handlers !== undefined && !this.userPaused && !this.hasPending()) {
      this.deliver(handlers, handlers.retainsChunks === false ? plaintext : new Uint8Array(plaintext));
    } else {
      // A copy: the link below may reuse the chunk that the plaintext lies in. Small frames are packed
      // together, so a chunk of one-byte frames held here costs about its size, not an object a frame.
      this.pending.pushCopy(plaintext);
      this.updateLinkFlow();
    }
  };

  /** A decoder error met while the handshake was still feeding the rest of its chunk. */
  fail(error: Error): void {
    this.destroy(error instanceof MeshlinkError ? error.withPeer(this.remoteNodeId) : error);
  }

  /** @internal Data from the link below. */
  onData(chunk: Uint8Array): void {
    if (latencyProbeEnabled) markLatency(LatencyPoint.Read);
    if (this.phase !== Phase.Open) return;
    // The decoder makes its views of the chunk from its memory, never with subarray() (on a Node Buffer
    // that builds another Buffer through its species): it takes a Buffer as it comes.
    const error = this.decoder.push(chunk, this.receiveFrame);
    if (error !== undefined) this.fail(error);
  }

  /** @internal The link below drained. */
  onDrain(): void {
    this.writeBlocked = false;
    if (this.phase === Phase.Open) this.handlers?.onDrain();
  }

  /** @internal The link below ended its reading side. */
  onEnd(): void {
    if (this.phase !== Phase.Open) return;
    if (this.decoder.bufferedBytes > 0) {
      this.fail(truncatedError(this.remoteNodeId, this.decoder.bufferedBytes));
      return;
    }
    // Nobody attached yet has nothing queued to flush: end our side at once, as links used to.
    if (this.handlers === undefined) {
      this.close();
      return;
    }
    this.remoteEnded = true;
    this.scheduleFlush();
  }

  /** @internal The link below closed. */
  onClose(error?: Error): void {
    if (this.phase === Phase.Closed) return;
    const leftoverBytes = this.decoder.bufferedBytes;
    this.decoder.halt();
    if (error === undefined && leftoverBytes === 0) {
      this.phase = Phase.Ending;
      this.scheduleFlush();
      return;
    }
    this.enterClosed(error ?? truncatedError(this.remoteNodeId, leftoverBytes));
    this.reportClose();
  }

  private deliver(handlers: LinkHandlers, plaintext: Uint8Array): void {
    try {
      handlers.onData(plaintext);
    } catch (error) {
      this.destroy(toError(error));
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A closure per call, not one kept per session: this runs on attach, resume and end, not per frame.
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.phase === Phase.Closed) {
      this.reportClose();
      return;
    }
    this.pending.drain(
      () => this.handlers !== undefined && !this.userPaused && !this.isClosed(),
      (plaintext) => this.deliver(this.handlers!, plaintext),
    );
    if (this.isClosed()) return;
    if (this.phase === Phase.Ending && !this.hasPending() && this.handlers !== undefined) {
      this.enterClosed(undefined);
      this.reportClose();
      return;
    }
    if (this.remoteEnded && !this.endReported && !this.hasPending() && this.handlers !== undefined) {
      this.endReported = true;
      // An owner that cannot flush gets the old behaviour: our side ends now.
      if (this.handlers.onEnd !== undefined) this.handlers.onEnd();
      else this.close();
    }
    this.updateLinkFlow();
  }

  private hasPending(): boolean {
    return !this.pending.isEmpty;
  }

  private isClosed(): boolean {
    return this.phase === Phase.Closed;
  }

  /** Read backpressure reaches the socket: pause it whenever plaintext is waiting for the owner. */
  private updateLinkFlow(): void {
    if (this.phase !== Phase.Open) return;
    const shouldPause = this.handlers === undefined || this.userPaused || this.hasPending();
    if (shouldPause === this.linkPaused) return;
    this.linkPaused = shouldPause;
    if (shouldPause) this.link.pause();
    else this.link.resume();
  }

  private enterClosed(error: Error | undefined): void {
    this.phase = Phase.Closed;
    this.closeError = error;
    this.pending.clear();
    this.decoder.halt();
  }

  /** onClose fires once, and only to an attached owner (attach() after the close still gets it). */
  private reportClose(): void {
    if (this.closeReported || this.handlers === undefined) return;
    this.closeReported = true;
    const handlers = this.handlers;
    this.handlers = undefined;
    handlers.onClose(this.closeError);
  }
}

function truncatedError(peerId: string, bufferedBytes: number): ProtocolError {
  return new ProtocolError('ERR_PROTOCOL', 'Link ended in the middle of a frame', { peerId, detail: { bufferedBytes } });
}
