import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { expect, test } from '@playwright/test';
import { createNode, MemoryStorage } from '../platforms/node/index.js';
import { BaseAgent } from '../src/switch/agent.js';
import type { Peer } from '../src/switch/peer.js';
import { WEBRTC_CROWDED_ADDRESS_HOLD_MS, WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS } from '../src/webrtc/candidate-targets.js';
import { SIGNAL_CHANNEL_ID, WEBRTC_ANSWERS_BURST_PER_VIA } from '../src/webrtc/constants.js';
import { encodeSignalMessage, type SignalData } from '../src/webrtc/signal-messages.js';
import { SignalAgent } from '../src/webrtc/signal-agent.js';
import { ownAddress } from '../test/helpers/crowded-address.js';
import { stunVictims } from '../test/helpers/stun-victims.js';
import { closePages, MeshPage, pageOrigin, reportDiagnostics } from './mesh-harness.js';

// A page answering offers that each name another port of one address (this machine's), with ICE
// credentials no check satisfies: the relay the page dialled signals them under made-up senders' names,
// from an RTCPeerConnection of its own (@roamhq/wrtc, in the Playwright worker). UDP sockets on the
// address count the page's RTCPeerConnections whose checks reach them (by STUN USERNAME).

const ORIGIN = pageOrigin(49_291);
const NETWORK = 'crowded-address-e2e';
/** Offers through the one relay: all answered at once. */
const OFFERS = WEBRTC_ANSWERS_BURST_PER_VIA;

type PeerConnectionClass = new (config?: RTCConfiguration) => RTCPeerConnection;
const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as { RTCPeerConnection: PeerConnectionClass };

/** Signals to the page that dialled it, as any sender it names. */
class SignalSender extends BaseAgent {
  readonly channels = new SignalAgent().channels;
  private page: Peer | undefined;
  override addPeer(peer: Peer): void {
    this.page = peer;
  }
  send(data: SignalData, from: string): void {
    this.page?.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from, to: this.page.id, data }));
  }
  receive(): void {}
}

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
});

test(`${OFFERS} offers naming ${OFFERS} ports of one address: ${WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS} of the page's RTCPeerConnections check it at once, the others once those got no answer to their checks`, async ({ browser }) => {
  test.setTimeout(60_000);
  const host = ownAddress();
  const victims = await stunVictims(host, OFFERS);
  const sender = new SignalSender();
  const relay = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: ['ws://127.0.0.1:0/'], pex: false });
  relay.addAgent('sender', sender);
  await relay.start();
  const pc = new wrtc.RTCPeerConnection();
  try {
    const page = await MeshPage.open(browser, ORIGIN, { network: NETWORK, db: 'crowded', pex: false, persistentPeers: [relay.addresses[0]!] });
    await page.waitPeer(relay.nodeId, 'ws');
    pc.createDataChannel('meshlink');
    const offer = await pc.createOffer();
    const sdp = offer.sdp!.replace(/a=ice-pwd:\S+/, 'a=ice-pwd:notthepasswordnotthepassword');
    victims.ports.forEach((port, i) => {
      sender.send({ type: 'offer', sdp: `${sdp}a=candidate:${i} 1 udp ${2_000_000_000 - i} ${host} ${port} typ host generation 0\r\n` }, randomBytes(20).toString('hex'));
    });
    await expect.poll(() => victims.senders(), { timeout: 10_000 }).toBeGreaterThanOrEqual(WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS);
    const firstChecks = Date.now();
    const atOnce = victims.senders();
    // The holders end as their checks go unanswered (Chromium's getStats), 1.5 s after taking their slots,
    // or after the 5 s hold; the waiting candidates, taken out of the offers' SDP, are trickled to the
    // others' RTCPeerConnections, which check them.
    await expect.poll(() => victims.senders(), { timeout: 15_000 }).toBe(OFFERS);
    console.log(`crowded address: ${atOnce} RTCPeerConnections checked it at first, ${victims.senders()} of ${OFFERS} in all after ${Date.now() - firstChecks} ms more (the ${WEBRTC_CROWDED_ADDRESS_HOLD_MS} ms hold alone: ~5 s); ${victims.reached()} ports reached`);
    // Before: all 8 at once.
    expect(atOnce).toBe(WEBRTC_NEGOTIATIONS_PER_REMOTE_ADDRESS);
    expect((await page.peers()).some((peer) => peer.id === relay.nodeId)).toBe(true);
  } finally {
    pc.close();
    await relay.stop();
    victims.close();
  }
});
