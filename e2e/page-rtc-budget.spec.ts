import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { createNode, MemoryStorage } from '../platforms/node/index.js';
import { BaseAgent } from '../src/switch/agent.js';
import type { Peer } from '../src/switch/peer.js';
import { SIGNAL_CHANNEL_ID } from '../src/webrtc/constants.js';
import { encodeSignalMessage, type SignalData } from '../src/webrtc/signal-messages.js';
import { SignalAgent } from '../src/webrtc/signal-agent.js';
import { APP_CHANNELS, closePages, MeshPage, pageOrigin, reportDiagnostics, sleep, WAIT_MS } from './mesh-harness.js';

// The page as the victim of a relay it dialled, for as long as the relay likes: offers from made-up
// senders that fail as soon as they are applied, within every allowance. Chromium refuses to construct
// an RTCPeerConnection while 500 not yet garbage collected exist (closed ones count), and an idle page
// collects only every ~26 s, a busy one less often. At the default 60 answers a minute that is ~8
// minutes without a collection; here the page's answer allowance is raised 100-fold, so 5 s of storm
// stand for those minutes. Counted in the page: every RTCPeerConnection constructed, and collected
// (FinalizationRegistry).

const NETWORK = 'rtc-budget-e2e';
/** The browser platform's default (platforms/browser/webrtc.ts). */
const MAX_UNCOLLECTED_ANSWERS = 200;
/** Parses as SDP in no browser: setRemoteDescription rejects it at once. */
const FAILING_OFFER: SignalData = { type: 'offer', sdp: 'v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nbroken\r\n' };

/** Sends every peer that dials it 100 offers a second, each from a new made-up sender, while `storming`. */
class OfferStorm extends BaseAgent {
  readonly channels = new SignalAgent().channels;
  storming = true;
  override addPeer(peer: Peer): void {
    const timer = setInterval(() => {
      if (!this.storming || !peer.isConnected) return clearInterval(timer);
      for (let i = 0; i < 10; i++) {
        peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: randomBytes(20).toString('hex'), to: peer.id, data: FAILING_OFFER }));
      }
    }, 100);
  }
  receive(): void {}
}

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
});

test('a relay storming the page with failing offers for as long as it likes leaves it RTCPeerConnections for its own dials', async ({ browser }) => {
  test.setTimeout(60_000);
  const storm = new OfferStorm();
  const stormer = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: ['ws://127.0.0.1:0/'], pex: false });
  stormer.addAgent('storm', storm);
  const honestRelay = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: ['ws://127.0.0.1:0/'], pex: false, relay: true, webrtc: false });
  await Promise.all([stormer.start(), honestRelay.start()]);
  const wsOf = (addresses: readonly string[]): string => addresses.find((a) => a.startsWith('ws://'))!;
  try {
    const honest = await MeshPage.open(browser, pageOrigin(49_185), { network: NETWORK, db: 'honest', pex: false, persistentPeers: [wsOf(honestRelay.addresses)] });
    // 6,000 answers a minute, 100 a second through the stormer: its storm is answered in full.
    const webrtc = { maxNewAnswersPerMinute: 6000, maxNewAnswersPerMinutePerVia: 6000 };
    const victim = await MeshPage.open(browser, pageOrigin(49_186), {
      network: NETWORK,
      db: 'victim',
      pex: false,
      persistentPeers: [wsOf(stormer.addresses), wsOf(honestRelay.addresses)],
      nodeOptions: { webrtc },
    });
    await victim.waitPeer(stormer.nodeId, 'ws');
    // The most RTCPeerConnections not yet collected at once, sampled in the page every 20 ms.
    await victim.page.evaluate(() => {
      const sample = window as unknown as { __maxUncollected: number };
      sample.__maxUncollected = 0;
      setInterval(() => {
        sample.__maxUncollected = Math.max(sample.__maxUncollected, window.__rtc!.created - window.__rtc!.collected);
      }, 20);
    });
    const maxUncollected = (): Promise<number> => victim.page.evaluate(() => (window as unknown as { __maxUncollected: number }).__maxUncollected);
    // Before: past 500 in ~5 s, then "Cannot create so many PeerConnections" until a collection.
    await sleep(8000);
    const rtc = await victim.rtc();
    console.log(`rtc budget: RTCPeerConnections constructed ${rtc.created}, collected ${rtc.collected}, most uncollected at once ${await maxUncollected()}`);
    expect(await maxUncollected()).toBeLessThanOrEqual(MAX_UNCOLLECTED_ANSWERS);
    expect(rtc.created).toBeGreaterThanOrEqual(MAX_UNCOLLECTED_ANSWERS); // the storm did reach the budget
    // The page can still make an RTCPeerConnection of its own, and a WebRTC link to an honest page.
    await victim.page.evaluate(() => new RTCPeerConnection().close());
    await honest.waitPeer(honestRelay.nodeId, 'ws');
    await victim.waitPeer(honestRelay.nodeId, 'ws');
    const dial = await victim.dial(`webrtc://${honest.nodeId}?via=${honestRelay.nodeId}`);
    expect(dial).toMatchObject({ ok: true, transport: 'webrtc' });
    expect(await victim.send(APP_CHANNELS[0], honest.nodeId, 'still here')).toBe(true);
    await expect.poll(async () => (await honest.received()).some((m) => m.text === 'still here' && m.transport === 'webrtc'), { timeout: WAIT_MS }).toBe(true);
    expect((await victim.peers()).some((peer) => peer.id === stormer.nodeId)).toBe(true);
  } finally {
    storm.storming = false;
    await Promise.all([stormer.stop(), honestRelay.stop()]);
  }
});
