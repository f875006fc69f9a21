import { ProtocolError, toError } from '../errors.js';
import type { Link, LinkHandlers } from '../transport/link.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { LatencyPoint, latencyProbeEnabled, markLatency } from '../util/latency-probe.js';
import { PacketDecoder, type PacketHandler } from '../wire/packet.js';
import { hex } from './channel-descriptor.js';
import { remoteCloseError } from './close-reason.js';
import type { SecureLink } from './secure-link-session.js';
import type { KeepAlive } from './keep-alive.js';
import type { MConnectionHandlers, MConnectionState } from './mconnection-types.js';
import { rateLimiter, type RateLimiter } from './rate-limiter.js';
import type { ReceiveTurns, TurnTaker } from './receive-turns.js';
import type { SendScheduler } from './send-scheduler.js';
import { RECV_MESSAGE_MIN_CHARGE_BYTES } from './constants.js';
import { framesCharge, messageSurcharge } from './work-charge.js';

/** What the receive side needs from its connection; MConnection's internal methods. */
export interface ReceiverOwner {
  readonly state: MConnectionState;
  destroy(error?: Error): void;
  /** The link took all it had refused (`write` returned false before). */
  linkDrained(): void;
  /** The link closed; `error` when it failed. */
  linkClosed(error: Error | undefined): void;
  /** The remote finished sending (a TCP FIN) but still reads. */
  remoteEnded(): void;
  /** The remote ended or the link closed while what it sent before waits for our paused readers. */
  endHeldBack(): void;
  /** The peer pinged: a pong must go out. */
  pingReceived(): void;
  /** A chunk arrived: this is a new turn of the event loop. */
  ioTurnBegan(): void;
}

/** A SecureLink counts the frames it opened (`SecureLink.framesReceived`); other links do not. */
type FrameCountingLink = Link & Pick<SecureLink, 'framesReceived'>;

/** The holder of `pause()` called without one. */
export const DEFAULT_PAUSE_HOLDER = Symbol('caller');
/** The holder of a pause at the end of a turn (ReceiveTurns). */
const TURN_PAUSE_HOLDER = Symbol('turn');

/**
 * The receive side of an MConnection: it is the link's handlers and the packet decoder's, so an idle
 * connection holds no closures for either. Packets are decoded as they stream in, fragments reassembled
 * per channel up to that channel's recvMessageCapacity, whole messages handed to `onMessage`. Unknown
 * channel, oversize message or malformed packet: the connection is destroyed with a ProtocolError. It
 * also owns reading's flow: pause holders (each full inbox, the app) and the receive rate limit.
 */
export class Receiver implements LinkHandlers, PacketHandler, TurnTaker {
  /** Packets are decoded in the chunk; channels copy what they hand on or keep (Channel.receiveFragment). */
  readonly retainsChunks = false;
  receivedBytes = 0;
  private readonly decoder = new PacketDecoder(this);
  private readonly limiter: RateLimiter;
  /** Whoever paused delivery: reading resumes only when all have resumed. Made on the first pause. */
  private pauseHolders: Set<unknown> | undefined;
  private pausedByRateLimit = false;
  private resumeTimer: TimerHandle | undefined;
  /**
   * What the messages delivered since the last chunk was charged fell short of
   * RECV_MESSAGE_MIN_CHARGE_BYTES each: the rate limit charges it with the next chunk (kept at 0 when
   * unlimited).
   */
  private smallMessageCharge = 0;
  /** The link's `framesReceived` already charged to the receive rate limit (or read before we started). */
  private framesCharged: number;
  /**
   * The remote ended ('ended': a FIN) or the link closed cleanly ('closed') while packets it sent before
   * were parked in the suspended decoder: the owner hears of it once they are handed on. Told at once,
   * the connection closed and the parked messages were dropped, though the remote's graceful close
   * completed cleanly: accepted, flushed, and silently lost.
   */
  private heldEnd: 'ended' | 'closed' | undefined;
  /** Work handed on in this turn (ReceiveTurns), counted by the packet (countTurnWork). */
  private turnWork = 0;
  private turnRound = 0;

  constructor(
    private readonly owner: ReceiverOwner,
    private readonly link: Link,
    private readonly scheduler: SendScheduler,
    private readonly handlers: MConnectionHandlers,
    private readonly keepAlive: KeepAlive,
    private readonly clock: Clock,
    recvRateBytesPerSec: number,
    now: () => number,
    /** The node's share of receive work among its connections; none: this connection reads on. */
    private readonly turns?: ReceiveTurns,
  ) {
    this.limiter = rateLimiter(recvRateBytesPerSec, now);
    // The handshake's frames (auth, NodeInfo) are not ours to charge.
    this.framesCharged = (link as FrameCountingLink).framesReceived ?? 0;
  }

