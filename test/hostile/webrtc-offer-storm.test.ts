/**
 * Each offer we answer costs an RTCPeerConnection, and a browser refuses to construct its 501st until
 * garbage collection frees closed ones (Chromium 156: "Cannot create so many PeerConnections" after 500
 * made and closed in 1.2 s, possible again ~30 s later). An offer that fails at once frees its answer
 * slot at once, so the slots alone did not bound how fast a relay could make us open connections. Real
 * RTCPeerConnections (@roamhq/wrtc), counted as they are constructed.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BaseAgent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { encodeSignalMessage, type SignalData } from '../../src/webrtc/signal-messages.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { recordingConnections, rtcNode, rtcWith, startRelay, stillTakesHonestPeers, wrtc } from './webrtc-scene.js';

afterEach(stopAll);

/** A relay that sends every peer that dials it `count` offers from made-up senders, `perSecond` a second. */
class OfferStormRelay extends BaseAgent {
  readonly channels = new SignalAgent().channels;
  sent = 0;
  constructor(private readonly offer: SignalData, private readonly count: number, private readonly perSecond: number) {
    super();
  }
  override addPeer(peer: Peer): void {
    const timer = setInterval(() => {
      for (let i = 0; i < this.perSecond / 10 && this.sent < this.count; i++, this.sent++) {
        peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: randomBytes(20).toString('hex'), to: peer.id, data: this.offer }));
      }
      if (this.sent >= this.count || !peer.isConnected) clearInterval(timer);
    }, 100);
  }
  receive(): void {}
}

/** A real data-channel offer whose DTLS fingerprint is taken out: it fails as soon as it is applied. */
async function brokenOffer(): Promise<SignalData> {
  const pc = new wrtc.RTCPeerConnection();
  pc.createDataChannel('x');
  const offer = await pc.createOffer();
  pc.close();
  return { type: 'offer', sdp: offer.sdp!.replace(/a=fingerprint:[^\r\n]*\r\n/g, '') };
}

describe('a relay storming us with offers', () => {
  it('makes us open at most a burst of RTCPeerConnections for 300 failing offers from made-up senders', async () => {
    const storm = new OfferStormRelay(await brokenOffer(), 300, 100);
    const hostileRelay = await startNode({ agents: { signal: storm } });
    const honestRelay = await startRelay();
    const connections: RTCPeerConnection[] = [];
    const victim = await rtcNode(honestRelay, rtcWith(recordingConnections(connections)));
    await victim.sw.dial(hostileRelay.address);
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect(storm.sent).toBe(300);
    // Before: one RTCPeerConnection per offer.
    // 8 at once, then 12 a minute per relay (the storm takes ~3 s).
    expect(connections.length).toBeLessThanOrEqual(10);
    expect(victim.sw.getPeer(hostileRelay.key.nodeId)?.isConnected).toBe(true);
    await stillTakesHonestPeers(honestRelay, victim);
  }, 60_000);
});
