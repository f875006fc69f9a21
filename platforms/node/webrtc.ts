import SimplePeer from 'simple-peer';
import { rtcConfigOf, type NodeWebRtcOptions } from '../../src/node-options.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { requireOptional } from './optional-dependency.js';
import { ownMachine } from './own-machine.js';

export interface NodeWebRtcTransportOptions extends NodeWebRtcOptions {
  /** An RTCPeerConnection implementation (`{ RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }`). @default require('@roamhq/wrtc') */
  wrtc?: unknown;
}

/**
 * Loads `@roamhq/wrtc` (an optional package, ~26 MB of native binary) or throws MissingDependencyError
 * naming it. Pass `{ wrtc }` to webrtcTransport to use another RTCPeerConnection implementation.
 */
export function loadWrtc(): unknown {
  return requireOptional('@roamhq/wrtc', 'WebRTC in Node (or pass { wrtc } with another RTCPeerConnection implementation)');
}

/**
 * The WebRTC transport for Node, over simple-peer and `@roamhq/wrtc`. Add `rtc.signalAgent` to the
 * Switch: `sw.addAgent('signal', rtc.signalAgent)` (createNode({ webrtc: true }) does both).
 * See WebRtcTransport for the address format.
 */
export function webrtcTransport(options: NodeWebRtcTransportOptions = {}): WebRtcTransport {
  const { wrtc = loadWrtc(), rtcConfig: _rtcConfig, iceServers: _iceServers, ...rest } = options;
  const config = rtcConfigOf(options);
  return new WebRtcTransport({
    // The system's resolver answers for `.local` names here: anyone on the LAN may name 127.0.0.1.
    allowMdnsCandidates: false,
    // Our own address reaches this machine's services as loopback does; another node here uses ephemeral ports.
    ownMachine: ownMachine(),
    ...rest,
    createPeer: ({ initiator }) =>
      new SimplePeer({ initiator, wrtc: wrtc as SimplePeer.Options['wrtc'], trickle: true, config: config as RTCConfiguration }) as unknown as SimplePeerLike,
  });
}
