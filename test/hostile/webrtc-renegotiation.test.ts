/**
 * A negotiation takes one remote description. A remote that sends us offer after offer into the one we
 * answer (each an ICE restart: new credentials) had our RTCPeerConnection renegotiate on each: a new
 * answer, a new round of gathering (new sockets) and its candidates, sent back through the relay at our
 * pace. Real RTCPeerConnections (@roamhq/wrtc), a real relay over TCP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WEBRTC_ANSWERS_BURST_PER_VIA } from '../../src/webrtc/constants.js';
import { SignalAgent, type IncomingSignal } from '../../src/webrtc/signal-agent.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { recordingConnections, rtcNode, rtcWith, startRelay, stillTakesHonestPeers, wrtc } from './webrtc-scene.js';

afterEach(stopAll);

const RESTARTS = 40;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a WebRTC remote renegotiating the negotiation we answer', () => {
  it(`ends it at its second offer: ${RESTARTS} ICE restarts draw one answer per RTCPeerConnection, within the answer allowance`, async () => {
    const relay = await startRelay();
    const connections: RTCPeerConnection[] = [];
    const victim = await rtcNode(relay, rtcWith(recordingConnections(connections)));
    // The attacker signals by hand: offers from its own RTCPeerConnection, and counts what comes back.
    const received: IncomingSignal[] = [];
    const signal = new SignalAgent({ onSignal: (incoming) => received.push(incoming) });
    const attacker = await startNode({ agents: { signal } });
    await attacker.sw.dial(relay.address);
    const pc = new wrtc.RTCPeerConnection();
    try {
      pc.createDataChannel('meshlink');
      const offer = async (iceRestart: boolean): Promise<void> => {
        const description = await pc.createOffer({ iceRestart });
        await pc.setLocalDescription(description);
        expect(signal.sendSignal(relay.key.nodeId, victim.key.nodeId, { type: 'offer', sdp: description.sdp! })).toBe(true);
      };
      await offer(false);
      await waitFor(() => received.some((incoming) => incoming.data.type === 'answer'), 5000, 'the answer to the first offer');
      for (let i = 0; i < RESTARTS; i++) {
        await offer(true);
        await sleep(100);
      }
      await sleep(2000);
      const answers = received.filter((incoming) => incoming.data.type === 'answer').length;
      // Before: one RTCPeerConnection answered all 41 (23 answers here 2 s after the last offer, the rest
      // waiting behind our pace; 8 candidates each) and gathered afresh for each: 20 restarts held 274
      // sockets more, 63 (the 64-signal cap) 802, until the negotiation ended. Now a second
      // offer ends the negotiation, and the next one is a new offer: it takes from the answer allowance.
      expect(connections.length, 'RTCPeerConnections').toBeLessThanOrEqual(WEBRTC_ANSWERS_BURST_PER_VIA + 1);
      expect(answers, 'answers').toBeLessThanOrEqual(connections.length);
      await waitFor(() => connections.slice(0, -1).every((connection) => connection.signalingState === 'closed'), 5000, 'the renegotiated RTCPeerConnections closed');
      expect(victim.sw.getPeer(relay.key.nodeId)?.isConnected).toBe(true);
    } finally {
      pc.close();
    }
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);
});
