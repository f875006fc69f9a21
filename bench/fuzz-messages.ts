/** Fuzz inputs shaped like the messages peers exchange: NodeInfo, PEX and signalling messages. */
import fc from 'fast-check';
import { PROTOCOL_VERSION } from '../src/switch/node-info.js';
import { addressText, nodeId, SELF } from './fuzz-addresses.js';
import { tampered } from './fuzz-msgpack.js';

export const nodeInfoValue = fc
  .record({
    // Mostly valid fields (tampering and mutation break them), so the checks late in parseNodeInfo run too.
    id: nodeId, network: fc.oneof({ weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 64 }) }, fc.string({ maxLength: 70 })),
    protocolVersion: fc.oneof({ weight: 4, arbitrary: fc.constant(PROTOCOL_VERSION) }, fc.string({ maxLength: 20 })),
    channels: fc.oneof({ weight: 4, arbitrary: fc.uniqueArray(fc.nat(255), { maxLength: 40 }) }, fc.array(fc.integer(), { maxLength: 260 })),
    recvMessageCapacities: fc.oneof({ weight: 4, arbitrary: fc.array(fc.integer({ min: 1, max: 1 << 20 }), { maxLength: 40 }) }, fc.array(fc.integer(), { maxLength: 260 })),
    listenAddresses: fc.array(addressText, { maxLength: 18 }),
    moniker: fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 64 }) }, fc.string({ maxLength: 70 })), software: fc.constant('meshlink/0.1.0'),
  })
  .map((info) => ({
    ...info,
    // Mostly one capacity per channel, so the fields after the capacities are reached too.
    recvMessageCapacities: info.recvMessageCapacities.length > 0 && info.recvMessageCapacities[0]! > 0 ? info.channels.map((_, i) => info.recvMessageCapacities[i % info.recvMessageCapacities.length]!) : info.recvMessageCapacities,
    listenAddresses: info.listenAddresses.map((a) => a.replace(SELF, info.id)),
  }));

export const pexValue = fc.oneof(
  fc.constant({ type: 'pexRequest' }),
  fc.record({ type: fc.constant('pexResponse'), addresses: fc.array(addressText, { maxLength: 40 }) }),
  // Huge arrays of addresses: past the per-response cap (250), the element cap and the byte cap (~250 KiB).
  fc.tuple(addressText, fc.integer({ min: 0, max: 1000 })).map(([a, n]) => ({ type: 'pexResponse', addresses: new Array<string>(n).fill(a) })),
);

const longText = (max: number): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ maxLength: 200 }), fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.nat(max)).map(([s, n]) => s.repeat(n).slice(0, max)));
/** Pieces of SDP and candidate lines a negotiation screens (candidate addresses, media sections). */
const SDP_PIECES = [
  'v=0', '\r\n', '\n', 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'm=audio 9 RTP/AVP 0', 'm=video', 'm=', 'a=candidate:',
  'candidate:1 1 udp 2122260223 ', '127.0.0.1', '[::1]', '::', '0.0.0.0', 'localhost', 'x.local', '10.0.0.1', ' 9 typ host', ' tcptype passive', ' ', 'a=',
];
const sdpText = fc.array(fc.constantFrom(...SDP_PIECES), { maxLength: 300 }).map((pieces) => pieces.join(''));
const signalData = fc.oneof(
  fc.record({ type: fc.constantFrom('offer', 'answer'), sdp: longText(14_000) }),
  fc.record({ type: fc.constantFrom('offer', 'answer'), sdp: sdpText.filter((sdp) => sdp.length > 0 && sdp.length <= 12 * 1024) }),
  fc.record({ type: fc.constant('candidate'), candidate: fc.record({ candidate: sdpText.map((text) => text.slice(0, 1024)) }) }),
  fc.record({
    type: fc.constant('candidate'),
    candidate: fc.record(
      { candidate: longText(1100), sdpMLineIndex: fc.option(fc.oneof(fc.integer({ min: -1, max: 70 }), fc.double())), sdpMid: fc.option(fc.string({ maxLength: 70 })) },
      { requiredKeys: ['candidate'] },
    ),
  }),
);
export const signalValue = fc.oneof(
  tampered(fc.record({ type: fc.constant('signal'), from: nodeId, to: nodeId, data: fc.oneof(signalData, tampered(signalData, ['type', 'sdp', 'candidate'])) }), ['type', 'from', 'to', 'data']),
  tampered(fc.record({ type: fc.constant('unreachable'), to: nodeId }), ['type', 'to']),
);