  get isPaused(): boolean {
    return this.pausedByRateLimit || (this.pauseHolders !== undefined && this.pauseHolders.size > 0);
  }

  pause(holder: unknown = DEFAULT_PAUSE_HOLDER): void {
    (this.pauseHolders ??= new Set()).add(holder);
    // Also mid-chunk: one chunk may carry thousands of messages for a full inbox.
    this.decoder.suspend();
    this.link.pause();
  }

  resume(holder: unknown = DEFAULT_PAUSE_HOLDER): void {
    this.pauseHolders?.delete(holder);
    if (this.pauseHolders !== undefined && this.pauseHolders.size > 0) return;
    if (this.owner.state !== 'closed') {
      const error = this.decoder.resume();
      if (error !== undefined) {
        this.owner.destroy(error);
        return;
      }
      if (this.smallMessageCharge > 0) this.chargeReading(0);
    }
    if (!this.isPaused) this.link.resume();
    if (this.heldEnd !== undefined && !this.decoder.hasParked && this.owner.state !== 'closed') {
      const held = this.heldEnd;
      this.heldEnd = undefined;
      if (held === 'ended') this.owner.remoteEnded();
      else this.owner.linkClosed(undefined);
    }
  }

  /** The remote ended (FIN) while what it sent before waits for our readers: its close waits on ours. */
  get holdsRemoteEnd(): boolean {
    return this.heldEnd === 'ended';
  }

  /** A ProtocolError when the link ended in the middle of a message: its rest can never come. */
  truncatedMessageError(): ProtocolError | undefined {
    const partial = this.scheduler.channels.find((channel) => channel.partialMessageBytes > 0);
    if (partial === undefined) return undefined;
    return new ProtocolError('ERR_PROTOCOL', `Link ended in the middle of a message on channel 0x${hex(partial.id)}`, {
      detail: { channelId: partial.id, receivedBytes: partial.partialMessageBytes },
    });
  }

  /** The connection is closed: no more reading. A link close held back is reported now (after onClose). */
  stop(): void {
    this.clock.clearTimeout(this.resumeTimer);
    if (this.heldEnd === 'closed') queueMicrotask(() => this.owner.linkClosed(undefined));
    this.heldEnd = undefined;
  }

  // ─── LinkHandlers ───────────────────────────────────────────────────────────────────────────

  onData(chunk: Uint8Array): void {
    if (this.owner.state === 'closed') return;
    this.owner.ioTurnBegan();
    if (this.turns !== undefined) {
      this.turns.chunkFrom(this);
      // A connection's work counts within a round: one that needs little a round never yields.
      if (this.turnRound !== this.turns.round) {
        this.turnRound = this.turns.round;
        this.turnWork = 0;
      }
    }
    this.receivedBytes += chunk.length;
    const error = this.decoder.push(chunk);
    if (error !== undefined) {
      this.owner.destroy(error);
      return;
    }
    if (this.limiter.unlimited) return;
    // A work limit as much as a byte limit: tiny chunks and messages cost us far more per byte.
    this.chargeReading(this.chunkCharge(chunk.length));
  }

  /**
   * Charges the receive rate limit `bytes` and what the messages delivered since fell short of the
   * minimum; reading pauses while the bucket is in debt. Called for each chunk, and after a resume hands
   * on what a pause parked (thousands of messages may lie in one chunk).
   */
  private chargeReading(bytes: number): void {
    this.limiter.take(bytes + this.smallMessageCharge);
    this.smallMessageCharge = 0;
    if (this.pausedByRateLimit || this.limiter.delayMs() <= 0) return;
    this.pausedByRateLimit = true;
    this.link.pause();
    this.resumeTimer = this.clock.setTimeout(() => this.rateWaitOver(), this.limiter.delayUntilMs(this.limiter.capacity / 2));
  }

