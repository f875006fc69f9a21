/**
 * ICE candidates from a WebRTC remote are addresses our ICE agent contacts at the remote's word: STUN
 * over UDP, or over a TCP connection it opens to a `tcptype passive` candidate. A remote must not make
 * us contact the services of our own machine, nor, by packing candidates into an SDP, get past the cap
 * on what one negotiation may hand the RTCPeerConnection. Real data channels (@roamhq/wrtc), real
 * loopback TCP and UDP listeners counting what reaches them.
 */
import { createRequire } from 'node:module';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import SimplePeer from 'simple-peer';
import { afterEach, describe, expect, it } from 'vitest';
import { WEBRTC_ANSWERS_BURST_PER_VIA, WEBRTC_MAX_REMOTE_TCP_CANDIDATES_PER_NEGOTIATION } from '../../src/webrtc/constants.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { stunVictims } from '../helpers/stun-victims.js';
import { tcpVictim, type TcpVictim } from '../helpers/tcp-victims.js';
import { waitFor } from '../helpers/wait.js';
import { ownMachine } from '../../platforms/node/own-machine.js';
import { rtcNode, startRelay, stillTakesHonestPeers, wrtc as wrtcClasses } from './webrtc-scene.js';

const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as SimplePeer.Options['wrtc'];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await stopAll();
});

/** A loopback TCP listener and UDP socket counting every connection and datagram that reaches them. */
async function loopbackServices(): Promise<{ tcpPort: number; udpPort: number; contacts: () => number }> {
  let contacts = 0;
  const server: Server = createServer((socket) => {
    contacts++;
    socket.on('error', () => {});
    socket.destroy();
  });
  const udp: UdpSocket = createSocket('udp4');
  udp.on('message', () => contacts++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  closers.push(() => server.close(), () => udp.close());
  return { tcpPort: (server.address() as { port: number }).port, udpPort: udp.address().port, contacts: () => contacts };
}

/**
 * A WebRTC transport whose simple-peer rewrites each signal it sends with `rewrite` (any number in
 * place of one): the attacker's.
 */
function rewritingTransport(rewrite: (data: SignalData) => SignalData[]): WebRtcTransport {
  return new WebRtcTransport({
    createPeer: ({ initiator }) => {
      const peer = new SimplePeer({ initiator, wrtc, trickle: true });
      const emit = peer.emit.bind(peer);
      peer.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
        if (event !== 'signal') return emit(event, ...args);
        for (const data of rewrite(args[0] as SignalData)) emit('signal', data);
        return true;
      }) as typeof peer.emit;
      return peer as unknown as SimplePeerLike;
    },
  });
}

const TCP_TARGETS = 60;

/** A TCP listener on `host` counting the connections that reach it. */
async function tcpListener(host: string): Promise<TcpVictim> {
  const victim = await tcpVictim(host);
  closers.push(() => victim.close());
  return victim;
}

function candidateLine(address: string, port: number, transport: 'udp' | 'tcp' | 'ssltcp', n: number): string {
  return `candidate:${1000 + n} 1 ${transport} ${2_000_000_000 - n} ${address} ${port} typ host${transport === 'udp' ? '' : ' tcptype passive'} generation 0`;
}

function trickled(line: string): SignalData {
  return { type: 'candidate', candidate: { candidate: line, sdpMLineIndex: 0, sdpMid: '0' } };
}

function withSdpCandidates(data: SignalData, lines: string[]): SignalData {
  if (data.type === 'candidate') return data;
  return { type: data.type, sdp: `${data.sdp}${lines.map((line) => `a=${line}\r\n`).join('')}` };
}

function withFalseIceCredentials(data: SignalData): SignalData {
  if (data.type === 'candidate') return data;
  return { type: data.type, sdp: data.sdp.replace(/a=ice-ufrag:\S+/g, 'a=ice-ufrag:evil').replace(/a=ice-pwd:\S+/g, 'a=ice-pwd:notthepasswordoftheanswer') };
}

/** This machine's own non-loopback IPv4 address: where probes stay on this machine. */
function ownAddress(): string {
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) if (entry.family === 'IPv4' && !entry.internal) return entry.address;
  }
  throw new Error('this test needs a non-loopback IPv4 interface');
}

/**
 * A node of its own signalling `victim` through `relay` an offer from a real RTCPeerConnection, with ICE
 * credentials no check satisfies (so that the victim keeps checking every candidate), and `lines` as
 * candidates in it.
 */
async function offerWithCandidates(relay: TestNode, victim: TestNode, lines: string[]): Promise<void> {
  const signal = new SignalAgent();
  const attacker = await startNode({ agents: { signal } });
  await attacker.sw.dial(relay.address);
  const pc = new wrtcClasses.RTCPeerConnection();
  closers.push(() => pc.close());
  pc.createDataChannel('meshlink');
  const offer = await pc.createOffer();
  const sdp = withSdpCandidates(withFalseIceCredentials({ type: 'offer', sdp: offer.sdp! }), lines);
  expect(signal.sendSignal(relay.key.nodeId, victim.key.nodeId, sdp)).toBe(true);
}

