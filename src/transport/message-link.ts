import { ProtocolError, TransportError } from '../errors.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { UNMETERED, type MemoryAccount } from '../util/memory-budget.js';
import { HeldChunks } from './held-chunks.js';
import type { Link, LinkHandlers } from './link.js';

export interface MessageLinkLimits {
  /** Above this many buffered bytes `write()` returns false. */
  highWaterMarkBytes: number;
  /** How often bufferedAmount is polled while over the mark (no reliable low-water event exists). */
  drainPollMs: number;
  /** Bytes held while paused (or before attach) before the peer counts as ignoring flow control. */
  maxHeldBytes: number;
  /**
   * Largest message a peer may send (ours carry one sealed frame, or less). A larger one costs the peer
   * its link before any of it is read: delivered, a pause in its middle kept the rest outside
   * `maxHeldBytes` (browsers cap neither WebSocket nor data channel messages).
   */
  maxMessageBytes: number;
  /** For error messages: 'WebSocket', 'WebRTC'. */
  label: string;
}

/**
 * A clean close (the peer's WebSocket or data channel close) that finds chunks held while paused: the
 * owner may take this long to read them before they are dropped and the link fails. The peer's close
 * completes without waiting for us (it is the socket's handshake, not the owner's), so these chunks
 * are the last of its stream. As long as a graceful MConnection close may take (DEFAULT_CLOSE_TIMEOUT_MS).
 */
export const MESSAGE_LINK_CLOSE_HOLD_MS = 5 * 1000;

/**
 * What Links over message sockets (WebSocket, WebRTC data channel) share: each message is one chunk
 * of the byte stream; such sockets cannot always stop reading, so chunks that arrive while paused (or
 * before attach) are held up to a bound, then the link is dropped; and backpressure is a polled
 * `bufferedAmount`. Subclasses supply the socket: sending, closing, and its buffered amount.
 */
export abstract class MessageLink implements Link {
  abstract readonly transport: string;
  protected handlers: LinkHandlers | undefined;
  protected closedValue = false;
  protected failure: Error | undefined;
  private paused = true;
  private readonly held = new HeldChunks();
  /** Where the held chunks are charged node-wide (the Switch's memory budget), and how much is. */
  private memory: MemoryAccount = UNMETERED;
  private chargedBytes = 0;
  /** The memory budget cut this link's connection: what arrives now is never read, so it is not kept. */
  private discarding = false;
  private drainTimer: TimerHandle | undefined;
  /** The socket closed cleanly with chunks held: onClose waits for them (see MESSAGE_LINK_CLOSE_HOLD_MS). */
  private closeHoldTimer: TimerHandle | undefined;

  constructor(
    readonly remoteAddress: string,
    private readonly limits: MessageLinkLimits,
    /** Runs the drain poll (and subclasses' timers). */
    protected readonly clock: Clock = systemClock,
  ) {}

  /** The socket's own count of bytes queued for sending. */
  protected abstract get socketBufferedAmount(): number;
  abstract readonly bufferedBytes: number;
  abstract write(chunk: Uint8Array): boolean;
  abstract close(): void;
  abstract destroy(error?: Error): void;

  get closed(): boolean {
    return this.closedValue;
  }

  attach(handlers: LinkHandlers): void {
    this.handlers = handlers;
    if (this.closedValue) {
      queueMicrotask(() => handlers.onClose(this.failure));
      return;
    }
    this.paused = false;
    this.onResume();
    // Held chunks go out after attach() returns: the owner typically attaches and then writes its first
    // bytes (the handshake hello); delivering synchronously would let it answer before it spoke.
    queueMicrotask(() => this.deliverHeld());
  }

  /**
   * Charges what this link holds while paused to `account` (the Switch's node-wide budget for peers);
   * the account may close the link when the budget runs out and it holds the most.
   */
  useMemoryAccount(account: MemoryAccount): void {
    this.memory.release(this.chargedBytes);
    this.chargedBytes = 0;
    this.memory = account;
    account.whenCut(() => {
      this.discarding = true;
      this.held.clear();
      this.chargedBytes = 0;
    });
    this.chargeHeld();
  }

  pause(): void {
    this.paused = true;
    this.onPause();
  }

  resume(): void {
    if (this.handlers === undefined) return;
    this.paused = false;
    this.onResume();
    this.deliverHeld();
  }

  /** Link.pauseHoldsInMemory: unless a subclass's socket can really stop reading. */
  get pauseHoldsInMemory(): boolean {
    return true;
  }

