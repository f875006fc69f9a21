import { TimeoutError } from '../errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';

/** What the keep-alive needs from its connection. */
export interface KeepAliveOwner {
  /** Whether pings should still go out (false once the connection is closing or closed). */
  readonly isOpen: boolean;
  /** Queue a ping packet to go out with the next batch. */
  queuePing(): void;
  /** No pong came in time: end the connection with this error. */
  destroy(error: Error): void;
}

/**
 * Ping/pong for one connection: a ping every `pingIntervalMs`, and the connection fails with
 * TimeoutError ERR_PONG_TIMEOUT when its pong does not come within `pongTimeoutMs`. One ping is
 * outstanding at a time; a pong nobody asked for is ignored.
 */
export class KeepAlive {
  private pingTimer: TimerHandle | undefined;
  private pongTimer: TimerHandle | undefined;
  private pingSentAtMs = 0;
  /** Round trip of the last answered ping, in ms; undefined before the first pong. */
  lastRttMs: number | undefined;

  constructor(
    private readonly owner: KeepAliveOwner,
    private readonly clock: Clock,
    private readonly pingIntervalMs: number,
    private readonly pongTimeoutMs: number,
  ) {}

  start(): void {
    if (this.pingTimer !== undefined) return;
    this.pingTimer = this.clock.setInterval(() => this.ping(), this.pingIntervalMs);
  }

  stop(): void {
    this.clock.clearInterval(this.pingTimer);
    this.clock.clearTimeout(this.pongTimer);
    this.pingTimer = undefined;
    this.pongTimer = undefined;
  }

  /** A pong arrived. */
  onPong(): void {
    if (this.pongTimer === undefined) return; // unsolicited pongs are harmless; ignore them
    this.clock.clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
    this.lastRttMs = this.clock.now() - this.pingSentAtMs;
  }

  private ping(): void {
    if (!this.owner.isOpen || this.pongTimer !== undefined) return;
    this.pingSentAtMs = this.clock.now();
    this.pongTimer = this.clock.setTimeout(() => {
      this.owner.destroy(
        new TimeoutError(`No pong within ${this.pongTimeoutMs} ms`, {
          code: 'ERR_PONG_TIMEOUT',
          detail: { pongTimeoutMs: this.pongTimeoutMs },
        }),
      );
    }, this.pongTimeoutMs);
    this.owner.queuePing();
  }
}
