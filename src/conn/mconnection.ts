import { AbortError, ClosedError, ConfigError, MeshlinkError, ProtocolError, TimeoutError, toError } from '../errors.js';
import type { Link } from '../transport/link.js';
import { LatencyPoint, latencyProbeEnabled, markLatency } from '../util/latency-probe.js';
import { scheduleAfterBurst } from '../util/schedule.js';
import { PacketDecoder } from '../wire/packet.js';
import type { Channel, ChannelStatus } from './channel.js';
import { hex, type ChannelDescriptor } from './channel-descriptor.js';
import { resolveMConnectionConfig, type MConnectionConfig } from './config.js';
import { RateLimiter } from './rate-limiter.js';
import { SendScheduler } from './send-scheduler.js';

export interface MConnectionHandlers {
  /**
   * A whole message arrived on a known channel. The receiver owns `message` (its bytes are never
   * reused), but a small one is a view into a buffer shared with other received messages: use
   * `message.byteOffset`/`byteLength` with `message.buffer`, and copy it if it is kept for long.
   */
  onMessage(channelId: number, message: Uint8Array): void;
  /** The connection is closed; `error` says why when it failed. Fires exactly once. */
  onClose(error?: Error): void;
}

export interface SendOptions {
  /** Rejects the wait with AbortError. */
  signal?: AbortSignal;
  /** How long to wait for queue room before resolving false. @default config.sendTimeoutMs */
  timeoutMs?: number;
}

export type MConnectionState = 'open' | 'closing' | 'closed';

export interface ConnectionStatus {
  state: MConnectionState;
  uptimeMs: number;
  sentBytes: number;
  receivedBytes: number;
  /** Bytes handed to the link but not yet on the network. */
  linkBufferedBytes: number;
  /** Round trip of the last answered ping, in ms; undefined before the first pong. */
  lastPingRttMs: number | undefined;
  channels: ChannelStatus[];
}

// send() settles most calls at once; sharing the settled promises saves an allocation per message.
const RESOLVED_TRUE = Promise.resolve(true);
const RESOLVED_FALSE = Promise.resolve(false);

/** The holder of `pause()` called without one. */
const DEFAULT_PAUSE_HOLDER = Symbol('caller');

/**
 * Multiplexes prioritised channels over one Link (normally a SecureLink).
 *
 * Sending: messages wait in bounded per-channel queues. Once the current burst of work is done (not
 * on a timer) the connection packs as many packets as fit into one batch of up to `maxBatchBytes`,
 * picking each next packet from the channel with the least recently-sent bytes relative to its
 * priority (CometBFT's rule), and hands the batch to the link in ONE write. While the link reports
 * backpressure nothing more is packed, so a peer that does not read stalls our queues (and then
 * `send()` callers), never our memory.
 *
 * Receiving: packets are decoded as they stream in, fragments reassembled per channel up to that
 * channel's recvMessageCapacity. Unknown channel, oversize message or malformed packet: the connection
 * is destroyed with a ProtocolError.
 *
 * Not re-entrant across connections; all methods may be called from handlers.
 */
export class MConnection {
  readonly config: MConnectionConfig;
  private readonly scheduler: SendScheduler;
  private readonly decoder: PacketDecoder;
  private readonly sendLimiter: RateLimiter;
  private readonly recvLimiter: RateLimiter;
  private readonly startedAtMs = Date.now();
  private stateValue: MConnectionState = 'open';
  private started = false;
  private flushScheduled = false;
  private flushing = false;
  private waitingForDrain = false;
  private pingSentAtMs = 0;
  private lastPingRttMs: number | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private recvResumeTimer: ReturnType<typeof setTimeout> | undefined;
  private sendRateTimer: ReturnType<typeof setTimeout> | undefined;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private sentBytesTotal = 0;
  private receivedBytesTotal = 0;
  /** Whoever paused delivery (each inbox, the app): reading resumes only when all have resumed. */
  private readonly pauseHolders = new Set<unknown>();
  private pausedByRateLimit = false;
  private closeWaiters: (() => void)[] = [];
  private closeError: Error | undefined;
  /** The remote finished sending (onEnd) while we were open: it, not we, began the close. */
  private closedByRemote = false;

