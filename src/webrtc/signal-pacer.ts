import type { Peer } from '../switch/peer.js';
import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';

/** A signal waiting for its turn; `onLost` hears if it cannot go after all, or is no longer `wanted`. */
interface Waiting {
  readonly message: Uint8Array;
  readonly onLost: (() => void) | undefined;
  readonly wanted: (() => boolean) | undefined;
}

/** The pace toward one peer: signals a millisecond, sustained, and at once. */
export interface Pace {
  readonly ratePerMs: number;
  readonly burst: number;
}

/** What we send to one peer: its pace and bucket, the signals waiting, and the timer for the next turn. */
interface Lane {
  readonly pace: Pace;
  /** Signals that may wait: what the pace sends within `maxWaitMs`, at most `maxWaiting`. */
  readonly maxWaiting: number;
  readonly bucket: TokenBucketState;
  readonly waiting: Waiting[];
  timer: TimerHandle | undefined;
}

export interface SignalPacerOptions {
  /** The pace toward `peer` (what it announced it takes, bounded), asked once per peer. */
  paceOf(peer: Peer): Pace;
  /** Signals that may wait for one peer; past them a send is refused. */
  maxWaiting: number;
  /** …and no more than its pace sends in this long (a signal waiting longer would outlive its negotiation). */
  maxWaitMs: number;
  clock: () => Clock;
  /** The actual send (trySend on the signalling channel); false when it could not go. */
  send(peer: Peer, message: Uint8Array): boolean;
}

/**
 * Paces what we originate to each peer (our offers, answers and candidates through it, our
 * `unreachable` replies to it) below what that peer takes from us: a SignalAgent stops a peer that
 * originates more than its bucket (ERR_RATE_LIMIT). One WebRTC answer or dial is an SDP and a dozen
 * or more trickled candidates (14 in Node here), so eight peers of an honest relay each offering us
 * once, or eight dials of ours through it, passed its burst of 100 at once, and the relay cut us.
 * Each peer's pace is its own (what it announced it takes, bounded): signals past it wait their turn in
 * that peer's lane, at most `maxWaiting` and what the pace sends in `maxWaitMs`; past that a send is
 * refused at once. A slow peer's lane holds only signals to it: others' lanes never wait behind it.
 */
export class SignalPacer {
  private readonly lanes = new Map<Peer, Lane>();

  constructor(private readonly options: SignalPacerOptions) {}

  /**
   * Sends `message` to `peer` now or when its turn comes. False when it cannot: the send was refused,
   * too many wait already, or (`mayWait` false) it cannot go at once. `onLost` hears of a signal that
   * waited and could not go (the peer left, its send queue was full), or that `wanted` no longer wants
   * when its turn comes (its negotiation is over): such a one takes no turn.
   */
  send(peer: Peer, message: Uint8Array, onLost?: () => void, mayWait = true, wanted?: () => boolean): boolean {
    const lane = this.laneOf(peer);
    if (lane.waiting.length === 0 && this.refill(lane)) {
      if (!this.options.send(peer, message)) return false;
      lane.bucket.tokens -= 1;
      return true;
    }
    if (!mayWait || lane.waiting.length >= lane.maxWaiting) return false;
    lane.waiting.push({ message, onLost, wanted });
    this.schedule(peer, lane);
    return true;
  }

  /** The peer is gone: what waited for it is lost. */
  forget(peer: Peer): void {
    const lane = this.lanes.get(peer);
    if (lane === undefined) return;
    this.lanes.delete(peer);
    this.options.clock().clearTimeout(lane.timer);
    for (const { onLost } of lane.waiting.splice(0)) onLost?.();
  }

  /** Every peer is gone (the agent stops). */
  stop(): void {
    for (const peer of [...this.lanes.keys()]) this.forget(peer);
  }

  private laneOf(peer: Peer): Lane {
    let lane = this.lanes.get(peer);
    if (lane === undefined) {
      const pace = this.options.paceOf(peer);
      const maxWaiting = Math.min(this.options.maxWaiting, Math.max(pace.burst, Math.floor(pace.ratePerMs * this.options.maxWaitMs)));
      this.lanes.set(peer, (lane = { pace, maxWaiting, bucket: fullBucket(pace.burst, monotonicNow(this.options.clock())), waiting: [], timer: undefined }));
    }
    return lane;
  }

  private refill(lane: Lane): boolean {
    return refillBucket(lane.bucket, lane.pace.burst, lane.pace.ratePerMs, monotonicNow(this.options.clock()));
  }

  private schedule(peer: Peer, lane: Lane): void {
    if (lane.timer !== undefined) return;
    const waitMs = Math.max(1, Math.ceil((1 - lane.bucket.tokens) / lane.pace.ratePerMs));
    lane.timer = this.options.clock().setTimeout(() => {
      lane.timer = undefined;
      this.sendWaiting(peer, lane);
    }, waitMs);
  }

  /** Sends what the bucket allows now, in order; reschedules for the rest. */
  private sendWaiting(peer: Peer, lane: Lane): void {
    while (lane.waiting.length > 0 && this.refill(lane)) {
      const next = lane.waiting.shift()!;
      if (next.wanted?.() === false) {
        next.onLost?.();
        continue;
      }
      lane.bucket.tokens -= 1;
      if (!this.options.send(peer, next.message)) next.onLost?.();
    }
    if (lane.waiting.length > 0) this.schedule(peer, lane);
  }
}
