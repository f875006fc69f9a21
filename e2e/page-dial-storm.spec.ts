import { expect, test } from '@playwright/test';
import { createNode, MemoryStorage } from '../platforms/node/index.js';
import { generateNodeKey } from '../src/crypto/keys.js';
import { PEX_CHANNEL_ID, PEX_MAX_MESSAGE_BYTES } from '../src/pex/constants.js';
import { decodePexMessage, encodePexMessage } from '../src/pex/pex-messages.js';
import { BaseAgent } from '../src/switch/agent.js';
import type { Peer } from '../src/switch/peer.js';
import type { Switch } from '../src/switch/switch.js';
import { closePages, MeshPage, pageOrigin, reportDiagnostics, sleep, WAIT_MS } from './mesh-harness.js';

// The page as the victim of its relay's PEX: every answer names made-up nodes `webrtc://<id>?via=<x>`
// through each of 8 accomplices (Node peers over @roamhq/wrtc that linked to the page), and each
// accomplice answers `unreachable`, so every dial fails at once and frees its pending slot at once.
// Chromium refuses its 501st RTCPeerConnection until garbage collection frees closed ones: the page's
// own dials must not open one per made-up address. Counted in the page (every RTCPeerConnection made).

const ORIGIN = pageOrigin(49_183);
const NETWORK = 'dial-storm-e2e';
const ACCOMPLICES = 8;
const SECONDS = 10;

/** Answers every pexRequest with 100 made-up webrtc addresses through each of `vias` in turn. */
class MadeUpWebRtcPex extends BaseAgent {
  readonly channels = [{ id: PEX_CHANNEL_ID, priority: 1, recvMessageCapacity: PEX_MAX_MESSAGE_BYTES }];
  vias: string[] = [];
  answered = 0;
  receive(_channelId: number, peer: Peer, bytes: Uint8Array): void {
    if (decodePexMessage(bytes).type !== 'pexRequest') return;
    const addresses = Array.from({ length: 100 }, (_, i) => `webrtc://${generateNodeKey().nodeId}?via=${this.vias[i % this.vias.length]}`);
    if (peer.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses }))) this.answered++;
  }
}

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
});

test('made-up webrtc addresses through 8 of the page’s peers make its dials open only a burst of RTCPeerConnections', async ({ browser }) => {
  test.setTimeout(90_000);
  const pex = new MadeUpWebRtcPex();
  const relay = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: ['ws://127.0.0.1:0/', 'tcp://127.0.0.1:0'], pex: false, relay: true, webrtc: false });
  relay.addAgent('made-up-pex', pex);
  await relay.start();
  const accomplices: Switch[] = [];
  try {
    for (let i = 0; i < ACCOMPLICES; i++) {
      const accomplice = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: [], pex: false, relay: true, webrtc: true });
      await accomplice.start();
      accomplices.push(accomplice);
      await accomplice.dial(relay.addresses.find((a) => a.startsWith('tcp://'))!);
    }
    pex.vias = [relay.nodeId, ...accomplices.map((accomplice) => accomplice.nodeId)];
    const relayWs = relay.addresses.find((a) => a.startsWith('ws://'))!;
    const page = await MeshPage.open(browser, ORIGIN, { network: NETWORK, db: 'dial-storm', seeds: [relayWs], persistentPeers: [relayWs], pexIntervalMs: 1000 });
    await page.waitPeer(relay.nodeId, 'ws');
    for (const accomplice of accomplices) await accomplice.dial(`webrtc://${page.nodeId}?via=${relay.nodeId}`);
    for (const accomplice of accomplices) await page.waitPeer(accomplice.nodeId, 'webrtc');
    await expect.poll(() => pex.answered, { timeout: WAIT_MS }).toBeGreaterThan(0);
    const before = await page.rtc();
    await sleep(SECONDS * 1000);
    const after = await page.rtc();
    const made = after.created - before.created;
    console.log(`dial storm: ${made} RTCPeerConnections made by the page's dials in ${SECONDS} s (${after.created} in all, ${after.closed} closed)`);
    // The page can still make an RTCPeerConnection of its own (this throws when it cannot).
    await page.page.evaluate(() => new RTCPeerConnection().close());
    // A burst of 16, then 60 a minute.
    expect(made).toBeLessThanOrEqual(16 + SECONDS + 2);
    expect((await page.peers()).some((peer) => peer.id === relay.nodeId)).toBe(true);
  } finally {
    await Promise.all(accomplices.map((accomplice) => accomplice.stop()));
    await relay.stop();
  }
});