/** Offers through one relay: all answered at once, and a slot left there for the honest peer after. */
const SAME_TARGET_OFFERS = WEBRTC_ANSWERS_BURST_PER_VIA - 1;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a WebRTC remote naming ICE candidates', () => {
  it('does not make us contact loopback services, whether it trickles the candidates or packs them into its answer', async () => {
    const services = await loopbackServices();
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    const targets = [
      candidateLine('127.0.0.1', services.tcpPort, 'tcp', 1),
      candidateLine('127.0.0.1', services.udpPort, 'udp', 2),
      candidateLine('localhost', services.udpPort, 'udp', 3),
      candidateLine('127.0.0.2', services.tcpPort, 'tcp', 4),
    ];
    // Only the loopback candidates reach the victim, trickled and in the answer, whose ICE credentials
    // are not the attacker's: no check succeeds, so the victim keeps trying every candidate.
    const attacker = await rtcNode(
      relay,
      rewritingTransport((data) =>
        data.type === 'candidate' ? [] : [withSdpCandidates(withFalseIceCredentials(data), targets.slice(2)), ...targets.slice(0, 2).map(trickled)],
      ),
    );
    const dial = victim.sw.dial(`webrtc://${attacker.key.nodeId}?via=${relay.key.nodeId}`).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    // Before: 16 TCP connections and STUN datagrams reached them in the 3 s dial.
    expect(services.contacts()).toBe(0);
    await attacker.sw.stop();
    await dial;
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);

  it('counts candidates packed into an SDP against the 64 signals a negotiation may take', async () => {
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    const host = ownAddress();
    const packed = Array.from({ length: 80 }, (_, i) => candidateLine(host, 40_000 + i, 'udp', i));
    const attacker = await rtcNode(relay, rewritingTransport((data) => [withSdpCandidates(data, packed)]));
    const dial = await victim.sw.dial(`webrtc://${attacker.key.nodeId}?via=${relay.key.nodeId}`).then(
      () => 'connected',
      (error: Error) => error,
    );
    // Before: 80 candidates handed to the RTCPeerConnection in one answer, and connected.
    expect(dial).toMatchObject({ code: 'ERR_TRANSPORT', detail: { reason: 'too-many-signals' } });
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);

  it(`hands on one TCP candidate an address (and at most ${WEBRTC_MAX_REMOTE_TCP_CANDIDATES_PER_NEGOTIATION} a negotiation): each is a TCP connection opened at once, to a host:port the remote chose`, async () => {
    const host = ownAddress();
    const listeners = await Promise.all(Array.from({ length: TCP_TARGETS }, () => tcpListener(host)));
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    // `ssltcp` too: libwebrtc connects to those over TCP the same. In the offer, which the victim answers:
    // its answer lives 15 s, time for the victim's ICE agent to come to the TCP pair.
    await offerWithCandidates(relay, victim, listeners.map((listener, i) => candidateLine(host, listener.port, i % 2 === 0 ? 'tcp' : 'ssltcp', i)));
    const reached = (): number => listeners.filter((listener) => listener.connections() > 0).length;
    await waitFor(() => reached() > 0, 10_000, 'a TCP service reached');
    await sleep(2500);
    // Before: all 60 reached (240 connections in 2.5 s); 8 with the cap of 8 a negotiation, 1 since a
    // negotiation takes one TCP candidate an address (all 60 are on one).
    expect(reached()).toBe(1);
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);

  it(`has one negotiation at a time check a UDP host:port: ${SAME_TARGET_OFFERS} offers naming one victim get one RTCPeerConnection's checks there`, async () => {
    const victims = await stunVictims(ownAddress(), 1);
    closers.push(() => victims.close());
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    const line = candidateLine(ownAddress(), victims.ports[0]!, 'udp', 1);
    for (let i = 0; i < SAME_TARGET_OFFERS; i++) await offerWithCandidates(relay, victim, [line]);
    await sleep(3000);
    // Before: 7 RTCPeerConnections each checking it at its own pace (~21 datagrams a second under
    // @roamhq/wrtc: 7 offers, ~150 a second; 32 answers at once, 670).
    expect(victims.senders()).toBe(1);
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);

  it('has one negotiation check one UDP port of an address: 20 ports of our own machine named in an offer, one reached', async () => {
    const victims = await stunVictims(ownAddress(), 20);
    closers.push(() => victims.close());
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    await offerWithCandidates(relay, victim, victims.ports.map((port, i) => candidateLine(ownAddress(), port, 'udp', i)));
    await sleep(3000);
    // Before: all 20 reached (our own address is no loopback: another node on this machine names it).
    expect(victims.reached()).toBe(1);
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);

  it("keeps candidates at our own address only on our OS's ephemeral ports: a service of this machine on a port it chose is not checked", async () => {
    const { min } = ownMachine()!.ephemeralPorts;
    const service = await stunVictims(ownAddress(), 1, () => 20_000 + Math.floor(Math.random() * (min - 20_000)));
    const control = await stunVictims(ownAddress(), 1);
    closers.push(() => service.close(), () => control.close());
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    await offerWithCandidates(relay, victim, [candidateLine(ownAddress(), service.ports[0]!, 'udp', 1), candidateLine(ownAddress(), control.ports[0]!, 'udp', 2)]);
    await sleep(3000);
    // Before: the service was checked (and, the address's one UDP candidate taken, the control was not).
    expect([service.reached(), control.reached()]).toEqual([0, 1]);
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);
});
