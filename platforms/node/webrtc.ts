import { createRequire } from 'node:module';
import SimplePeer from 'simple-peer';
import { ConfigError } from '../../src/errors.js';
import type { SimplePeerLike } from '../../src/transport/webrtc/simple-peer-like.js';
import { WebRtcTransport, type WebRtcTransportOptions } from '../../src/transport/webrtc/webrtc-transport.js';

export interface NodeWebRtcOptions extends Omit<WebRtcTransportOptions, 'createPeer'> {
  /** An RTCPeerConnection implementation (`{ RTCPeerConnection, RTCSessionDescription, RTCIceCandidate }`). @default require('@roamhq/wrtc') */
  wrtc?: unknown;
  /** RTCPeerConnection configuration. Add STUN/TURN servers for peers behind NATs. @default { iceServers: [] } */
  rtcConfig?: { iceServers?: unknown[] } & Record<string, unknown>;
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
 * Switch: `sw.addAgent('signal', rtc.signalAgent)`. See WebRtcTransport for the address format.
 */
export function webrtcTransport(options: NodeWebRtcOptions = {}): WebRtcTransport {
  const { wrtc = loadWrtc(), rtcConfig = { iceServers: [] }, ...rest } = options;
  return new WebRtcTransport({
    ...rest,
    createPeer: ({ initiator }) =>
      new SimplePeer({ initiator, wrtc: wrtc as SimplePeer.Options['wrtc'], trickle: true, config: rtcConfig as RTCConfiguration }) as unknown as SimplePeerLike,
  });
}
