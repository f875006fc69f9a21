/**
 * The soak's bookkeeping: joins what senders and receivers reported about each session (one direction
 * of one connection instance) and sorts every session into one of four kinds, first match wins:
 *
 * - killed: one end's process was SIGKILLed (or crashed, or never reported its final records). What
 *   was accepted but not received is `inFlightAtKill`: the kill took it, not the SDK. A hole in the
 *   middle of such a session (`gapsOnKilledLinks`) is still a bug: the connection was up then.
 * - unconfirmed: messages were accepted, yet nothing shows the connection was ever up at the
 *   receiving end: the receiver got nothing on it and sent nothing back on it. That is an acceptor
 *   whose dialer never finished the handshake (it timed out or was stopped after the acceptor had
 *   admitted it): the acceptor's Switch reports the peer and accepts messages before the dialer has
 *   read the admission decision.
 *   (A connection dead in both directions from its first byte would also land here: these are
 *   counted and listed, never folded into a silent total.)
 * - broken: both processes lived, yet the connection ended with an error at either end, or ended at
 *   all before the graceful stop began. Nothing in a soak closes a connection between live nodes on
 *   purpose, so such a close is abnormal even when an end saw it as clean (a remote destroy() and a
 *   graceful close look the same from the other end).
 * - stable: up at both ends from start to the graceful stop at the end. Every accepted message must
 *   arrive exactly once: anything missing is `lostOnStableLinks`.
 *
 * Duplicates are wrong on every kind. Counts for killed sessions are as of the dead process's last
 * periodic report, so `sent` and `inFlightAtKill` can be off by one report interval of traffic;
 * the other kinds are exact (both ends report everything after Switch.stop()).
 */
import type { ReceiverRecord, SenderRecord, SessionEnds } from './soak-protocol.js';

export interface SoakTotals {
  sessions: { stable: number; killed: number; unconfirmed: number; broken: number };
  sent: number;
  delivered: number;
  duplicated: number;
  lostOnStableLinks: number;
  /** Messages received on a stable session beyond what its sender counted as sent. */
  deliveredBeyondSent: number;
  /** Stable sessions that an end still reported open after Switch.stop() resolved. */
  openAfterStop: number;
  inFlightAtKill: number;
  gapsOnKilledLinks: number;
  lostOnUnconfirmedLinks: number;
  lostOnBrokenLinks: number;
  /** A few sessions that went wrong, described for a human. */
  problems: string[];
}

const MAX_PROBLEMS_LISTED = 8;

export function incarnationKey(slot: number, incarnation: number): string {
  return `${slot}:${incarnation}`;
}

function sessionKey(senderSlot: number, receiverSlot: number, nonce: string): string {
  return `${senderSlot}>${receiverSlot}#${nonce}`;
}

function describe(ends: SessionEnds): string {
  return `node ${ends.senderSlot}.${ends.senderIncarnation} → node ${ends.receiverSlot}.${ends.receiverIncarnation} (session ${ends.nonce})`;
}

export class SoakLedger {
  private readonly sessions = new Map<string, { sender?: SenderRecord; receiver?: ReceiverRecord }>();

  /** Reports carry the latest state of changed records: the newest one replaces the older. */
  record(senders: readonly SenderRecord[], receivers: readonly ReceiverRecord[]): void {
    for (const sender of senders) this.entry(sender).sender = sender;
    for (const receiver of receivers) this.entry(receiver).receiver = receiver;
  }

  private entry(ends: SessionEnds): { sender?: SenderRecord; receiver?: ReceiverRecord } {
    const key = sessionKey(ends.senderSlot, ends.receiverSlot, ends.nonce);
    let entry = this.sessions.get(key);
    if (entry === undefined) {
      entry = {};
      this.sessions.set(key, entry);
    }
    return entry;
  }

