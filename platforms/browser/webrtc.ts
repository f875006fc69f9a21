import SimplePeer from 'simple-peer/simplepeer.min.js';
import { ConfigError } from '../../src/errors.js';
import { rtcConfigOf, type NodeWebRtcOptions } from '../../src/node-options.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';

/**
 * The WebRTC transport for browsers, over simple-peer and the page's own RTCPeerConnection. Add
 * `rtc.signalAgent` to the Switch (createNode does, unless `webrtc: false`).
 */
export function webrtcTransport(options: NodeWebRtcOptions = {}): WebRtcTransport {
  if (typeof (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection !== 'function') {
    throw new ConfigError('ERR_NO_TRANSPORT', 'This browser has no RTCPeerConnection: pass { webrtc: false } to createNode');
  }
  const { rtcConfig: _rtcConfig, iceServers: _iceServers, ...rest } = options;
  const config = rtcConfigOf(options) as RTCConfiguration;
  return new WebRtcTransport({
    ...rest,
    createPeer: ({ initiator }) => new SimplePeer({ initiator, trickle: true, config }) as unknown as SimplePeerLike,
  });
}
