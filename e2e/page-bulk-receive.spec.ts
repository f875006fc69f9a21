import { expect, test } from '@playwright/test';
import { BROWSER_RECV_RATE_BYTES_PER_SEC } from '../platforms/browser/index.js';
import { createNode, MemoryStorage } from '../platforms/node/index.js';
import { BaseAgent } from '../src/switch/agent.js';
import type { Peer } from '../src/switch/peer.js';
import { APP_CHANNELS, closePages, MeshPage, pageOrigin, reportDiagnostics, waitUntil } from './mesh-harness.js';

// An honest Node peer sends a page bulk data over WebSocket, faster than the page reads from one peer
// by default (BROWSER_RECV_RATE_BYTES_PER_SEC). A page cannot stop a WebSocket from reading: before
// peers paced to what it announces, it held what kept arriving and cut the sender once 4 MiB waited
// (ERR_RATE_LIMIT), within the first second. Now the page announces its rate in its NodeInfo and the
// sender paces to it: everything arrives, at about that rate, on one connection.

const NETWORK = 'bulk-e2e';
const CHANNEL = APP_CHANNELS[1];
const MESSAGE_BYTES = 64 * 1024;
/** 24 MiB: six times what the page holds for a paused link, about 7 s at the paced rate. */
const MESSAGES = 384;

/** Lets the test reach the page's connection once it is made. */
class Bulk extends BaseAgent {
  readonly channels = [{ id: CHANNEL, priority: 5 }];
  peer: Peer | undefined;
  override addPeer(peer: Peer): void {
    this.peer = peer;
  }
  receive(): void {}
}

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
});

test('a Node peer sends a page 24 MiB in 64 KiB messages over WebSocket: all arrive, the link is never cut', async ({ browser }) => {
  test.setTimeout(90_000);
  const bulk = new Bulk();
  const sender = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: ['ws://127.0.0.1:0/'], pex: false });
  sender.addAgent('bulk', bulk);
  const cuts: string[] = [];
  sender.on('peer:disconnected', ({ reason }) => void cuts.push(`sender: ${(reason as { code?: string } | undefined)?.code ?? String(reason)}`));
  await sender.start();
  try {
    // The page as the demo makes it: default settings, so the default receive rate.
    const page = await MeshPage.open(browser, pageOrigin(49_431), { network: NETWORK, db: 'bulk-receiver', pex: false, persistentPeers: [sender.addresses[0]!] });
    await page.waitPeer(sender.nodeId, 'ws');
    const peer = bulk.peer!;
    expect(peer.nodeInfo.recvBytesPerSecond).toBe(BROWSER_RECV_RATE_BYTES_PER_SEC);

    const message = new Uint8Array(MESSAGE_BYTES).fill(0x62);
    const began = Date.now();
    for (let n = 0; n < MESSAGES && cuts.length === 0; n++) {
      if (!(await peer.send(CHANNEL, message, { timeoutMs: 30_000 }))) throw new Error(`send ${n} refused (${cuts.join(', ') || 'not cut'})`);
    }
    const arrived = await waitUntil(
      'all bulk messages at the page',
      () => page.page.evaluate((from) => window.__mesh!.received().filter((m) => m.from === from).length, sender.nodeId),
      (count) => count === MESSAGES,
      { timeoutMs: 40_000, intervalMs: 250, abort: () => (cuts.length > 0 ? cuts.join(', ') : undefined) },
    );
    const seconds = (Date.now() - began) / 1000;
    const pageCuts = (await page.events()).filter((e) => e.peer === sender.nodeId && (e.event === 'disconnected' || e.event === 'peer:error'));
    console.log(`${arrived} × 64 KiB in ${seconds.toFixed(1)} s: ${((MESSAGES * MESSAGE_BYTES) / seconds / 2 ** 20).toFixed(2)} MiB/s; page-side cuts: ${JSON.stringify(pageCuts)}`);
    expect(pageCuts).toEqual([]);
    expect(cuts).toEqual([]);
    expect((await page.peers()).some((p) => p.id === sender.nodeId)).toBe(true);
  } finally {
    await sender.stop();
  }
});
