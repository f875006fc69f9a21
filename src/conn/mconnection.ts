import { AbortError, ClosedError, ConfigError, SendError, TimeoutError } from '../errors.js';
import type { Link } from '../transport/link.js';
import { whenAborted } from '../util/abort.js';
import { MAX_TIMER_DELAY_MS, monotonicNow, systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { UNMETERED, type MemoryAccount } from '../util/memory-budget.js';
import type { Channel } from './channel.js';
import { assertChannelId, hex, type ChannelDescriptor } from './channel-descriptor.js';
import { closePacketFor, undeliveredClosePacket } from './close-reason.js';
import { sharedMConnectionConfig, type MConnectionConfig } from './config.js';
import { CLOSE_REASON_LINGER_MS, MAX_RECV_MESSAGE_CAPACITY_BYTES } from './constants.js';
import { KeepAlive } from './keep-alive.js';
import type { ReceiveTurns } from './receive-turns.js';
import { DEFAULT_PAUSE_HOLDER, Receiver } from './receiver.js';
import { SendScheduler } from './send-scheduler.js';
import { Sender } from './sender.js';
import type { ConnectionStatus, MConnectionHandlers, MConnectionState, SendOptions } from './mconnection-types.js';

// send() settles most calls at once; sharing the settled promises saves an allocation per message.
const RESOLVED_TRUE = Promise.resolve(true);
const RESOLVED_FALSE = Promise.resolve(false);

/**
 * Multiplexes prioritised channels over one Link (normally a SecureLink).
 *
 * Sending (./sender.ts): messages wait in bounded per-channel queues. A message sent while the link is
 * idle goes out at once; otherwise once the current burst of work is done (not on a timer) the
 * connection packs as many packets as fit into one batch of up to `maxBatchBytes`,
 * picking each next packet from the channel with the least recently-sent bytes relative to its
 * priority (CometBFT's rule), and hands the batch to the link in ONE write. While the link reports
 * backpressure nothing more is packed, so a peer that does not read stalls our queues (and then
 * `send()` callers), never our memory.
 *
 * Receiving (./receiver.ts): packets are decoded as they stream in, fragments reassembled per channel
 * up to that channel's recvMessageCapacity. Unknown channel, oversize message or malformed packet: the
 * connection is destroyed with a ProtocolError, and the peer is told why first (a close packet, then
 * the link ends). A peer's close packet ends the connection with a RemoteCloseError carrying its reason.
 * Keep-alive (./keep-alive.ts): a ping every pingIntervalMs, ERR_PONG_TIMEOUT without an answer.
 *
 * Not re-entrant across connections; all methods may be called from handlers. It is the owner the
 * receive side, the send side and the keep-alive call back (ReceiverOwner, SenderOwner,
 * KeepAliveOwner, through internal methods: not declared with `implements`, so that the published
 * typings, which leave internal members out, stay consistent).
 */
export class MConnection {
  readonly config: Readonly<MConnectionConfig>;
  private readonly scheduler: SendScheduler;
  private readonly receiver: Receiver;
  private readonly sender: Sender;
  private readonly keepAlive: KeepAlive;
  /**
   * When the connection was made, on the clock's monotonicNow() (never steps): its uptime, and for the
   * Switch and agents how long a peer stayed and which peers are the oldest.
   * @internal
   */
  readonly startedAtMonotonicMs: number;
  private stateValue: MConnectionState = 'open';
  private started = false;
  private closeTimer: TimerHandle | undefined;
  /** After telling the peer why we close: how long it may take to read that before the link is cut. */
  private lingerTimer: TimerHandle | undefined;
  /**
   * Made by the first close() that has to wait; every later one shares it. One per call, an agent that
   * calls `sw.disconnect(peer)` for each message of a peer that keeps sending through our graceful close
   * (it ignores our end) made a waiter and a promise per message: +612 MB of heap within closeTimeoutMs.
   */
  private closing: { done: Promise<void>; resolve: () => void } | undefined;
  private closeError: Error | undefined;
  /** The remote finished sending (onEnd) while we were open: it, not we, began the close. */
  private closedByRemote = false;

  constructor(
    private readonly link: Link,
    channelDescriptors: readonly ChannelDescriptor[],
    private readonly handlers: MConnectionHandlers,
    config?: Partial<MConnectionConfig>,
    /** Every timer and time reading of the connection (pings, timeouts, rate limits). */
    private readonly clock: Clock = systemClock,
    /** Queued messages are charged here node-wide; a charge may cut this connection (its send: false). */
    memory: MemoryAccount = UNMETERED,
    /** This connection's send rate (0 = unlimited), the Switch's pace for the peer. @default config.sendRateBytesPerSec */
    sendRateBytesPerSec?: number,
    /** The node's share of receive work among its connections. @default none: this one reads on */
    receiveTurns?: ReceiveTurns,
  ) {
    this.config = sharedMConnectionConfig(config);
    // The system clock's now() needs no `this`: no closure per connection for it.
    const now = clock === systemClock ? systemClock.now : (): number => clock.now();
    this.startedAtMonotonicMs = monotonicNow(clock);
    this.scheduler = new SendScheduler(channelDescriptors, this.config.maxPacketPayloadBytes, now, memory);
    this.sender = new Sender(this, link, this.scheduler, clock, this.config.maxBatchBytes, sendRateBytesPerSec ?? this.config.sendRateBytesPerSec, now);
    this.keepAlive = new KeepAlive(this, clock, this.config.pingIntervalMs, this.config.pongTimeoutMs);
    this.receiver = new Receiver(this, link, this.scheduler, handlers, this.keepAlive, clock, this.config.recvRateBytesPerSec, now, receiveTurns);
  }

  get state(): MConnectionState {
    return this.stateValue;
  }

  /**
   * Starts reading, and the keep-alive. Call once, after setting up what `onMessage` needs.
   * `initialBytes` are bytes already read from the link by an earlier stage (the handshake).
   */
  start(initialBytes?: Uint8Array): void {
    if (this.started) return;
    this.started = true;
    this.link.attach(this.receiver);
    if (this.link.closed) {
      this.finish(new ClosedError('Link was already closed'));
      return;
    }
    if (this.stateValue === 'open') this.keepAlive.start();
    if (initialBytes !== undefined && initialBytes.length > 0) this.receiver.onData(initialBytes);
    if (!this.receiver.isPaused && this.stateValue !== 'closed') this.link.resume();
    // A close() before start (an agent's addPeer or a 'peer:connected' listener disconnecting the peer)
    // could not end the link yet: end it now that it is ours, once what was queued is flushed. Without
    // this the peer stayed, its messages delivered, until closeTimeoutMs cut it as if it had stalled.
    if (this.stateValue === 'closing') this.sender.flush();
  }

  /** Whether we declared `channelId` (what the remote declared is the Peer's business). */
  hasChannel(channelId: number): boolean {
    return this.scheduler.channel(channelId) !== undefined;
  }

  /**
   * Queues a message without waiting. Returns false when the channel's queue is full or the connection
   * is not open. Keeps a reference to `message` until it is sent: do not modify it afterwards.
   * Throws ConfigError ERR_INVALID_ARGUMENT for a channel id outside 0..255 or a message that is not
   * bytes, and SendError ERR_UNKNOWN_CHANNEL for a channel we did not declare. The remote's size
   * limit is checked by the Peer, which knows it; the remote enforces it anyway.
   */
  trySend(channelId: number, message: Uint8Array): boolean {
    const channel = this.sendableChannel(channelId, message);
    if (this.stateValue !== 'open' || !channel.tryEnqueue(message)) return false;
    // Its charge to the memory budget may have cut this connection: the message went with the queue.
    if (this.stateValue !== 'open') return false;
    this.sender.messageQueued();
    return true;
  }

  /**
   * Queues a message, waiting (bounded) for room. Resolves true once queued, false on timeout, when the
   * connection closes, or at once when as many senders already wait as the queue holds; rejects with
   * AbortError when `signal` fires. Queued messages are sent in order per channel, and a graceful
   * `close()` sends them before closing.
   */
  send(channelId: number, message: Uint8Array, options: SendOptions = {}): Promise<boolean> {
    let channel: Channel;
    try {
      channel = this.sendableChannel(channelId, message);
    } catch (error) {
      return Promise.reject(error);
    }
    if (options.signal?.aborted) return Promise.reject(new AbortError());
    if (this.stateValue !== 'open') return RESOLVED_FALSE;
    if (channel.tryEnqueue(message)) {
      if (this.stateValue !== 'open') return RESOLVED_FALSE; // cut by the memory budget (see trySend)
      this.sender.messageQueued();
      return RESOLVED_TRUE;
    }
    // As many senders may wait as the queue holds: past that the message is not taken, as on a timeout.
    if (!channel.mayWait(message.length)) return RESOLVED_FALSE;
    return this.waitAndEnqueue(channel, message, options);
  }

  private waitAndEnqueue(channel: Channel, message: Uint8Array, options: SendOptions): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let cancelWait: () => void = () => undefined;
      let unfollow: (() => void) | undefined;
      const settle = (outcome: boolean | Error): void => {
        this.clock.clearTimeout(timer);
        cancelWait();
        unfollow?.();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const onAbort = (): void => settle(new AbortError());
      const onRoom = (): void => {
        if (this.stateValue !== 'open') return settle(false);
        if (channel.tryEnqueue(message, true)) {
          if (this.stateValue !== 'open') return settle(false); // cut by the memory budget (see trySend)
          this.sender.messageQueued();
          return settle(true);
        }
        cancelWait = channel.waitForRoom(message.length, onRoom);
      };
      // Capped: a longer host timer (Infinity included) fires after 1 ms, refusing at once a caller who would wait.
      const timer = this.clock.setTimeout(() => settle(false), Math.min(options.timeoutMs ?? this.config.sendTimeoutMs, MAX_TIMER_DELAY_MS));
      // A broadcast to slow peers makes many sends wait on one caller signal (Node warned past ten).
      if (options.signal !== undefined) unfollow = whenAborted(options.signal, onAbort);
      cancelWait = channel.waitForRoom(message.length, onRoom);
    });
  }

  private sendableChannel(channelId: number, message: Uint8Array): Channel {
    assertChannelId(channelId);
    const channel = this.scheduler.channel(channelId);
    if (channel === undefined) {
      throw new SendError('ERR_UNKNOWN_CHANNEL', `Channel 0x${hex(channelId)} is not declared by any of our agents`, {
        detail: { channelId, missingOn: 'local' },
      });
    }
    if (!(message instanceof Uint8Array)) throw new ConfigError('ERR_INVALID_ARGUMENT', 'message must be a Uint8Array');
    if (message.length > MAX_RECV_MESSAGE_CAPACITY_BYTES) {
      throw new SendError('ERR_MESSAGE_TOO_LARGE', `Message of ${message.length} bytes exceeds any channel's capacity (${MAX_RECV_MESSAGE_CAPACITY_BYTES})`, {
        detail: { channelId, size: message.length, limit: MAX_RECV_MESSAGE_CAPACITY_BYTES },
      });
    }
    return channel;
  }

  /**
   * Stops delivering messages (backpressure reaches the remote sender through the link) until every
   * `holder` that paused has called `resume` with the same holder: two full inboxes each hold the
   * connection, and reading one of them must not release the other.
   */
  pause(holder: unknown = DEFAULT_PAUSE_HOLDER): void {
    this.receiver.pause(holder);
  }

  resume(holder: unknown = DEFAULT_PAUSE_HOLDER): void {
    this.receiver.resume(holder);
  }

  /**
   * Graceful close: refuses new messages, sends everything already queued, then ends the link.
   * Resolves when closed; after `closeTimeoutMs` (or when `signal` fires) the link is destroyed instead.
   */
  close(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.stateValue === 'closed') return Promise.resolve();
    if (this.closing === undefined) {
      let resolve: () => void = () => undefined;
      const done = new Promise<void>((settle) => (resolve = settle));
      this.closing = { done, resolve };
    }
    const done = this.closing.done;
    if (this.stateValue === 'open') {
      this.stateValue = 'closing';
      this.keepAlive.stop();
      // Waiting senders give up now: they were not accepted before close().
      for (const channel of this.scheduler.channels) channel.wakeAllWaiters();
      this.clock.clearTimeout(this.closeTimer);
      this.closeTimer = this.clock.setTimeout(
        () => this.destroy(new TimeoutError(`Graceful close timed out after ${this.config.closeTimeoutMs} ms`)),
        this.config.closeTimeoutMs,
      );
      this.sender.flush();
    }
    const signal = options.signal;
    if (signal === undefined) return done;
    const onAbort = (): void => this.destroy(new AbortError('Close aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    return done.finally(() => signal.removeEventListener('abort', onAbort));
  }

  /**
   * Immediate close: queued messages are dropped; `onClose(error)` fires. When `error` is the peer's
   * fault (a ProtocolError, a ban, …) the peer is told why first: one close packet, then the link ends
   * gracefully, and is cut after CLOSE_REASON_LINGER_MS if the peer does not hang up.
   */
  destroy(error?: Error): void {
    if (this.stateValue === 'closed') return;
    const open = this.started && !this.link.closed;
    // A peer whose FIN waits behind what our readers have not taken hears that it was dropped.
    const closePacket = open ? (closePacketFor(error) ?? (this.receiver.holdsRemoteEnd ? undeliveredClosePacket(error) : undefined)) : undefined;
    if (closePacket === undefined) {
      this.link.destroy(error);
    } else {
      this.link.write(closePacket);
      this.link.close();
      const link = this.link;
      this.lingerTimer = this.clock.setTimeout(() => link.destroy(error), CLOSE_REASON_LINGER_MS);
      // A peer that will not hang up must not keep a stopping process alive.
      (this.lingerTimer as { unref?: () => void }).unref?.();
    }
    this.finish(error);
  }

  status(): ConnectionStatus {
    return {
      state: this.stateValue,
      uptimeMs: monotonicNow(this.clock) - this.startedAtMonotonicMs,
      sentBytes: this.sender.sentBytes,
      sendRateBytesPerSec: this.sender.rateBytesPerSec,
      receivedBytes: this.receiver.receivedBytes,
      linkBufferedBytes: this.link.bufferedBytes,
      lastPingRttMs: this.keepAlive.lastRttMs,
      channels: this.scheduler.channels.map((channel) => channel.status()),
    };
  }

  // ─── for the receive and send sides and the keep-alive (internal) ──────────────────────────

  /** @internal */
  get isOpen(): boolean {
    return this.stateValue === 'open';
  }

  /** @internal */
  get writeStalledSinceMs(): number | undefined {
    return this.sender.writeStalledSinceMs;
  }

  /**
   * @internal Pings the peer now; resolves whether a pong comes within `timeoutMs` (false once closed).
   * Used to tell a connection the peer has left without a word from one it still reads.
   */
  probe(timeoutMs: number): Promise<boolean> {
    return this.keepAlive.probe(timeoutMs);
  }

  /** @internal */
  queuePing(): void {
    this.scheduler.pingPending = true;
    this.sender.scheduleFlush();
  }

  /** @internal */
  pingReceived(): void {
    this.scheduler.pongPending = true;
    this.sender.scheduleFlush();
  }

  /** @internal */
  linkDrained(): void {
    this.sender.linkDrained();
  }

  /** @internal */
  ioTurnBegan(): void {
    this.sender.ioTurnBegan();
  }

  /** @internal */
  flushedWhileClosing(): void {
    // Not while the remote's end waits behind what our readers have not taken: ending ours would
    // complete its close, and it would take that for delivery (remoteEnded flushes again).
    if (this.started && !this.receiver.holdsRemoteEnd) this.link.close();
  }

  /** @internal */
  linkClosed(error: Error | undefined): void {
    this.clock.clearTimeout(this.lingerTimer);
    this.finish(error ?? (this.stateValue === 'closing' ? undefined : new ClosedError('Link closed by the remote end')));
    this.handlers.onLinkClosed?.();
  }

  /** Whether the link is still open: after `onClose`, while a close reason lingers for the peer. */
  get linkOpen(): boolean {
    return !this.link.closed;
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /**
   * @internal The remote finished sending. Between messages that is a graceful close (or a process that died
   * idle; the wire cannot tell): we send what we accepted for it, then close, and report ClosedError
   * "closed by the remote end". In the middle of a message it cannot be graceful (a closing peer
   * flushes whole messages), so the fragment is dropped with a ProtocolError.
   */
  remoteEnded(): void {
    if (this.stateValue === 'closed') return;
    if (this.stateValue === 'open') this.closedByRemote = true;
    const truncated = this.receiver.truncatedMessageError();
    if (truncated !== undefined) this.destroy(truncated);
    else if (this.stateValue === 'closing') this.sender.flush(); // our close held its end for this
    else void this.close();
  }

  /**
   * @internal The remote ended (or the link closed) while what it sent waits for our paused readers: they
   * get closeTimeoutMs to take it, then the connection fails, and the remote is told (never a clean close).
   */
  endHeldBack(): void {
    if (this.stateValue !== 'open' || this.closeTimer !== undefined) return;
    const { closeTimeoutMs } = this.config;
    this.closeTimer = this.clock.setTimeout(
      () => this.destroy(new TimeoutError(`The peer closed, and what it sent before waited over ${closeTimeoutMs} ms for our readers`, { detail: { closeTimeoutMs } })),
      closeTimeoutMs,
    );
  }

  private finish(error: Error | undefined): void {
    if (this.stateValue === 'closed') return;
    if (error === undefined && this.closedByRemote) error = new ClosedError('Link closed by the remote end');
    this.stateValue = 'closed';
    this.closeError = error;
    this.keepAlive.stop();
    this.receiver.stop();
    this.sender.stop();
    this.clock.clearTimeout(this.closeTimer);
    for (const channel of this.scheduler.channels) channel.clear();
    this.closing?.resolve();
    this.handlers.onClose(error);
  }

  /** Why the connection closed (undefined for a clean close or while open). */
  get error(): Error | undefined {
    return this.closeError;
  }
}
