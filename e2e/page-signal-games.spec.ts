import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { expect, test, type Browser } from '@playwright/test';
import { createNode, MemoryStorage } from '../platforms/node/index.js';
import { BaseAgent } from '../src/switch/agent.js';
import type { Peer } from '../src/switch/peer.js';
import { SIGNAL_CHANNEL_ID, WEBRTC_ANSWERS_BURST_PER_VIA, WEBRTC_MAX_REMOTE_TCP_CANDIDATES_PER_NEGOTIATION } from '../src/webrtc/constants.js';
import { decodeSignalMessage, encodeSignalMessage, type SignalData } from '../src/webrtc/signal-messages.js';
import { SignalAgent } from '../src/webrtc/signal-agent.js';
import { stunVictims } from '../test/helpers/stun-victims.js';
import { closePages, MeshPage, pageOrigin, reportDiagnostics, sleep, WAIT_MS } from './mesh-harness.js';

// The page as the victim of what a WebRTC remote signals: offer after offer into one negotiation (ICE
// restarts), and ICE candidates naming TCP services of the LAN, or its web servers (ports 80, 443). The relay the page dialled is the
// attacker here: it signals under a made-up sender's name, with offers from an RTCPeerConnection of
// its own (@roamhq/wrtc, in the Playwright worker), and counts what the page sends back.

const ORIGIN = pageOrigin(49_187);
const NETWORK = 'signal-games-e2e';
const RESTARTS = 40;
const TCP_TARGETS = 60;
/** Offers through the one relay: all answered at once (its burst is 8). */
const SAME_TARGET_OFFERS = WEBRTC_ANSWERS_BURST_PER_VIA - 1;
const OWN_PORTS = 20;

type PeerConnectionClass = new (config?: RTCConfiguration) => RTCPeerConnection;
const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as { RTCPeerConnection: PeerConnectionClass };

/** Signals to the page that dialled it as `sender`, and counts what the page signals back. */
class Signaller extends BaseAgent {
  readonly channels = new SignalAgent().channels;
  readonly sender = randomBytes(20).toString('hex');
  readonly received: SignalData[] = [];
  private page: Peer | undefined;
  override addPeer(peer: Peer): void {
    this.page = peer;
  }
  send(data: SignalData, from = this.sender): void {
    this.page?.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from, to: this.page.id, data }));
  }
  receive(_channelId: number, _peer: Peer, bytes: Uint8Array): void {
    const message = decodeSignalMessage(bytes);
    if (message.type === 'signal') this.received.push(message.data);
  }
}

/** This machine's own non-loopback IPv4 address: connections to it stay on this machine. */
function ownAddress(): string {
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) if (entry.family === 'IPv4' && !entry.internal) return entry.address;
  }
  throw new Error('this test needs a non-loopback IPv4 interface');
}

/**
 * A page that dialled a relay whose Signaller signals it, and the attacker's RTCPeerConnection (one data
 * channel, as a meshlink peer offers).
 */
async function scene(browser: Browser, db: string) {
  const signaller = new Signaller();
  const relay = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: ['ws://127.0.0.1:0/'], pex: false });
  relay.addAgent('signaller', signaller);
  await relay.start();
  const pc = new wrtc.RTCPeerConnection();
  pc.createDataChannel('meshlink');
  const stop = async (): Promise<void> => {
    pc.close();
    await relay.stop();
  };
  try {
    const page = await MeshPage.open(browser, ORIGIN, { network: NETWORK, db, pex: false, persistentPeers: [relay.addresses[0]!] });
    await page.waitPeer(relay.nodeId, 'ws');
    return { signaller, relay, pc, page, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function offerOf(pc: RTCPeerConnection, iceRestart: boolean): Promise<string> {
  const offer = await pc.createOffer({ iceRestart });
  await pc.setLocalDescription(offer);
  return offer.sdp!;
}

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
});

test(`a remote sending ${RESTARTS} ICE-restart offers into one negotiation gets one answer per RTCPeerConnection, within the answer allowance`, async ({ browser }) => {
  test.setTimeout(60_000);
  const { signaller, relay, pc, page, stop } = await scene(browser, 'restarts');
  try {
    signaller.send({ type: 'offer', sdp: await offerOf(pc, false) });
    await expect.poll(() => signaller.received.some((data) => data.type === 'answer'), { timeout: WAIT_MS }).toBe(true);
    for (let i = 0; i < RESTARTS; i++) {
      signaller.send({ type: 'offer', sdp: await offerOf(pc, true) });
      await sleep(100);
    }
    await sleep(3000);
    const answers = signaller.received.filter((data) => data.type === 'answer').length;
    const rtc = await page.rtc();
    console.log(`ICE restarts: ${answers} answers, ${signaller.received.length - answers} candidates; RTCPeerConnections ${rtc.created} made, ${rtc.closed} closed`);
    // Before: 41 answers and 82 candidates from one RTCPeerConnection (now 8 answers, 8 made, 8 closed).
    expect(rtc.created).toBeLessThanOrEqual(WEBRTC_ANSWERS_BURST_PER_VIA + 1);
    expect(answers).toBeLessThanOrEqual(rtc.created);
    expect((await page.peers()).some((peer) => peer.id === relay.nodeId)).toBe(true);
  } finally {
    await stop();
  }
});

