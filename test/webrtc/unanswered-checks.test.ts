/**
 * The reads of slot holders' ICE checks (src/webrtc/unanswered-checks.ts) against real @roamhq/wrtc
 * RTCPeerConnections closing: our dials to made-up addresses whose forged answers name victims that
 * never answer (forged-dials.ts), ended all at once while the poll's getStats() calls are in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/errors.js';
import { WEBRTC_PROBING_DIALS } from '../../src/webrtc/candidate-targets.js';
import { WEBRTC_MAX_PENDING_DIALS } from '../../src/webrtc/constants.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { wrtcNegotiations } from '../helpers/crowded-address.js';
import { forgedDials } from '../helpers/forged-dials.js';
import { stunVictims, type StunVictims } from '../helpers/stun-victims.js';
import { waitFor } from '../helpers/wait.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

interface WatchedConnection {
  readonly iceConnectionState: string;
  readonly signalingState: string;
  getStats(): Promise<unknown>;
  close(): void;
}

/** Every RTCPeerConnection made, its getStats() calls counted: made, answered, and in flight when it was closed. */
function watchReads(onRead: () => void): { connections: WatchedConnection[]; reads: { made: number; answered: number; closedUnder: number; states: Set<string> }; watch(peer: SimplePeerLike): void } {
  const connections: WatchedConnection[] = [];
  const reads = { made: 0, answered: 0, closedUnder: 0, states: new Set<string>() };
  const watch = (peer: SimplePeerLike): void => {
    const pc = peer._pc as WatchedConnection;
    const getStats = pc.getStats.bind(pc);
    const close = pc.close.bind(pc);
    let inFlight = 0;
    connections.push(pc);
    Object.assign(pc, {
      getStats: () => {
        reads.made++;
        reads.states.add(pc.iceConnectionState);
        inFlight++;
        const read = getStats();
        const answered = (): void => {
          inFlight--;
          reads.answered++;
        };
        read.then(answered, answered);
        onRead();
        return read;
      },
      close: () => {
        if (inFlight > 0) reads.closedUnder++;
        close();
      },
    });
  };
  return { connections, reads, watch };
}

describe('the reads of slot holders whose checks get no answer', () => {
  it('never meet the close of their RTCPeerConnection: negotiations ended during a poll close once it is read, and every read is answered', async () => {
    const dials = WEBRTC_MAX_PENDING_DIALS;
    const victims: StunVictims[] = [];
    for (let i = 0; i < dials; i++) victims.push(await stunVictims(`127.0.1.${i + 1}`, 1));
    const senders = (): number => victims.reduce((sum, victim) => sum + victim.senders(), 0);
    const forged = forgedDials();
    let ended = false;
    const failAll = (): void => negotiations.failAll(new TransportError('the relay went away'));
    // The relay drops while the first poll's reads are out (after the poll has asked them all).
    const { connections, reads, watch } = watchReads(() => {
      if (ended) return;
      ended = true;
      queueMicrotask(failAll);
    });
    const negotiations = wrtcNegotiations(1, { allowLoopbackCandidates: true, dials: { total: dials, perVia: dials }, sendSignal: forged.sendSignal, onPeerCreated: watch });
    closers.push(() => {
      for (const victim of victims) victim.close();
      failAll();
    });
    const failures: Error[] = [];
    await forged.dial(negotiations, victims, (_i, error) => failures.push(error));
    await waitFor(() => senders() >= WEBRTC_PROBING_DIALS, 10_000, 'the first dials checking');
    await waitFor(() => ended, 10_000, 'a poll of the slot holders');
    await waitFor(() => failures.length === dials, 5000, 'every dial failed');
    await waitFor(() => connections.every((pc) => pc.signalingState === 'closed'), 5000, 'every RTCPeerConnection closed');
    expect(reads.made).toBeGreaterThan(0);
    // Before: each closed at once, under its read (8 of 8 in each of 3 runs).
    expect(reads.closedUnder).toBe(0);
    await waitFor(() => reads.answered === reads.made, 5000, 'every read answered');
    expect([...reads.states]).toEqual(['checking']);
  }, 60_000);
});