  /**
   * `finished`: incarnations (see incarnationKey) that stopped gracefully and sent their final records.
   * `stopBeganAtMs`: wall clock when the parent asked the nodes to stop.
   */
  summarize(finished: ReadonlySet<string>, stopBeganAtMs: number): SoakTotals {
    const totals: SoakTotals = {
      sessions: { stable: 0, killed: 0, unconfirmed: 0, broken: 0 },
      sent: 0,
      delivered: 0,
      duplicated: 0,
      lostOnStableLinks: 0,
      deliveredBeyondSent: 0,
      openAfterStop: 0,
      inFlightAtKill: 0,
      gapsOnKilledLinks: 0,
      lostOnUnconfirmedLinks: 0,
      lostOnBrokenLinks: 0,
      problems: [],
    };
    const problem = (text: string): void => {
      if (totals.problems.length < MAX_PROBLEMS_LISTED) totals.problems.push(text);
    };
    // Sessions whose receiving end answered on the same connection (see ReceiverRecord.replyNonce).
    const answered = new Set<string>();
    for (const { receiver } of this.sessions.values()) {
      if (receiver?.replyNonce !== undefined) answered.add(sessionKey(receiver.receiverSlot, receiver.senderSlot, receiver.replyNonce));
    }
    for (const [key, { sender, receiver }] of this.sessions) {
      const ends = (sender ?? receiver)!;
      const sent = sender?.sent ?? 0;
      const delivered = receiver?.delivered ?? 0;
      const lastSeq = receiver?.lastSeq ?? 0;
      const gaps = receiver?.gaps ?? 0;
      totals.sent += sent;
      totals.delivered += delivered;
      totals.duplicated += receiver?.duplicated ?? 0;
      if ((receiver?.duplicated ?? 0) > 0) problem(`${describe(ends)}: ${receiver!.duplicated} duplicated`);

      const bothFinished =
        finished.has(incarnationKey(ends.senderSlot, ends.senderIncarnation)) &&
        finished.has(incarnationKey(ends.receiverSlot, ends.receiverIncarnation));
      if (!bothFinished) {
        totals.sessions.killed++;
        totals.gapsOnKilledLinks += gaps;
        totals.inFlightAtKill += Math.max(0, sent - lastSeq);
        if (gaps > 0) problem(`${describe(ends)}: ${gaps} missing mid-stream before a kill`);
        continue;
      }
      if (sent > 0 && receiver === undefined && !answered.has(key)) {
        totals.sessions.unconfirmed++;
        totals.lostOnUnconfirmedLinks += sent;
        problem(`${describe(ends)}: ${sent} accepted on a connection never seen up at the receiver (${sender?.endReason ?? 'clean close'})`);
        continue;
      }
      const brokenBy = [sender, receiver].find((end) => end !== undefined && (end.end === 'error' || (end.endedAtMs ?? Infinity) < stopBeganAtMs));
      if (brokenBy !== undefined) {
        totals.sessions.broken++;
        totals.lostOnBrokenLinks += Math.max(0, sent - delivered);
        const when = brokenBy.end === 'error' ? 'errored' : `closed ${stopBeganAtMs - brokenBy.endedAtMs!} ms before the stop`;
        problem(`${describe(ends)}: connection ${when} at the ${brokenBy === sender ? 'sender' : 'receiver'} (${brokenBy.endReason ?? 'clean'}); sent ${sent}, received ${delivered}`);
        continue;
      }
      totals.sessions.stable++;
      if (sent > delivered) {
        totals.lostOnStableLinks += sent - delivered;
        problem(`${describe(ends)}: sent ${sent}, received ${delivered} (last seq ${lastSeq}, gaps ${gaps})`);
      } else if (delivered > sent) {
        totals.deliveredBeyondSent += delivered - sent;
        problem(`${describe(ends)}: received ${delivered} but only ${sent} were accepted by send()`);
      }
      if (sender?.end === 'open' || receiver?.end === 'open') {
        totals.openAfterStop++;
        problem(`${describe(ends)}: still open after Switch.stop() (sender ${sender?.end}, receiver ${receiver?.end})`);
      }
    }
    return totals;
  }
}