test(`a remote naming ${TCP_TARGETS} TCP services as ICE candidates has the page connect to at most ${WEBRTC_MAX_REMOTE_TCP_CANDIDATES_PER_NEGOTIATION}`, async ({ browser }) => {
  test.setTimeout(60_000);
  const host = ownAddress();
  const servers: Server[] = [];
  const reached = new Set<number>();
  const { signaller, relay, pc, page, stop } = await scene(browser, 'tcp');
  try {
    for (let i = 0; i < TCP_TARGETS; i++) {
      const server = createServer((socket) => {
        reached.add(i);
        socket.on('error', () => {});
        socket.destroy();
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, host, resolve));
    }
    // Credentials no check satisfies: the page keeps trying every candidate.
    const sdp = (await offerOf(pc, false)).replace(/a=ice-pwd:\S+/, 'a=ice-pwd:notthepasswordnotthepassword');
    signaller.send({ type: 'offer', sdp });
    servers.forEach((server, i) => {
      const { port } = server.address() as { port: number };
      const transport = i % 2 === 0 ? 'tcp' : 'ssltcp';
      signaller.send({ type: 'candidate', candidate: { candidate: `candidate:${i} 1 ${transport} ${2_000_000_000 - i} ${host} ${port} typ host tcptype passive generation 0`, sdpMLineIndex: 0, sdpMid: '0' } });
    });
    await sleep(4000);
    console.log(`TCP candidates: ${reached.size} of ${TCP_TARGETS} services reached`);
    // Before: 60 of 60 (Chromium connects to `tcp` and `ssltcp` passive candidates as wrtc does); 8 with
    // the TCP cap; 1 now that a negotiation checks one TCP port of an address (all 60 are on one).
    expect(reached.size).toBeLessThanOrEqual(WEBRTC_MAX_REMOTE_TCP_CANDIDATES_PER_NEGOTIATION);
    expect((await page.peers()).some((peer) => peer.id === relay.nodeId)).toBe(true);
  } finally {
    await stop();
    for (const server of servers) server.close();
  }
});

test('a remote naming web services on ports 80 and 443 as ICE candidates has the page contact neither (a control on a high port: reached)', async ({ browser }) => {
  test.setTimeout(60_000);
  const host = ownAddress();
  const contacts = new Map<number, number>();
  const closers: (() => void)[] = [];
  const { signaller, relay, pc, page, stop } = await scene(browser, 'web-ports');
  try {
    for (const port of [80, 443, 40_080]) {
      contacts.set(port, 0);
      const count = (): void => void contacts.set(port, contacts.get(port)! + 1);
      const udp = createSocket('udp4').on('message', count);
      const tcp = createServer((socket) => {
        count();
        socket.on('error', () => {});
        socket.destroy();
      });
      closers.push(() => udp.close(), () => tcp.close());
      // Below 1024: this needs root or CAP_NET_BIND_SERVICE, as a LAN's web servers have.
      await new Promise<void>((resolve) => udp.bind(port, host, resolve));
      await new Promise<void>((resolve) => tcp.listen(port, host, resolve));
    }
    const sdp = (await offerOf(pc, false)).replace(/a=ice-pwd:\S+/, 'a=ice-pwd:notthepasswordnotthepassword');
    signaller.send({ type: 'offer', sdp });
    let n = 0;
    for (const port of contacts.keys()) {
      for (const transport of ['udp', 'tcp']) {
        n++;
        const line = `candidate:${n} 1 ${transport} ${2_000_000_000 - n} ${host} ${port} typ host${transport === 'tcp' ? ' tcptype passive' : ''} generation 0`;
        signaller.send({ type: 'candidate', candidate: { candidate: line, sdpMLineIndex: 0, sdpMid: '0' } });
      }
    }
    await sleep(4000);
    console.log(`web ports: ${JSON.stringify([...contacts])} (datagrams and connections)`);
    // Before: 80 and 443 each reached (23 and 22 STUN datagrams and TCP connections in 4 s); Chromium itself
    // skips every other port below 1024, @roamhq/wrtc all of them.
    expect({ 80: contacts.get(80), 443: contacts.get(443) }).toEqual({ 80: 0, 443: 0 });
    expect(contacts.get(40_080)).toBeGreaterThan(0);
    expect((await page.peers()).some((peer) => peer.id === relay.nodeId)).toBe(true);
  } finally {
    await stop();
    for (const close of closers) close();
  }
});

test(`${SAME_TARGET_OFFERS} offers naming one UDP host:port have one of the page's RTCPeerConnections check it, and ${OWN_PORTS} ports of one address in an offer one of them`, async ({ browser }) => {
  test.setTimeout(60_000);
  const host = ownAddress();
  const oneTarget = await stunVictims(host, 1);
  const ownPorts = await stunVictims(host, OWN_PORTS);
  const { signaller, relay, pc, page, stop } = await scene(browser, 'udp-targets');
  try {
    const offer = (await offerOf(pc, false)).replace(/a=ice-pwd:\S+/, 'a=ice-pwd:notthepasswordnotthepassword');
    const candidates = (ports: number[]): string => ports.map((port, i) => `a=candidate:${i} 1 udp ${2_000_000_000 - i} ${host} ${port} typ host generation 0\r\n`).join('');
    for (let i = 0; i < SAME_TARGET_OFFERS - 1; i++) signaller.send({ type: 'offer', sdp: offer + candidates(oneTarget.ports) }, randomBytes(20).toString('hex'));
    signaller.send({ type: 'offer', sdp: offer + candidates(ownPorts.ports) });
    await sleep(4000);
    console.log(`UDP targets: one host:port checked by ${oneTarget.senders()} RTCPeerConnections; ${ownPorts.reached()} of ${OWN_PORTS} ports of ${host} reached`);
    // Before: 6 RTCPeerConnections checked the one (~16 datagrams a second each), and 20 of 20 ports were reached.
    expect(oneTarget.senders()).toBe(1);
    expect(ownPorts.reached()).toBe(1);
    expect((await page.peers()).some((peer) => peer.id === relay.nodeId)).toBe(true);
  } finally {
    await stop();
    oneTarget.close();
    ownPorts.close();
  }
});
