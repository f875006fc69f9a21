/**
 * Our own dials to made-up `webrtc://<id>?via=<relay>` addresses (PEX hands them out), whose relay forges
 * answers naming a spread of victim addresses, one each (src/webrtc/candidate-targets.ts
 * WEBRTC_PROBING_DIALS): real @roamhq/wrtc dials, UDP sockets on loopback addresses counting the
 * RTCPeerConnections whose checks reach them by STUN USERNAME.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/errors.js';
import { systemClock } from '../../src/util/clock.js';
import { WEBRTC_PROBING_DIALS } from '../../src/webrtc/candidate-targets.js';
import { WEBRTC_MAX_PENDING_DIALS } from '../../src/webrtc/constants.js';
import type { Negotiations } from '../../src/webrtc/negotiations.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import type { WebRtcLink } from '../../src/webrtc/webrtc-link.js';
import { wrtcNegotiations } from '../helpers/crowded-address.js';
import { forgedDials } from '../helpers/forged-dials.js';
import { stunVictims, type StunVictims } from '../helpers/stun-victims.js';
import { waitFor } from '../helpers/wait.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

describe('our dials whose forged answers name a spread of addresses that never answer', () => {
  it(`check ${WEBRTC_PROBING_DIALS} of ${WEBRTC_MAX_PENDING_DIALS} addresses at once; the others get the slots of dials whose checks get no answer`, async () => {
    const dials = WEBRTC_MAX_PENDING_DIALS;
    const victims: StunVictims[] = [];
    for (let i = 0; i < dials; i++) victims.push(await stunVictims(`127.0.1.${i + 1}`, 1));
    const senders = (): number => victims.reduce((sum, victim) => sum + victim.senders(), 0);
    const forged = forgedDials();
    const negotiations = wrtcNegotiations(1, { allowLoopbackCandidates: true, dials: { total: dials, perVia: dials }, sendSignal: forged.sendSignal });
    closers.push(() => {
      for (const victim of victims) victim.close();
      negotiations.failAll(new TransportError('test over'));
    });
    const failures = new Map<number, Error>();
    await forged.dial(negotiations, victims, (i, error) => failures.set(i, error));
    await waitFor(() => senders() >= WEBRTC_PROBING_DIALS, 10_000, 'the first dials checking');
    // Before: all 16 RTCPeerConnections checked theirs at once (~21 datagrams a second each, ~336 in all).
    expect(senders()).toBe(WEBRTC_PROBING_DIALS);
    expect(failures.size).toBe(0);
    await waitFor(() => senders() === dials, 10_000, 'the waiting candidates checked');
    // The first 8 gave their slots back as their checks went unanswered. On a starved CPU one that took a
    // slot while others still waited may have been ended too (1 of 20 runs): it checked first all the same.
    for (let i = 0; i < WEBRTC_PROBING_DIALS; i++) expect(failures.has(i), `dial ${i} ended`).toBe(true);
    for (const error of failures.values()) {
      expect(error).toMatchObject({ detail: { reason: 'crowded-address' } });
      expect(error.message).toContain('no answer to its ICE checks');
    }
  }, 60_000);

  it(`let an honest dial link while forged answers hold all ${WEBRTC_PROBING_DIALS} probing slots: its remote's checks reach us`, async () => {
    const victims: StunVictims[] = [];
    for (let i = 0; i < WEBRTC_PROBING_DIALS; i++) victims.push(await stunVictims(`127.0.1.${i + 1}`, 1));
    const senders = (): number => victims.reduce((sum, victim) => sum + victim.senders(), 0);
    let theirs: Negotiations | undefined;
    const forged = forgedDials((_via, _remote, data: SignalData) => {
      let answering = theirs!.get('relay', 'us');
      answering ??= theirs!.start({ initiator: false, via: 'relay', remote: 'us', clock: systemClock, timeoutMs: 30_000, onConnected: (link) => link.destroy() });
      answering.signal(data);
      return true;
    });
    const ours = wrtcNegotiations(1, { allowLoopbackCandidates: true, dials: { total: WEBRTC_MAX_PENDING_DIALS, perVia: WEBRTC_MAX_PENDING_DIALS }, sendSignal: forged.sendSignal });
    theirs = wrtcNegotiations(1, { sendSignal: (_via, _remote, data: SignalData) => (ours.get('relay', 'honest')?.signal(data), true) });
    closers.push(() => {
      for (const victim of victims) victim.close();
      ours.failAll(new TransportError('test over'));
      theirs?.failAll(new TransportError('test over'));
    });
    await forged.dial(ours, victims);
    await waitFor(() => senders() === WEBRTC_PROBING_DIALS, 10_000, 'every probing slot of our dials taken');
    const linked = await new Promise<WebRtcLink | Error>((resolve) => {
      ours.start({ initiator: true, via: 'relay', remote: 'honest', clock: systemClock, timeoutMs: 10_000, onConnected: resolve, onFailed: resolve });
    });
    expect(linked).not.toBeInstanceOf(Error);
    (linked as WebRtcLink).destroy();
  }, 60_000);
});
