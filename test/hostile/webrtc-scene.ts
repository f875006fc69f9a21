/** Nodes for the hostile WebRTC tests: a relay's peers with real data channels (@roamhq/wrtc). */
export { rtcNode, startRelay } from './webrtc-nodes.js';
import { createRequire } from 'node:module';
import { expect } from 'vitest';
import type { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { bytes, type TestNode } from '../helpers/nodes.js';
import { rtcNode } from './webrtc-nodes.js';
import { waitFor } from '../helpers/wait.js';

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

/** Every error the node reports about links and peers: inbound upgrades refused and peers cut. */
export function errorsOf(node: TestNode): Error[] {
  const errors: Error[] = [];
  node.sw.on('inbound:rejected', ({ error }) => errors.push(error));
  node.sw.on('peer:error', ({ error }) => errors.push(error));
  return errors;
}

/** The guard's reason, wherever the error that carried it was wrapped. */
export function reasonsOf(errors: Error[]): unknown[] {
  const reasons: unknown[] = [];
  for (const error of errors) {
    for (let e: unknown = error; e instanceof Error; e = e.cause) {
      const reason = (e as { detail?: { reason?: unknown } }).detail?.reason ?? (e as { reason?: unknown }).reason;
      if (reason !== undefined) reasons.push(reason);
    }
  }
  return reasons;
}
