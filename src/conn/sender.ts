import type { Link } from '../transport/link.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { LatencyPoint, latencyProbeEnabled, markLatency } from '../util/latency-probe.js';
import { MAX_BATCHES_PER_FLUSH } from './constants.js';
import type { MConnectionState } from './mconnection-types.js';
import { rateLimiter, type RateLimiter } from './rate-limiter.js';
import type { SendScheduler } from './send-scheduler.js';
import { framesCharge } from './work-charge.js';

/** What the send side needs from its connection. */
export interface SenderOwner {
  readonly state: MConnectionState;
  /** Closing, and everything accepted has been written: the link may end. */
  flushedWhileClosing(): void;
}

/**
 * The send side of an MConnection: when to flush and how. A flush packs the channels' queued packets
 * into batches of up to `maxBatchBytes` (SendScheduler picks the packets) and hands each batch to the
 * link in one write, within the send rate limit, a few batches per turn of the event loop. While the
 * link reports backpressure nothing more is packed until it drains, so a peer that does not read stalls
 * our queues, never our memory.
 */
export class Sender {
  sentBytes = 0;
  private readonly limiter: RateLimiter;
  private flushScheduled = false;
  private flushing = false;
  private waitingForDrain = false;
  /** When the link began refusing writes, until it drains: undefined while it takes them. */
  private stalledSinceMs: number | undefined;
  /**
   * A message went out at once and its burst of work may still be running: the next message is
   * coalesced instead. Cleared when the burst is known to be over (data arrived, or a flush scheduled
   * after a burst ran).
   */
  private wroteAtOnce = false;
  private rateTimer: TimerHandle | undefined;

  constructor(
    private readonly owner: SenderOwner,
    private readonly link: Link,
    private readonly scheduler: SendScheduler,
    private readonly clock: Clock,
    private readonly maxBatchBytes: number,
    sendRateBytesPerSec: number,
    now: () => number,
  ) {
    this.limiter = rateLimiter(sendRateBytesPerSec, now);
  }

  /**
   * A message was queued. When the link is idle (no flush pending, nothing unsent in the link) and no
   * message has gone out at once since the last sign of a new turn of the event loop, it goes out at
   * once, with no tick and no timer: a request/response exchange never waits. Any other message waits
   * for the flush scheduled here, which coalesces the rest of its burst, so message rates keep their
   * large batches. (A one-way lone message right after another, with nothing received in between,
   * therefore waits one tick.)
   */
  messageQueued(): void {
    if (latencyProbeEnabled) markLatency(LatencyPoint.Send);
    if (this.flushScheduled || this.flushing || this.owner.state !== 'open') return this.scheduleFlush();
    if (!this.wroteAtOnce && this.link.bufferedBytes === 0) {
      this.wroteAtOnce = true;
      this.flush();
      return;
    }
    this.scheduleFlush();
  }

  /** What this connection sends a second at most (0 = unlimited). */
  get rateBytesPerSec(): number {
    return this.limiter.bytesPerSec;
  }

  /** Data arrived: a new turn of the event loop, so the burst of the last lone write is over. */
  ioTurnBegan(): void {
    this.wroteAtOnce = false;
  }

  /** Since when the link has held what we wrote without taking more (undefined: it takes writes). */
  get writeStalledSinceMs(): number | undefined {
    return this.stalledSinceMs;
  }

  /** The link took what it had refused. */
  linkDrained(): void {
    this.waitingForDrain = false;
    this.stalledSinceMs = undefined;
    this.flush();
  }

  /** Flushes once the current burst of work is done. */
  scheduleFlush(): void {
    if (this.flushScheduled || this.owner.state === 'closed') return;
    this.flushScheduled = true;
    this.clock.afterBurst(this.flushAfterBurst);
  }

  /** Packing frees queue slots, which may enqueue (and ask to flush) right away: no nesting. */
  flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      this.flushBatches();
    } finally {
      this.flushing = false;
    }
  }

  /** The connection is closed. */
  stop(): void {
    this.clock.clearTimeout(this.rateTimer);
  }

  private readonly flushAfterBurst = (): void => {
    this.flushScheduled = false;
    this.wroteAtOnce = false;
    this.flush();
  };

  private flushBatches(): void {
    if (this.owner.state === 'closed' || this.waitingForDrain || this.rateTimer !== undefined) return;
    const limiter = this.limiter;
    for (let batches = 0; ; batches++) {
      if (batches === MAX_BATCHES_PER_FLUSH) {
        // The rest waits a turn of the event loop: see MAX_BATCHES_PER_FLUSH.
        this.scheduleFlush();
        return;
      }
      const waitMs = limiter.delayMs();
      if (waitMs > 0) {
        this.rateTimer = this.clock.setTimeout(() => {
          this.rateTimer = undefined;
          this.flush();
        }, waitMs);
        return;
      }
      const limit = limiter.unlimited ? this.maxBatchBytes : Math.min(this.maxBatchBytes, limiter.capacity);
      const batch = this.scheduler.packBatch(limit, this.link.releasesWrittenChunk === true);
      if (batch === undefined) break;
      // Charged as the peer's receive limit charges it (its frame, its small messages): paced to what a
      // peer announced it reads, a sender of small messages would otherwise overrun it several times.
      limiter.take(framesCharge(batch.length, 1) + this.scheduler.packedMessageSurcharge);
      this.scheduler.packedMessageSurcharge = 0;
      this.sentBytes += batch.length;
      const accepted = this.link.write(batch);
      this.scheduler.releaseBatch();
      if (!accepted) {
        this.waitingForDrain = true;
        this.stalledSinceMs ??= this.clock.now();
        return;
      }
    }
    if (this.owner.state === 'closing') this.owner.flushedWhileClosing();
  }
}
