import { expect, test, type Page } from '@playwright/test';
import { killChildren, newPageContext, pageOrigin, Relay, serveBundle, WAIT_MS } from './mesh-harness.js';

// Tabs of one browser share the origin's IndexedDB. A node key kept there was one node id for every tab
// of an app that calls createNode() with its defaults: the relay refused the second tab as a duplicate of
// the first, and the two could never link. Each node now takes a key slot of its own (a Web Lock), which
// a reload gets back and a stopped node lets go.

const ORIGIN = pageOrigin(47_312);
const NETWORK = 'tabs-e2e';

interface TabHandle {
  nodeId: string;
  peers(): { id: string; transport: string }[];
  dial(address: string): Promise<string>;
  stop(): Promise<void>;
}
declare global {
  interface Window {
    __tab?: TabHandle;
  }
}

/** Runs in the page: createNode with the defaults an app would use (no storage, no identity). */
async function bootDefaultNode({ network, relay }: { network: string; relay: string }): Promise<string> {
  const url = '/meshlink.js';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m: any = await import(url);
  const sw = await m.createNode({ network, persistentPeers: [relay], pex: false, reconnect: { baseDelayMs: 200, maxDelayMs: 2000 } });
  await sw.start();
  window.__tab = {
    nodeId: sw.nodeId,
    peers: () => (sw.peers as { id: string; transport: string }[]).map(({ id, transport }) => ({ id, transport })),
    dial: async (address) => ((await sw.dial(address)) as { transport: string }).transport,
    stop: () => sw.stop(),
  };
  return sw.nodeId as string;
}

async function waitForPeer(page: Page, peerId: string, transport: string): Promise<void> {
  await page.waitForFunction(([id, tr]) => window.__tab!.peers().some((peer) => peer.id === id && peer.transport === tr), [peerId, transport] as const, {
    timeout: WAIT_MS,
    polling: 50,
  });
}

test.afterEach(async () => {
  await killChildren();
});

test('each tab of one browser is a node of its own with createNode() defaults; a reload keeps its id, a stopped node frees its slot', async ({ browser }) => {
  test.setTimeout(90_000);
  const relay = await Relay.start({ moniker: 'tabs-relay', network: NETWORK });
  const context = await newPageContext(browser);
  try {
    await serveBundle(context, ORIGIN);
    const openTab = async (): Promise<{ page: Page; nodeId: string }> => {
      const page = await context.newPage();
      await page.goto(`${ORIGIN}/`);
      return { page, nodeId: await page.evaluate(bootDefaultNode, { network: NETWORK, relay: relay.wsAddress }) };
    };

    const first = await openTab();
    const second = await openTab();
    expect(second.nodeId, 'two tabs, two node ids').not.toBe(first.nodeId);
    await waitForPeer(first.page, relay.nodeId, 'ws');
    await waitForPeer(second.page, relay.nodeId, 'ws');
    // Two nodes indeed: one dials the other over WebRTC through the relay.
    expect(await first.page.evaluate((address) => window.__tab!.dial(address), `webrtc://${second.nodeId}?via=${relay.nodeId}`)).toBe('webrtc');
    await waitForPeer(second.page, first.nodeId, 'webrtc');

    await second.page.reload();
    const reloaded = await second.page.evaluate(bootDefaultNode, { network: NETWORK, relay: relay.wsAddress });
    expect(reloaded, 'a reload keeps the tab its slot, so its node id').toBe(second.nodeId);
    await waitForPeer(second.page, relay.nodeId, 'ws');

    await first.page.evaluate(() => window.__tab!.stop());
    const third = await openTab();
    expect(third.nodeId, 'a tab opened after a node stopped takes the slot it let go').toBe(first.nodeId);
    await waitForPeer(third.page, relay.nodeId, 'ws');
  } finally {
    await context.close();
  }
});
