import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';
import type { SimplePeerLike } from './simple-peer-like.js';

/** The part of a slot holder the poll reads (CandidateHolder, candidate-targets.ts). */
export interface PolledHolder {
  /** True when its ICE checks went out and none was answered nor came from the remote (PeerChecks). */
  checksUnanswered?(): Promise<boolean>;
  /** Ends it (and so releases its slots). */
  overstayed?(why: 'hold' | 'unanswered'): void;
}

/** The parts of an RTCPeerConnection read here (the DOM type is not in `src/`'s lib); browsers and @roamhq/wrtc alike. */
interface CheckedConnection {
  readonly iceConnectionState?: string;
  getStats?(): Promise<Map<string, unknown>>;
}

/**
 * The reads of one negotiation's ICE checks (UnansweredChecksPoll), and its close held back while one
 * runs. Only a connection whose checks are under way (`checking`) is read, never one being closed or
 * closed, one read at a time: @roamhq/wrtc may drop the answer to a getStats() in flight when its
 * RTCPeerConnection closes (the promise never settles: 930 of 1,600 reads closed at once), and a native
 * call racing a close is where its crashes live (hang-up.ts). So the negotiation's own close waits for
 * the read in flight, at most `ms` (a read takes a few ms; under a starved CPU a few hundred).
 */
export class PeerChecks {
  private reading: Promise<boolean> | undefined;

  constructor(private readonly peer: SimplePeerLike) {}

  /** `checksUnanswered`: false without a read while one runs, or when its connection is not checking. */
  unanswered(): Promise<boolean> {
    const pc = this.peer._pc as CheckedConnection | null | undefined;
    if (this.reading !== undefined || this.peer.destroyed || this.peer.destroying === true || pc?.iceConnectionState !== 'checking') return Promise.resolve(false);
    const reading = checksUnanswered(pc);
    const done = (): void => {
      if (this.reading === reading) this.reading = undefined;
    };
    this.reading = reading;
    reading.then(done, done);
    return reading;
  }

  /** Calls `close` now, or once the read in flight is answered (at most `ms` on `clock` from now). */
  closeWhenRead(close: () => void, clock: Clock, ms: number): void {
    const reading = this.reading;
    if (reading === undefined) {
      close();
      return;
    }
    let closed = false;
    const closeOnce = (): void => {
      if (closed) return;
      closed = true;
      clock.clearTimeout(handle);
      close();
    };
    const handle = clock.setTimeout(closeOnce, ms);
    reading.then(closeOnce, closeOnce);
  }
}

/**
 * Whether `pc` sent ICE checks and got no response to any, nor any check from the remote (getStats'
 * candidate pairs, in libwebrtc under @roamhq/wrtc and in browsers alike): an address that never
 * answers. False when unknown (no stats, no check sent yet).
 */
async function checksUnanswered(pc: CheckedConnection): Promise<boolean> {
  if (typeof pc.getStats !== 'function') return false;
  let sent = 0;
  for (const stat of (await pc.getStats()).values()) {
    const pair = stat as { type?: string; requestsSent?: number; responsesReceived?: number; requestsReceived?: number };
    if (pair.type !== 'candidate-pair') continue;
    if ((pair.responsesReceived ?? 0) > 0 || (pair.requestsReceived ?? 0) > 0) return false;
    sent += pair.requestsSent ?? 0;
  }
  return sent > 0;
}

/**
 * One timer for every holder of a slot others wait for (CandidateTargets): every `everyMs`, while any
 * wait, it asks each that has held its slot `afterMs` whether its checks got any answer, and ends those
 * whose got none. A victim named by an offer never answers, so its holder gives its slot back in ~1.5 s
 * rather than at the 5 s hold; an honest remote answers (or checks us) within a round trip or two of
 * its candidates. A poll asks each negotiation once however many slots it holds (≤ the negotiations in
 * flight), and one poll runs at a time: a remote makes it no costlier.
 */
export class UnansweredChecksPoll {
  private timer: { clock: Clock; handle: TimerHandle } | undefined;
  private polling = false;

  /** `contested`: the holders of slots others wait for → since when they hold one (monotonic ms). */
  constructor(
    private readonly contested: () => Map<PolledHolder, number>,
    private readonly afterMs: number,
    private readonly everyMs: number,
  ) {}

  /** Polls after `everyMs` on `clock`, unless a poll is due already. */
  arm(clock: Clock): void {
    if (this.timer !== undefined || this.polling) return;
    this.timer = { clock, handle: clock.setTimeout(() => void this.poll(clock), this.everyMs) };
  }

  private async poll(clock: Clock): Promise<void> {
    this.timer = undefined;
    const now = monotonicNow(clock);
    const due = [...this.contested()].filter(([holder, since]) => now - since >= this.afterMs && holder.checksUnanswered !== undefined && holder.overstayed !== undefined);
    this.polling = true;
    try {
      const verdicts = await Promise.all(due.map(([holder]) => withinPoll(holder.checksUnanswered!(), clock, this.everyMs)));
      // Read afresh: a slot may have been given back, or its waiters gone, while getStats ran.
      const stillContested = this.contested();
      due.forEach(([holder], i) => {
        if (verdicts[i] === true && stillContested.has(holder)) holder.overstayed!('unanswered');
      });
    } finally {
      this.polling = false;
    }
    if (this.contested().size > 0) this.arm(clock);
  }
}

/** `verdict`, or false when it has not come within `ms` (or failed: a closed RTCPeerConnection). */
function withinPoll(verdict: Promise<boolean>, clock: Clock, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const handle = clock.setTimeout(() => resolve(false), ms);
    verdict.then(
      (value) => {
        clock.clearTimeout(handle);
        resolve(value);
      },
      () => {
        clock.clearTimeout(handle);
        resolve(false);
      },
    );
  });
}
