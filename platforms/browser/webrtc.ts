import SimplePeer from 'simple-peer/simplepeer.min.js';
import { ConfigError } from '../../src/errors.js';
import { rtcConfigOf, type NodeWebRtcOptions } from '../../src/node-options.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';

/**
 * Chromium refuses to construct an RTCPeerConnection while 500 not yet garbage collected exist in the
 * renderer process (a page and its popups; closed ones count until collected). Answers and our dials
 * each get a share, so a relay's offers cannot starve our dials, and 150 stay for the app and the rest.
 * Relays of one network (IPv4 /16, IPv6 /32) get a quarter of the answers: it takes four to starve others.
 */
const BROWSER_MAX_UNCOLLECTED_ANSWERS = 200;
const BROWSER_MAX_UNCOLLECTED_ANSWERS_PER_NETWORK = 50;
const BROWSER_MAX_UNCOLLECTED_DIALS = 150;

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
    maxUncollectedAnswers: BROWSER_MAX_UNCOLLECTED_ANSWERS,
    maxUncollectedAnswersPerNetwork: BROWSER_MAX_UNCOLLECTED_ANSWERS_PER_NETWORK,
    maxUncollectedDials: BROWSER_MAX_UNCOLLECTED_DIALS,
    ...rest,
    createPeer: ({ initiator }) => new SimplePeer({ initiator, trickle: true, config }) as unknown as SimplePeerLike,
  });
}
