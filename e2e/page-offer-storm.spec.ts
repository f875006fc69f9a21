import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { createNode, MemoryStorage } from '../platforms/node/index.js';
import { BaseAgent } from '../src/switch/agent.js';
import type { Peer } from '../src/switch/peer.js';
import { SIGNAL_CHANNEL_ID } from '../src/webrtc/constants.js';
import { encodeSignalMessage, type SignalData } from '../src/webrtc/signal-messages.js';
import { SignalAgent } from '../src/webrtc/signal-agent.js';
import { closePages, MeshPage, pageOrigin, reportDiagnostics, sleep, WAIT_MS } from './mesh-harness.js';

// The page as the victim of a relay it dialled: the relay sends offers from made-up senders that fail
// as soon as they are applied, so each frees its answer slot at once. Chromium refuses its 501st
// RTCPeerConnection until garbage collection frees closed ones, so the page must not open one per
// offer. Counted in the page (every RTCPeerConnection constructed), with the page's own event loop.

const ORIGIN = pageOrigin(49_181);
const NETWORK = 'offer-storm-e2e';
const OFFERS = 700;
/** Parses as SDP in no browser: setRemoteDescription rejects it at once. */
const FAILING_OFFER: SignalData = { type: 'offer', sdp: 'v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nbroken\r\n' };

/** Sends every peer that dials it OFFERS offers, 100 a second, each from a new made-up sender. */
class OfferStorm extends BaseAgent {
  readonly channels = new SignalAgent().channels;
  sent = 0;
  override addPeer(peer: Peer): void {
    const timer = setInterval(() => {
      for (let i = 0; i < 10 && this.sent < OFFERS; i++, this.sent++) {
        peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: randomBytes(20).toString('hex'), to: peer.id, data: FAILING_OFFER }));
      }
      if (this.sent >= OFFERS || !peer.isConnected) clearInterval(timer);
    }, 100);
  }
  receive(): void {}
}

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
});

test('a relay storming the page with 700 failing offers from made-up senders makes it open only a burst of RTCPeerConnections', async ({ browser }) => {
  test.setTimeout(60_000);
  const storm = new OfferStorm();
  const relay = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: ['ws://127.0.0.1:0/'], pex: false });
  relay.addAgent('storm', storm);
  await relay.start();
  try {
    const page = await MeshPage.open(browser, ORIGIN, { network: NETWORK, db: 'storm', pex: false, persistentPeers: [relay.addresses.find((a) => a.startsWith('ws://'))!] });
    await page.waitPeer(relay.nodeId, 'ws');
    await expect.poll(() => storm.sent, { timeout: WAIT_MS }).toBe(OFFERS);
    await sleep(1000);
    const rtc = await page.rtc();
    // The page's event loop: a timer due in 0 ms, measured from the page.
    const lagMs = await page.page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const t = performance.now();
          setTimeout(() => resolve(performance.now() - t), 0);
        }),
    );
    console.log(`offer storm: ${OFFERS} offers, RTCPeerConnections constructed ${rtc.created}, closed ${rtc.closed}; timer lag ${lagMs.toFixed(1)} ms`);
    // Before: one per offer (360 of the first 400), until Chromium refused to construct its 501st.
    // The page can still make an RTCPeerConnection of its own (before: "Cannot create so many PeerConnections").
    const canCreate = await page.page.evaluate(() => {
      try {
        new RTCPeerConnection().close();
        return 'yes';
      } catch (error) {
        return String(error);
      }
    });
    expect(canCreate).toBe('yes');
    // 8 at once, then 12 a minute per relay: the storm and the wait take ~8 s.
    expect(rtc.created).toBeLessThanOrEqual(12);
    expect((await page.peers()).some((peer) => peer.id === relay.nodeId)).toBe(true);
  } finally {
    await relay.stop();
  }
});
