/**
 * A remote address named through many ports, one per negotiation (src/webrtc/remote-candidates.ts
 * CandidateTargets): real @roamhq/wrtc answers to offers whose ICE credentials no check satisfies, UDP
 * sockets on this machine's address counting the RTCPeerConnections whose checks reach them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS } from '../../src/webrtc/remote-candidates.js';
import { TransportError } from '../../src/errors.js';
import type { Negotiation } from '../../src/webrtc/negotiations.js';
import { answer, falseCredentialOffer, offerNaming, ownAddress, wrtcNegotiations } from '../helpers/crowded-address.js';
import { stunVictims } from '../helpers/stun-victims.js';
import { waitFor } from '../helpers/wait.js';

const ANSWERS = 32;
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('an address named through many ports', () => {
  it(`is checked by ${WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS} of ${ANSWERS} answers at once; the others' candidates wait and are checked as those end`, async () => {
    const victims = await stunVictims(ownAddress(), ANSWERS);
    const negotiations = wrtcNegotiations(ANSWERS);
    const offer = await falseCredentialOffer();
    const started: Negotiation[] = [];
    closers.push(() => {
      victims.close();
      negotiations.failAll(new TransportError('test over'));
    });
    for (let i = 0; i < ANSWERS; i++) started.push(answer(negotiations, `attacker-${i}`, offerNaming(offer, ownAddress(), victims.ports[i]!), 60_000));
    await waitFor(() => victims.senders() > 0, 10_000, 'a check at the victim address');
    await sleep(3000);
    // Before: all 32 RTCPeerConnections checked it (~21 datagrams a second each: 670 a second).
    expect(victims.senders()).toBe(WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS);
    // The holders end: as many waiting candidates go to their RTCPeerConnections, which check them.
    for (const negotiation of started.slice(0, WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS)) negotiation.fail(new TransportError('holder gave up'));
    await waitFor(() => victims.senders() === 2 * WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS, 10_000, 'the waiting candidates checked');
    await sleep(2000);
    expect([victims.senders(), victims.reached()]).toEqual([2 * WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS, 2 * WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS]);
  }, 60_000);
});
