import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';
import type { SimplePeerLike } from './simple-peer-like.js';

/** The part of a slot holder the poll reads (CandidateHolder, candidate-targets.ts). */
export interface PolledHolder {
  /** True when its ICE checks went out and none was answered nor came from the remote (`checksUnanswered`). */
  checksUnanswered?(): Promise<boolean>;
  /** Ends it (and so releases its slots). */
  overstayed?(why: 'hold' | 'unanswered'): void;
}

/**
 * Whether `peer`'s RTCPeerConnection sent ICE checks and got no response to any, nor any check from the
 * remote (getStats' candidate pairs, in libwebrtc under @roamhq/wrtc and in browsers alike): an address
 * that never answers. False when unknown (no RTCPeerConnection, no stats, no check sent yet).
 */
export async function checksUnanswered(peer: SimplePeerLike): Promise<boolean> {
  const pc = peer._pc as { getStats?: () => Promise<Map<string, unknown>> } | null | undefined;
  if (typeof pc?.getStats !== 'function') return false;
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
