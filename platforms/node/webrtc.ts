import { createRequire } from 'node:module';
import SimplePeer from 'simple-peer';
import { ConfigError } from '../../src/errors.js';
import { rtcConfigOf, type NodeWebRtcOptions } from '../../src/node-options.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';

export interface NodeWebRtcTransportOptions extends NodeWebRtcOptions {
  /** An RTCPeerConnection implementation (`{ RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }`). @default require('@roamhq/wrtc') */
  wrtc?: unknown;
}

/** Loads `@roamhq/wrtc` (an optional dependency) or throws ConfigError naming the fix. */
export function loadWrtc(): unknown {
  try {
    return createRequire(import.meta.url)('@roamhq/wrtc');
  } catch (error) {
    throw new ConfigError('ERR_INVALID_CONFIG', 'WebRTC in Node needs @roamhq/wrtc: `npm install @roamhq/wrtc`, or pass { wrtc }', { cause: error });
  }
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
    ...rest,
    createPeer: ({ initiator }) =>
      new SimplePeer({ initiator, wrtc: wrtc as SimplePeer.Options['wrtc'], trickle: true, config: config as RTCConfiguration }) as unknown as SimplePeerLike,
  });
}