  constructor(
    private readonly link: Link,
    channelDescriptors: readonly ChannelDescriptor[],
    private readonly handlers: MConnectionHandlers,
    config: Partial<MConnectionConfig> = {},
  ) {
    this.config = resolveMConnectionConfig(config);
    this.scheduler = new SendScheduler(channelDescriptors, this.config.maxPacketPayloadBytes);
    this.sendLimiter = new RateLimiter(this.config.sendRateBytesPerSec);
    this.recvLimiter = new RateLimiter(this.config.recvRateBytesPerSec);
    this.decoder = new PacketDecoder({
      onMsgPacket: (channelId, payload, isLast) => this.onMsgPacket(channelId, payload, isLast),
      onPing: () => {
        this.scheduler.pongPending = true;
        this.scheduleFlush();
      },
      onPong: () => this.onPong(),
    });
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
    this.link.attach({
      onData: (chunk) => this.onData(chunk),
      onDrain: () => {
        this.waitingForDrain = false;
        this.flush();
      },
      onClose: (error) => this.finish(error ?? (this.stateValue === 'closing' ? undefined : new ClosedError('Link closed by the remote end'))),
      onEnd: () => this.onRemoteEnd(),
    });
    if (this.link.closed) {
      this.finish(new ClosedError('Link was already closed'));
      return;
    }
    this.pingTimer = setInterval(() => this.sendPing(), this.config.pingIntervalMs);
    if (initialBytes !== undefined && initialBytes.length > 0) this.onData(initialBytes);
    if (this.pauseHolders.size === 0 && this.stateValue !== 'closed') this.link.resume();
  }

  hasChannel(channelId: number): boolean {
    return this.scheduler.channel(channelId) !== undefined;
  }

  /**
   * Queues a message without waiting. Returns false when the channel's queue is full or the connection
   * is not open. Keeps a reference to `message` until it is sent: do not modify it afterwards.
   * Throws ConfigError for an unknown channel and MeshlinkError ERR_MESSAGE_TOO_LARGE for a message
   * over the channel's recvMessageCapacity (the peer would reject it).
   */
  trySend(channelId: number, message: Uint8Array): boolean {
    const channel = this.sendableChannel(channelId, message);
    if (this.stateValue !== 'open' || !channel.tryEnqueue(message)) return false;
    this.sendSoon();
    return true;
  }

  /**
   * Queues a message, waiting (bounded) for room. Resolves true once queued, false on timeout or when
   * the connection closes; rejects with AbortError when `signal` fires. Queued messages are sent in
   * order per channel, and a graceful `close()` sends them before closing.
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
      this.sendSoon();
      return RESOLVED_TRUE;
    }
    return this.waitAndEnqueue(channel, message, options);
  }

  private waitAndEnqueue(channel: Channel, message: Uint8Array, options: SendOptions): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let cancelWait: () => void = () => undefined;
      const settle = (outcome: boolean | Error): void => {
        clearTimeout(timer);
        cancelWait();
        options.signal?.removeEventListener('abort', onAbort);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const onAbort = (): void => settle(new AbortError());
      const onRoom = (): void => {
        if (this.stateValue !== 'open') return settle(false);
        if (channel.tryEnqueue(message)) {
          this.sendSoon();
          return settle(true);
        }
        cancelWait = channel.waitForRoom(onRoom);
      };
      const timer = setTimeout(() => settle(false), options.timeoutMs ?? this.config.sendTimeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      cancelWait = channel.waitForRoom(onRoom);
    });
  }

  private sendableChannel(channelId: number, message: Uint8Array): Channel {
    const channel = this.scheduler.channel(channelId);
    if (channel === undefined) {
      throw new ConfigError('ERR_INVALID_ARGUMENT', `Unknown channel 0x${hex(channelId & 0xff)}`);
    }
    if (!(message instanceof Uint8Array)) throw new ConfigError('ERR_INVALID_ARGUMENT', 'message must be a Uint8Array');
    if (message.length > channel.descriptor.recvMessageCapacity) {
      throw new MeshlinkError(
        'ERR_MESSAGE_TOO_LARGE',
        `Message of ${message.length} bytes exceeds channel 0x${hex(channelId)} recvMessageCapacity ${channel.descriptor.recvMessageCapacity}`,
        { detail: { channelId, size: message.length, limit: channel.descriptor.recvMessageCapacity } },
      );
    }
    return channel;
  }

  /**
   * Stops delivering messages (backpressure reaches the remote sender through the link) until every
   * `holder` that paused has called `resume` with the same holder: two full inboxes each hold the
   * connection, and reading one of them must not release the other.
   */
  pause(holder: unknown = DEFAULT_PAUSE_HOLDER): void {
    this.pauseHolders.add(holder);
    this.link.pause();
  }

