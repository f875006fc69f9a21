import { TimeoutError } from '../errors.js';
import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';

/** What the keep-alive needs from its connection. */
export interface KeepAliveOwner {
  /** Whether pings should still go out (false once the connection is closing or closed). */
  readonly isOpen: boolean;
  /** Queue a ping packet to go out with the next batch. */
  queuePing(): void;
  /** Since when the link has taken none of our writes (undefined while it takes them). */
  readonly writeStalledSinceMs: number | undefined;
  /** No pong came in time: end the connection with this error. */
  destroy(error: Error): void;
}

/**
 * Ping/pong for one connection: a ping every `pingIntervalMs`, and the connection fails with
 * TimeoutError ERR_PONG_TIMEOUT when its pong does not come within `pongTimeoutMs`. One ping is
 * outstanding at a time; a pong nobody asked for is ignored. A pong proves nothing when the peer has
 * read none of what we wrote for longer than an honest non-reader would have lasted (pingIntervalMs +
 * pongTimeoutMs): pongs sent blindly cannot keep such a peer, and our queues for it, alive.
 */
/** Ticks seeing one write stall after which the peer is cut, whatever the wall clock (see stallTicks). */
const STALL_TICKS_TO_CUT = 3;

export class KeepAlive {
  private pingTimer: TimerHandle | undefined;
  private pongTimer: TimerHandle | undefined;
  /** When the outstanding ping went out, on the clock's monotonicNow(): a wall-clock step is no round trip. */
  private pingSentAtMonotonicMs = 0;
  /**
   * The stall (by its start) the previous tick saw. The stall is measured on the wall clock, which may
   * step forward (NTP, a VM catching up); a stall counts only once a tick has seen it before, so that it
   * has lasted a real ping interval (timers do not step). Without a step nothing changes: a stall of
   * pingIntervalMs + pongTimeoutMs was there at the previous tick too.
   */
  private stallSeenAtLastTick: number | undefined;
  /**
   * Consecutive ticks that saw that same stall. Three span two real ping intervals, past the horizon
   * (pongTimeoutMs < pingIntervalMs) whatever the wall clock says: one stepping back must not spare a
   * non-reader until it catches up.
   */
  private stallTicks = 0;
  /** Round trip of the last answered ping, in ms; undefined before the first pong. */
  lastRttMs: number | undefined;
  /**
   * Probes waiting for the next pong (see `probe`). At most one per admission of this peer's key, and a
   * Switch admits one at a time per key, so this stays tiny; each has its own timer.
   */
  private readonly probes = new Set<(answered: boolean) => void>();

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
    this.settleProbes(false);
  }

  /** A pong arrived. */
  onPong(): void {
    if (this.pongTimer === undefined) return; // unsolicited pongs are harmless; ignore them
    this.clock.clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
    this.lastRttMs = monotonicNow(this.clock) - this.pingSentAtMonotonicMs;
    this.settleProbes(true);
  }

  /**
   * Pings now (or waits on the ping already out) and resolves whether its pong comes within
   * `timeoutMs`; false too once the connection stops. It does not end the connection itself: the caller
   * decides what a silent peer means (the regular pong timeout still applies to the ping).
   */
  probe(timeoutMs: number): Promise<boolean> {
    if (!this.owner.isOpen) return Promise.resolve(false);
    return new Promise((resolve) => {
      const settle = (answered: boolean): void => {
        this.clock.clearTimeout(timer);
        this.probes.delete(settle);
        resolve(answered);
      };
      const timer = this.clock.setTimeout(() => settle(false), timeoutMs);
      this.probes.add(settle);
      if (this.pongTimer === undefined) this.sendPing();
    });
  }

  private settleProbes(answered: boolean): void {
    for (const settle of [...this.probes]) settle(answered);
  }

  private ping(): void {
    if (!this.owner.isOpen) return;
    const stalledSince = this.owner.writeStalledSinceMs;
    const seenBefore = stalledSince !== undefined && stalledSince === this.stallSeenAtLastTick;
    this.stallSeenAtLastTick = stalledSince;
    this.stallTicks = stalledSince === undefined ? 0 : seenBefore ? this.stallTicks + 1 : 1;
    const stalledMs = stalledSince === undefined ? 0 : this.clock.now() - stalledSince;
    if ((seenBefore && stalledMs >= this.pingIntervalMs + this.pongTimeoutMs) || this.stallTicks >= STALL_TICKS_TO_CUT) {
      this.owner.destroy(
        new TimeoutError(`Peer read nothing we sent for ${stalledMs} ms (its pongs cannot be answers to our pings)`, {
          code: 'ERR_PONG_TIMEOUT',
          detail: { stalledMs, pongTimeoutMs: this.pongTimeoutMs },
        }),
      );
      return;
    }
    if (this.pongTimer !== undefined) return;
    this.sendPing();
  }

  private sendPing(): void {
    this.pingSentAtMonotonicMs = monotonicNow(this.clock);
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
