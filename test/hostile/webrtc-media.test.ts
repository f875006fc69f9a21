/**
 * Our WebRTC links carry one data channel and nothing else. A remote whose offer or answer asks for
 * audio or video would have our RTCPeerConnection set up receivers (and, in a browser, decode whatever
 * media the remote then streams at it): such a description is refused before it reaches the
 * RTCPeerConnection. Real RTCPeerConnections (@roamhq/wrtc).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { recordingConnections, rtcNode, rtcWith, startRelay, stillTakesHonestPeers, wrtc } from './webrtc-scene.js';

afterEach(stopAll);


/** Offers (or answers) with an audio and a video section beside the data channel. */
const askingForMedia = class extends wrtc.RTCPeerConnection {
  constructor(config?: RTCConfiguration) {
    super(config);
    this.addTransceiver('audio', { direction: 'sendonly' });
    this.addTransceiver('video', { direction: 'sendonly' });
  }
};

describe('a WebRTC remote asking for media', () => {
  it('refuses an offer with audio and video sections: no receiver is set up, the offer is not answered', async () => {
    const relay = await startRelay();
    const connections: RTCPeerConnection[] = [];
    const tracks: MediaStreamTrack[] = [];
    const victim = await rtcNode(relay, rtcWith(recordingConnections(connections, (pc) => pc.addEventListener('track', (event) => tracks.push((event as RTCTrackEvent).track)))));
    const attacker = await rtcNode(relay, rtcWith(askingForMedia));
    const dial = await attacker.sw.dial(`webrtc://${victim.key.nodeId}?via=${relay.key.nodeId}`).then(
      () => 'connected',
      (error: Error) => error,
    );
    // Before: answered with two receivers (two tracks), and connected.
    expect(dial).not.toBe('connected');
    expect(tracks).toHaveLength(0);
    await waitFor(() => connections.every((pc) => pc.signalingState === 'closed'), 15_000, 'the victim closes its RTCPeerConnection');
    expect(connections.every((pc) => pc.getTransceivers().length === 0)).toBe(true);
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);
});