  resume(holder: unknown = DEFAULT_PAUSE_HOLDER): void {
    this.pauseHolders.delete(holder);
    if (this.pauseHolders.size === 0 && !this.pausedByRateLimit) this.link.resume();
  }

  /**
   * Graceful close: refuses new messages, sends everything already queued, then ends the link.
   * Resolves when closed; after `closeTimeoutMs` (or when `signal` fires) the link is destroyed instead.
   */
  close(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.stateValue === 'closed') return Promise.resolve();
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    if (this.stateValue === 'open') {
      this.stateValue = 'closing';
      this.stopKeepAlive();
      // Waiting senders give up now: they were not accepted before close().
      for (const channel of this.scheduler.channels) channel.wakeAllWaiters();
      this.closeTimer = setTimeout(
        () => this.destroy(new TimeoutError(`Graceful close timed out after ${this.config.closeTimeoutMs} ms`)),
        this.config.closeTimeoutMs,
      );
      this.flush();
    }
    const onAbort = (): void => this.destroy(new AbortError('Close aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    return done.finally(() => options.signal?.removeEventListener('abort', onAbort));
  }

  /** Immediate close: queued messages are dropped; `onClose(error)` fires. */
  destroy(error?: Error): void {
    if (this.stateValue === 'closed') return;
    this.link.destroy(error);
    this.finish(error);
  }

  status(): ConnectionStatus {
    return {
      state: this.stateValue,
      uptimeMs: Date.now() - this.startedAtMs,
      sentBytes: this.sentBytesTotal,
      receivedBytes: this.receivedBytesTotal,
      linkBufferedBytes: this.link.bufferedBytes,
      lastPingRttMs: this.lastPingRttMs,
      channels: this.scheduler.channels.map((channel) => channel.status()),
    };
  }

  // ─── receiving ──────────────────────────────────────────────────────────────────────────────

  private onData(chunk: Uint8Array): void {
    if (this.stateValue === 'closed') return;
    this.receivedBytesTotal += chunk.length;
    const error = this.decoder.push(chunk);
    if (error !== undefined) {
      this.destroy(error);
      return;
    }
    if (!this.recvLimiter.unlimited) {
      this.recvLimiter.take(chunk.length);
      const waitMs = this.recvLimiter.delayMs();
      if (waitMs > 0 && !this.pausedByRateLimit) {
        this.pausedByRateLimit = true;
        this.link.pause();
        this.recvResumeTimer = setTimeout(() => {
          this.pausedByRateLimit = false;
          if (this.pauseHolders.size === 0) this.link.resume();
          this.flush();
        }, waitMs);
      }
    }
  }

  private onMsgPacket(channelId: number, payload: Uint8Array, isLast: boolean): void {
    if (this.stateValue === 'closed') return;
    const channel = this.scheduler.channel(channelId);
    if (channel === undefined) {
      this.destroy(
        new ProtocolError('ERR_UNKNOWN_CHANNEL', `Peer sent on unknown channel 0x${hex(channelId)}`, { detail: { channelId } }),
      );
      return;
    }
    const result = channel.receiveFragment(payload, isLast);
    if (result === undefined) return;
    if (result instanceof ProtocolError) {
      this.destroy(result);
      return;
    }
    if (latencyProbeEnabled) markLatency(LatencyPoint.Unpacked);
    try {
      this.handlers.onMessage(channelId, result);
    } catch (error) {
      // A throwing handler is a local bug; it costs this connection, never the process.
      this.destroy(toError(error));
    }
  }

  private onPong(): void {
    if (this.pongTimer === undefined) return; // unsolicited pongs are harmless; ignore them
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
    this.lastPingRttMs = performance.now() - this.pingSentAtMs;
  }

  // ─── sending ────────────────────────────────────────────────────────────────────────────────

  private sendPing(): void {
    if (this.stateValue !== 'open' || this.pongTimer !== undefined) return;
    this.scheduler.pingPending = true;
    this.pingSentAtMs = performance.now();
    this.pongTimer = setTimeout(() => {
      this.destroy(
        new TimeoutError(`No pong within ${this.config.pongTimeoutMs} ms`, {
          code: 'ERR_PONG_TIMEOUT',
          detail: { pongTimeoutMs: this.config.pongTimeoutMs },
        }),
      );
    }, this.config.pongTimeoutMs);
    this.scheduleFlush();
  }

  /**
   * A message was queued. When the link is idle (no flush pending, nothing unsent in the link) it goes
   * out at once, so a lone message pays no extra tick; the flush scheduled here then coalesces
   * whatever the rest of this burst queues, so message rates keep their large batches.
   */
  private sendSoon(): void {
    if (latencyProbeEnabled) markLatency(LatencyPoint.Send);
    if (this.flushScheduled || this.flushing || this.stateValue !== 'open') return this.scheduleFlush();
    if (this.link.bufferedBytes === 0) this.flush();
    // Scheduled after the write, so that its cost is off the lone message's path.
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.stateValue === 'closed') return;
    this.flushScheduled = true;
    scheduleAfterBurst(this.flushAfterBurst);
  }

