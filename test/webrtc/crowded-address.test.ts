/**
 * A remote address named through many ports, one per negotiation (src/webrtc/remote-candidates.ts
 * CandidateTargets): real @roamhq/wrtc answers to offers whose ICE credentials no check satisfies, UDP
 * sockets on this machine's address counting the RTCPeerConnections whose checks reach them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WEBRTC_CROWDED_ADDRESS_HOLD_MS, WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS } from '../../src/webrtc/candidate-targets.js';
import { TransportError } from '../../src/errors.js';
import { answer, falseCredentialOffer, offerNaming, ownAddress, wrtcNegotiations } from '../helpers/crowded-address.js';
import { stunVictims } from '../helpers/stun-victims.js';
import { waitFor } from '../helpers/wait.js';

const ANSWERS = 32;
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

describe('an address named through many ports', () => {
  it(`is checked by ${WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS} of ${ANSWERS} answers at once; the others' candidates wait, and get the slots of holders whose checks get no answer (before the ${WEBRTC_CROWDED_ADDRESS_HOLD_MS} ms hold)`, async () => {
    const victims = await stunVictims(ownAddress(), ANSWERS);
    const negotiations = wrtcNegotiations(ANSWERS);
    const offer = await falseCredentialOffer();
    const failures = new Map<number, unknown>();
    closers.push(() => {
      victims.close();
      negotiations.failAll(new TransportError('test over'));
    });
    for (let i = 0; i < ANSWERS; i++) answer(negotiations, `attacker-${i}`, offerNaming(offer, ownAddress(), victims.ports[i]!), 60_000, (error) => failures.set(i, error));
    await waitFor(() => victims.senders() >= WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS, 10_000, 'checks at the victim address');
    // Before: all 32 RTCPeerConnections checked it (~21 datagrams a second each: 670 a second).
    expect(victims.senders()).toBe(WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS);
    expect(failures.size).toBe(0);
    // The holders' checks got no answer (before: the 5 s hold): they end, and as many waiting candidates go to their RTCPeerConnections.
    await waitFor(() => victims.senders() === 2 * WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS, 10_000, 'the waiting candidates checked');
    expect([...failures.keys()]).toEqual([0, 1, 2, 3]);
    expect([...failures.values()]).toMatchObject(Array(WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS).fill({ detail: { reason: 'crowded-address' }, message: expect.stringContaining('no answer to its ICE checks') }));
    expect(victims.reached()).toBe(victims.senders());
  }, 60_000);
});