  /**
   * The wait for the bucket is over, unless debt charged meanwhile makes it longer. Reading resumes with
   * half the bucket refilled, not at its first byte: a peer of tiny frames charged a kilobyte each would
   * otherwise have us pause and resume the link (timers, socket calls; ~0.1 ms each over WebSocket) for
   * every frame.
   */
  private rateWaitOver(): void {
    const waitMs = this.limiter.delayUntilMs(this.limiter.capacity / 2);
    if (waitMs > 0) {
      this.resumeTimer = this.clock.setTimeout(() => this.rateWaitOver(), waitMs);
      return;
    }
    this.pausedByRateLimit = false;
    if (!this.isPaused) this.link.resume();
  }

  /**
   * What a chunk costs the receive rate limit: its size, and at least RECV_CHUNK_MIN_CHARGE_BYTES per
   * frame opened for it (frames held while we were paused arrive packed, thousands to a chunk) or, on a
   * link that does not count frames, per chunk.
   */
  private chunkCharge(bytes: number): number {
    const opened = (this.link as FrameCountingLink).framesReceived;
    let units = 1;
    if (opened !== undefined) {
      units = opened - this.framesCharged;
      this.framesCharged = opened;
    }
    return framesCharge(bytes, units);
  }

  onDrain(): void {
    this.owner.linkDrained();
  }

  onClose(error?: Error): void {
    if (error === undefined && this.owner.state !== 'closed' && this.decoder.hasParked) {
      this.heldEnd = 'closed';
      this.owner.endHeldBack();
      return;
    }
    this.heldEnd = undefined;
    this.owner.linkClosed(error);
  }

  onEnd(): void {
    if (this.decoder.hasParked) {
      this.heldEnd ??= 'ended';
      this.owner.endHeldBack();
      return;
    }
    this.owner.remoteEnded();
  }

  // ─── PacketHandler ──────────────────────────────────────────────────────────────────────────

  onMsgPacket(channelId: number, payload: Uint8Array, isLast: boolean): void {
    if (this.owner.state === 'closed') return;
    const channel = this.scheduler.channel(channelId);
    if (channel === undefined) {
      this.owner.destroy(
        new ProtocolError('ERR_UNKNOWN_CHANNEL', `Peer sent on unknown channel 0x${hex(channelId)}`, { detail: { channelId } }),
      );
      return;
    }
    const result = channel.receiveFragment(payload, isLast);
    if (result === undefined) {
      this.countTurnWork(payload.length);
      return;
    }
    if (result instanceof ProtocolError) {
      this.owner.destroy(result);
      return;
    }
    if (latencyProbeEnabled) markLatency(LatencyPoint.Unpacked);
    if (!this.limiter.unlimited) this.smallMessageCharge += messageSurcharge(result.length);
    try {
      this.handlers.onMessage(channelId, result);
    } catch (error) {
      // A throwing handler is a local bug; it costs this connection, never the process.
      this.owner.destroy(toError(error));
      return;
    }
    this.countTurnWork(payload.length);
  }

  /**
   * Counts a packet's work toward this turn (ReceiveTurns), each at least RECV_MESSAGE_MIN_CHARGE_BYTES:
   * every fragment, not only a message's last. Counted by whole messages, a flooder's 64-byte messages
   * cut into one-byte fragments counted 128 bytes for 64 packets, and a 1 MiB message so cut (a million
   * packets, 5 MiB on the wire) once, as 1 MiB: its socket's whole read (up to 2 MiB) was decoded in one
   * go, with no turn ending.
   */
  private countTurnWork(bytes: number): void {
    if (this.turns !== undefined && (this.turnWork += Math.max(bytes, RECV_MESSAGE_MIN_CHARGE_BYTES)) >= this.turns.quantumBytes) this.endTurn();
  }

  /** A quantum handed on: while other connections receive too, the rest waits for the next round. */
  private endTurn(): void {
    this.turnWork = 0;
    if (this.owner.state === 'closed' || !this.turns!.turnOver) return;
    this.pause(TURN_PAUSE_HOLDER);
    this.turns!.yieldTurn(this);
  }

  /** @internal ReceiveTurns: this connection's next turn. */
  takeTurn(): void {
    this.resume(TURN_PAUSE_HOLDER);
  }

  /**
   * Pings and pongs count toward the turn like a tiny message: no app sees them, but each is a handler
   * call, and a frame of nothing but pings (60,000 to 64 KiB) counted nothing, so a flooder's whole read
   * of them went through in one turn.
   */
  onPing(): void {
    this.owner.pingReceived();
    this.countTurnWork(0);
  }

  onPong(): void {
    this.keepAlive.onPong();
    this.countTurnWork(0);
  }

  onClosePacket(reason: Uint8Array): void {
    this.owner.destroy(remoteCloseError(reason));
  }
}
