/** Nodes for the hostile WebRTC tests: a relay's peers with real data channels (@roamhq/wrtc). */
import { createRequire } from 'node:module';
import { expect } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import type { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { bytes, startNode, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

/** A relay: a node that forwards signalling between its peers. */
export function startRelay(): Promise<TestNode> {
  return startNode({ agents: { signal: new SignalAgent() } });
}

/** A node taking WebRTC offers over `rtc` (an honest transport by default), connected to `relay`. */
export async function rtcNode(relay: TestNode, rtc: WebRtcTransport = webrtcTransport()): Promise<TestNode> {
  const key = generateNodeKey();
  const node = await startNode({
    identity: key,
    transports: [tcpTransport(), rtc],
    listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`],
    agents: { signal: rtc.signalAgent },
  });
  await node.sw.dial(relay.address);
  return node;
}

/** The victim still links with an honest WebRTC peer through the relay, and hears it. */
export async function stillTakesHonestPeers(relay: TestNode, victim: TestNode): Promise<void> {
  const honest = await rtcNode(relay);
  const peer = await honest.sw.dial(`webrtc://${victim.key.nodeId}?via=${relay.key.nodeId}`);
  expect(peer.transport).toBe('webrtc');
  expect(await peer.send(0x20, bytes(100, 5))).toBe(true);
  await waitFor(() => victim.agent.messages.some((m) => m.peer.id === honest.key.nodeId), 8000, 'the honest peer heard');
  expect(victim.sw.getPeer(relay.key.nodeId)?.isConnected).toBe(true);
}

export type PeerConnectionClass = new (config?: RTCConfiguration) => RTCPeerConnection;
export const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as { RTCPeerConnection: PeerConnectionClass };

/** A WebRTC transport over @roamhq/wrtc with another RTCPeerConnection class (an attacker's, or a recording one). */
export function rtcWith(RTCPeerConnection: PeerConnectionClass): WebRtcTransport {
  return webrtcTransport({ wrtc: { ...wrtc, RTCPeerConnection } });
}

/** An honest RTCPeerConnection that records itself in `connections` and lets `watch` listen to it. */
export function recordingConnections(connections: RTCPeerConnection[], watch: (pc: RTCPeerConnection) => void = () => {}): PeerConnectionClass {
  return class extends wrtc.RTCPeerConnection {
    constructor(config?: RTCConfiguration) {
      super(config);
      connections.push(this);
      watch(this);
    }
  };
}
