import { ProtocolError, TransportError } from '../errors.js';
import { MessageLink } from './message-link.js';
import { printable } from '../util/printable.js';

/**
 * The part of the WHATWG WebSocket that a Link needs. Browsers' WebSocket and the `ws` package's
 * WebSocket both fit, so the same Link runs on either side.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  /**
   * `onSent` is `ws` only (browsers ignore it): called once the frame is written to the socket, or
   * with an error once it never will be.
   */
  send(data: Uint8Array, onSent?: (error?: Error) => void): void;
  close(code?: number, reason?: string): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  /** `ws` only: stops reading the socket (real backpressure). Browsers lack it. */
  pause?(): void;
  resume?(): void;
  /** `ws` only: drops the connection without the closing handshake. */
  terminate?(): void;
  /**
   * `ws` only: its own events. A 'message' listener here gets the bytes without the event object that
   * `onmessage` wraps each message in, and with binaryType 'nodebuffer' without a copy into an
   * ArrayBuffer of their own.
   */
  on?(event: 'message', listener: (data: unknown, isBinary: boolean) => void): unknown;
}

export const WEBSOCKET_HIGH_WATER_MARK_BYTES = 256 * 1024;
/** Browsers have no 'drain' event for WebSockets, so bufferedAmount is polled while over the mark. */
export const WEBSOCKET_DRAIN_POLL_MS = 5;
/**
 * Browsers cannot stop a WebSocket from reading, so while paused incoming chunks are held here; past
 * this many bytes the peer is ignoring our flow control and the link is dropped.
 */
export const WEBSOCKET_MAX_PAUSED_BYTES = 4 * 1024 * 1024;
/**
 * One WebSocket message carries one sealed frame (≤ 64 KiB + 20 bytes of header and tag); anything
 * larger is hostile. `ws` enforces it before buffering (maxPayload); a browser's WebSocket takes any
 * size, so the link checks it too.
 */
export const WEBSOCKET_MAX_MESSAGE_BYTES = 128 * 1024;

const OPEN = 1;
/** Stands for any text message: refused whatever it says. */
const TEXT_MESSAGE = '';
const NORMAL_CLOSURE = 1000;
/** `ws` gives each violation by the peer a code of this prefix (WS_ERR_INVALID_UTF8...). */
const WS_PROTOCOL_ERROR_PREFIX = 'WS_ERR_';
const NO_STATUS = 1005;

/** A Link over one open WebSocket. Each binary message is one chunk of the byte stream. */
export class WebSocketLink extends MessageLink {
  readonly transport = 'ws';
  /** `ws` calls `send`'s callback when the frame is written; a browser's WebSocket has none. */
  private readonly sendCallsBack: boolean;

  constructor(
    private readonly socket: WebSocketLike,
    remoteAddress: string,
    highWaterMarkBytes = WEBSOCKET_HIGH_WATER_MARK_BYTES,
  ) {
    super(remoteAddress, {
      highWaterMarkBytes,
      drainPollMs: WEBSOCKET_DRAIN_POLL_MS,
      maxHeldBytes: WEBSOCKET_MAX_PAUSED_BYTES,
      maxMessageBytes: WEBSOCKET_MAX_MESSAGE_BYTES,
      label: 'WebSocket',
    });
    // Until attach(), hold data (and pause `ws` sockets) so that nothing is lost or unbounded.
    this.pause();
    this.sendCallsBack = socket.on !== undefined;
    if (socket.on !== undefined) {
      // `ws`: Buffers that are views of what its socket read, which nothing reuses: ours to keep.
      socket.binaryType = 'nodebuffer';
      // With 'nodebuffer' a binary message is always one Buffer (ws joins fragments), so no type checks.
      socket.on('message', (data, isBinary) => {
        if (isBinary) this.onBytes(data as Uint8Array);
        else this.onMessage(TEXT_MESSAGE);
      });
    } else {
      socket.binaryType = 'arraybuffer';
      socket.onmessage = (event) => this.onMessage(event.data);
    }
    socket.onerror = (event) => {
      const { message = 'WebSocket error', error } = (event ?? {}) as { message?: string; error?: { code?: unknown } };
      const wsCode = error?.code;
      if (typeof wsCode === 'string' && wsCode.startsWith(WS_PROTOCOL_ERROR_PREFIX)) {
        // The peer broke the WebSocket protocol (bad UTF-8, reserved bits, close code, too many
        // fragments...). `ws` answers with a close frame and then waits up to its close timeout (30 s)
        // for the peer to hang up, the link neither open nor closed meanwhile: the peer is cut now.
        this.destroy(new ProtocolError('ERR_MALFORMED_PACKET', `WebSocket ${remoteAddress}: ${message}`, { detail: { wsCode } }));
        return;
      }
      this.failure ??= new TransportError(`WebSocket ${remoteAddress}: ${message}`);
    };
    socket.onclose = (event) => {
      if (event.code !== NORMAL_CLOSURE && event.code !== NO_STATUS) {
        // The reason is the remote's text (≤ 123 bytes): it goes into a message apps print.
        this.failure ??= new TransportError(`WebSocket ${remoteAddress} closed with code ${event.code} ${printable(event.reason)}`.trim(), {
          detail: { code: event.code },
        });
      }
      this.finish();
    };
    if (socket.readyState > OPEN) queueMicrotask(() => this.finish());
  }

  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  protected get socketBufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  write(chunk: Uint8Array, onReleased?: () => void): boolean {
    if (this.closedValue || this.socket.readyState !== OPEN) return false;
    this.send(chunk, onReleased);
    return this.belowHighWaterMark();
  }

  /** Sends one binary message on the open socket (a platform's link may send some its own way). */
  protected send(chunk: Uint8Array, onReleased: (() => void) | undefined): void {
    if (onReleased !== undefined && this.sendCallsBack) this.socket.send(chunk, onReleased);
    else this.socket.send(chunk);
  }

  /** `ws` can stop reading its socket; a browser's WebSocket cannot. */
  override get pauseHoldsInMemory(): boolean {
    return this.socket.pause === undefined;
  }

  protected override onPause(): void {
    this.socket.pause?.();
  }

  protected override onResume(): void {
    this.socket.resume?.();
  }

  close(): void {
    if (this.closedValue) return;
    // The closing handshake starts after queued messages are sent, so nothing written is lost.
    this.socket.close(NORMAL_CLOSURE);
  }

  destroy(error?: Error): void {
    if (this.closedValue) return this.abandonCloseHold(error);
    if (error !== undefined) this.failure ??= error;
    if (this.socket.terminate !== undefined) this.socket.terminate();
    else this.socket.close(NORMAL_CLOSURE);
    this.finish();
  }

  private onMessage(data: unknown): void {
    if (this.closedValue) return;
    if (data instanceof ArrayBuffer) this.receive(new Uint8Array(data));
    else if (data instanceof Uint8Array) this.receive(data);
    else this.destroy(new ProtocolError('ERR_MALFORMED_PACKET', 'WebSocket peer sent a text message; meshlink speaks binary'));
  }

  private onBytes(chunk: Uint8Array): void {
    if (!this.closedValue) this.receive(chunk);
  }
}