  /** Hooks for sockets that can really stop reading (`ws`). */
  protected onPause(): void {}
  protected onResume(): void {}

  /** A message arrived: deliver it, or hold it (in order) while paused or before attach. */
  protected receive(chunk: Uint8Array): void {
    // An empty message carries no byte of the stream. Passed on, each cost the layers above a full
    // turn of their decoders: a peer sending nothing but empty WebSocket messages (6 bytes each) cost
    // us 15 times the CPU per byte of honest 1 KiB messages, for as long as it liked.
    if (this.closedValue || chunk.length === 0 || this.discarding) return;
    if (chunk.length > this.limits.maxMessageBytes) {
      this.destroy(
        new ProtocolError('ERR_FRAME_TOO_LARGE', `${this.limits.label} peer sent a message of ${chunk.length} bytes, over ${this.limits.maxMessageBytes}`),
      );
      return;
    }
    if (!this.paused && this.handlers !== undefined && this.held.isEmpty) {
      this.handlers.onData(chunk);
      return;
    }
    if (this.held.push(chunk) > this.limits.maxHeldBytes) {
      this.destroy(
        new ProtocolError('ERR_RATE_LIMIT', `${this.limits.label} peer sent over ${this.limits.maxHeldBytes} bytes while we were paused`),
      );
      return;
    }
    // After the link's own bound: past it, the link is dropped whatever the node-wide budget holds.
    this.chargeHeld();
  }

  /** Brings the account's charge to what is held now (the account may cut this link, or another). */
  private chargeHeld(): void {
    const held = this.held.bytes;
    const charged = this.chargedBytes;
    if (held === charged) return;
    this.chargedBytes = held;
    if (held > charged) this.memory.charge(held - charged);
    else this.memory.release(charged - held);
  }

  /** After a send: true while under the high-water mark, else false and `onDrain` once it empties. */
  protected belowHighWaterMark(): boolean {
    if (this.socketBufferedAmount < this.limits.highWaterMarkBytes) return true;
    this.pollDrain();
    return false;
  }

  /**
   * Marks the link closed, clears what it holds and tells the owner, once. A clean close behind held
   * chunks waits (bounded) for the owner to take them first: dropping them lost messages the peer had
   * sent, and closed cleanly, before it.
   */
  protected finish(): void {
    if (this.closedValue) return;
    this.closedValue = true;
    this.clock.clearTimeout(this.drainTimer);
    if (this.failure === undefined && this.handlers !== undefined && !this.held.isEmpty) {
      this.closeHoldTimer = this.clock.setTimeout(() => {
        this.failure ??= new TransportError(`${this.limits.label} ${this.remoteAddress} closed, and what it sent before waited over ${MESSAGE_LINK_CLOSE_HOLD_MS} ms for us to read it`);
        this.endCloseHold();
      }, MESSAGE_LINK_CLOSE_HOLD_MS);
      return;
    }
    this.report();
  }

  /** `destroy()` while a clean close waits for held chunks: they are dropped now, and the owner told. */
  protected abandonCloseHold(error: Error | undefined): void {
    if (this.closeHoldTimer === undefined) return;
    if (error !== undefined) this.failure ??= error;
    this.endCloseHold();
  }

  private endCloseHold(): void {
    this.clock.clearTimeout(this.closeHoldTimer);
    this.closeHoldTimer = undefined;
    this.report();
  }

  private report(): void {
    this.held.clear();
    this.chargeHeld();
    const handlers = this.handlers;
    this.handlers = undefined;
    handlers?.onClose(this.failure);
  }

  private deliverHeld(): void {
    const holding = (): boolean => this.closeHoldTimer !== undefined;
    const allDelivered = this.held.drain(
      () => !this.paused && (!this.closedValue || holding()) && this.handlers !== undefined,
      (chunk) => this.handlers!.onData(chunk),
    );
    this.chargeHeld();
    if (allDelivered && holding()) this.endCloseHold();
  }

  private pollDrain(): void {
    if (this.drainTimer !== undefined) return;
    const check = (): void => {
      this.drainTimer = undefined;
      if (this.closedValue) return;
      if (this.socketBufferedAmount < this.limits.highWaterMarkBytes / 2) this.handlers?.onDrain();
      else this.drainTimer = this.clock.setTimeout(check, this.limits.drainPollMs);
    };
    this.drainTimer = this.clock.setTimeout(check, this.limits.drainPollMs);
  }
}