  private readonly flushAfterBurst = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Packing frees queue slots, which may enqueue (and ask to flush) right away: no nesting. */
  private flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      this.flushBatches();
    } finally {
      this.flushing = false;
    }
  }

  private flushBatches(): void {
    if (this.stateValue === 'closed' || this.waitingForDrain || this.sendRateTimer !== undefined) return;
    for (;;) {
      const waitMs = this.sendLimiter.delayMs();
      if (waitMs > 0) {
        this.sendRateTimer = setTimeout(() => {
          this.sendRateTimer = undefined;
          this.flush();
        }, waitMs);
        return;
      }
      const maxBatch = this.config.maxBatchBytes;
      const limit = this.sendLimiter.unlimited ? maxBatch : Math.min(maxBatch, this.sendLimiter.capacity);
      const batch = this.scheduler.packBatch(limit, this.link.releasesWrittenChunk === true);
      if (batch === undefined) break;
      this.sendLimiter.take(batch.length);
      this.sentBytesTotal += batch.length;
      const accepted = this.link.write(batch);
      this.scheduler.releaseBatch();
      if (!accepted) {
        this.waitingForDrain = true;
        return;
      }
    }
    if (this.stateValue === 'closing' && this.started) this.link.close();
  }

  // ─── lifecycle ──────────────────────────────────────────────────────────────────────────────

  private stopKeepAlive(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = undefined;
    this.pongTimer = undefined;
  }

  /**
   * The remote finished sending. Between messages that is a graceful close (or a process that died
   * idle; the wire cannot tell): we send what we accepted for it, then close, and report ClosedError
   * "closed by the remote end". In the middle of a message it cannot be graceful (a closing peer
   * flushes whole messages), so the fragment is dropped with a ProtocolError.
   */
  private onRemoteEnd(): void {
    if (this.stateValue === 'closed') return;
    if (this.stateValue === 'open') this.closedByRemote = true;
    const partial = this.scheduler.channels.find((channel) => channel.partialMessageBytes > 0);
    if (partial !== undefined) {
      this.destroy(
        new ProtocolError('ERR_PROTOCOL', `Link ended in the middle of a message on channel 0x${hex(partial.descriptor.id)}`, {
          detail: { channelId: partial.descriptor.id, receivedBytes: partial.partialMessageBytes },
        }),
      );
      return;
    }
    void this.close();
  }

  private finish(error: Error | undefined): void {
    if (this.stateValue === 'closed') return;
    if (error === undefined && this.closedByRemote) error = new ClosedError('Link closed by the remote end');
    this.stateValue = 'closed';
    this.closeError = error;
    this.stopKeepAlive();
    clearTimeout(this.recvResumeTimer);
    clearTimeout(this.sendRateTimer);
    clearTimeout(this.closeTimer);
    for (const channel of this.scheduler.channels) channel.clear();
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const resolve of waiters) resolve();
    this.handlers.onClose(error);
  }

  /** Why the connection closed (undefined for a clean close or while open). */
  get error(): Error | undefined {
    return this.closeError;
  }
}
