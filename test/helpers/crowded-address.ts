/**
 * Answers (real @roamhq/wrtc RTCPeerConnections under src/webrtc/negotiations.ts) to offers that name
 * one victim address through many ports, with ICE credentials no check satisfies, so that each answer's
 * ICE agent keeps checking its candidate for the answer's life: the STUN reflection one address gets.
 */
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import SimplePeer from 'simple-peer';
import { systemClock } from '../../src/util/clock.js';
import { Negotiations, type Negotiation, type NegotiationsOptions } from '../../src/webrtc/negotiations.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { ownMachine } from '../../platforms/node/own-machine.js';

type PeerConnectionClass = new (config?: RTCConfiguration) => RTCPeerConnection;
const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as { RTCPeerConnection: PeerConnectionClass };

/** This machine's own non-loopback IPv4 address: where checks stay on this machine. */
export function ownAddress(): string {
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) if (entry.family === 'IPv4' && !entry.internal) return entry.address;
  }
  throw new Error('this test needs a non-loopback IPv4 interface');
}

/** A real RTCPeerConnection's offer, with ICE credentials that are not its own and no candidates of its own. */
export async function falseCredentialOffer(): Promise<string> {
  const pc = new wrtc.RTCPeerConnection();
  try {
    pc.createDataChannel('meshlink');
    const offer = await pc.createOffer();
    return offer.sdp!.replace(/a=ice-ufrag:\S+/g, 'a=ice-ufrag:evil').replace(/a=ice-pwd:\S+/g, 'a=ice-pwd:notthepasswordoftheanswer');
  } finally {
    pc.close();
  }
}

/** A real RTCPeerConnection's answer to `offerSdp`, with ICE credentials that are not its own and no candidates of its own: what a relay forges. */
export async function falseCredentialAnswer(offerSdp: string): Promise<string> {
  const pc = new wrtc.RTCPeerConnection();
  try {
    await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    const answer = await pc.createAnswer();
    return answer.sdp!.replace(/a=ice-ufrag:\S+/g, 'a=ice-ufrag:evil').replace(/a=ice-pwd:\S+/g, 'a=ice-pwd:notthepasswordoftheoffer');
  } finally {
    pc.close();
  }
}

/** `offerSdp` naming `address:port` as its one host candidate, over UDP or (`tcptype passive`: we connect to it) TCP. */
export function offerNaming(offerSdp: string, address: string, port: number, transport: 'udp' | 'tcp' = 'udp'): SignalData {
  const line = transport === 'udp' ? `1 1 udp 2122260223 ${address} ${port} typ host` : `2 1 tcp 1518280447 ${address} ${port} typ host tcptype passive`;
  return { type: 'offer', sdp: `${offerSdp.trimEnd()}\r\na=candidate:${line} generation 0\r\n` };
}

/**
 * Negotiations over @roamhq/wrtc answering up to `answers` offers at once, all through one relay; our
 * signals go nowhere (or to `sendSignal`), and one dial at a time unless `dials` says more.
 */
export function wrtcNegotiations(answers: number, options: Partial<Pick<NegotiationsOptions, 'allowLoopbackCandidates' | 'sendSignal' | 'dials' | 'onPeerCreated'>> = {}): Negotiations {
  return new Negotiations({
    createPeer: ({ initiator }) => new SimplePeer({ initiator, trickle: true, wrtc: wrtc as SimplePeer.Options['wrtc'] }) as unknown as SimplePeerLike,
    sendSignal: () => true,
    dials: { total: 1, perVia: 1 },
    ...options,
    answers: { total: answers, perVia: answers },
    ownMachine: ownMachine(),
  });
}

/** Answers `offer` as a negotiation with `remote` that fails after `timeoutMs` (the answer deadline); `onEnd` when it fails. */
export function answer(negotiations: Negotiations, remote: string, offer: SignalData, timeoutMs: number, onEnd: (error: Error) => void = () => {}): Negotiation {
  const negotiation = negotiations.start({
    initiator: false,
    via: 'relay',
    remote,
    clock: systemClock,
    timeoutMs,
    onConnected: (link) => link.destroy(),
    onFailed: onEnd,
  });
  negotiation.signal(offer);
  return negotiation;
}
