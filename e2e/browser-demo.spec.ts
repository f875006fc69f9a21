import { expect, test, type Page } from '@playwright/test';
import { WebSocket } from 'ws';
import { MempoolAgent } from '../demo/agents/mempool.js';
import { createNode, MemoryStorage } from '../platforms/node/index.js';
import {
  addTx,
  MEMPOOL_CHANNEL,
  newDemoPages,
  openDemo,
  peers,
  relay,
  relayStatus,
  txs,
  uniqueText,
  waitConnected,
  waitRunning,
  WAIT_MS,
  waitTx,
} from './demo-page.js';

// Chromium pages from the relay's own HTTP server, a real relay (`meshlink node --ws --web`, see
// playwright.config.ts) and, in one test, a Node node in this process: one mesh on 127.0.0.1.

test('a page connects to the relay, shows its node id, and the relay lists it as a ws peer', async ({ page, request }) => {
  const { id: relayId, config } = await relay(request);
  await page.goto('/');
  await expect(page).toHaveURL(/\/demo-web\/$/);
  const nodeId = await waitRunning(page);
  expect(nodeId).toMatch(/^[0-9a-f]{40}$/);
  await expect(page.locator('#node-id')).toHaveText(nodeId);
  await expect(page.locator('#relay')).toHaveText(config.relay);

  await waitConnected(page, relayId);
  await expect(page.getByRole('status')).toHaveText(/^connected/);
  await expect(page.locator('#peers')).toContainText(relayId);
  expect(await peers(page)).toEqual([expect.objectContaining({ id: relayId, transport: 'ws', direction: 'outbound', moniker: 'relay' })]);

  await expect
    .poll(async () => (await relayStatus(request)).peers.find((peer) => peer.id === nodeId), { timeout: WAIT_MS })
    .toMatchObject({ id: nodeId, transport: 'ws', direction: 'inbound', moniker: 'browser' });

  // The form adds a tx like the hook does.
  const text = uniqueText('typed');
  await page.getByLabel('New transaction (text)').fill(text);
  await page.getByRole('button', { name: 'Add transaction' }).click();
  await expect(page.locator('#txs li')).toHaveText([`${text} (added here)`]);
});

test('two pages and a Node node form a mesh through the relay; each tx reaches every node exactly once', async ({ browser, request }) => {
  const { id: relayId, config } = await relay(request);
  const tcpAddress = (await relayStatus(request)).listen.find((address) => address.startsWith('tcp://'))!;
  const { contexts, pages, ids } = await newDemoPages(browser, 2);
  const [page1, page2] = pages as [Page, Page];

  const received: string[] = [];
  const node = await createNode({ storage: new MemoryStorage(), network: config.network, moniker: 'e2e-node', persistentPeers: [tcpAddress] });
  const mempool = new MempoolAgent({ onTx: (tx, { from }) => from !== undefined && received.push(new TextDecoder().decode(tx)) });
  node.addAgent('mempool', mempool);
  try {
    await node.start();
    const everyone = [...ids, node.nodeId];
    // A tx reaches only peers connected when it is gossiped: wait until the relay has all three.
    await expect.poll(async () => (await relayStatus(request)).peers.map((peer) => peer.id).sort(), { timeout: WAIT_MS }).toEqual(expect.arrayContaining(everyone));
    await Promise.all(pages.map((page) => waitConnected(page, relayId)));
    await expect.poll(() => node.getPeer(relayId) !== undefined, { timeout: WAIT_MS }).toBe(true);

    const fromPage = uniqueText('from page 1');
    expect(await addTx(page1, fromPage)).toBe(true);
    expect(await waitTx(page2, fromPage)).toBe(1);
    await expect.poll(() => received, { timeout: WAIT_MS }).toContain(fromPage);

    const fromNode = uniqueText('from the Node node');
    expect(mempool.addTx(new TextEncoder().encode(fromNode))).toBe(true);
    expect(await waitTx(page1, fromNode)).toBe(1);
    expect(await waitTx(page2, fromNode)).toBe(1);

    // Exactly once, at the wire too: the relay forwards each tx once to each peer that lacks it, never
    // back to where it came from. A short settle lets any duplicate that was on its way arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toEqual([fromPage]);
    expect((await txs(page1)).map((tx) => [tx.text, tx.from])).toEqual([
      [fromPage, 'self'],
      [fromNode, relayId],
    ]);
    expect((await txs(page2)).map((tx) => [tx.text, tx.from])).toEqual([
      [fromPage, relayId],
      [fromNode, relayId],
    ]);
    const relaySent = Object.fromEntries(
      (await relayStatus(request)).peers.map((peer) => [peer.id, peer.channels.find((channel) => channel.id === MEMPOOL_CHANNEL)?.sentMessages]),
    );
    expect(relaySent).toMatchObject({ [ids[0]!]: 1, [ids[1]!]: 2, [node.nodeId]: 1 });
    expect((await peers(page1))[0]!.mempoolMessages).toBe(1);
    expect((await peers(page2))[0]!.mempoolMessages).toBe(2);
  } finally {
    await node.stop();
    await Promise.all(contexts.map((context) => context.close()));
  }
});

test('the key survives a reload (same node id); another tab or context is another node', async ({ browser, request }) => {
  const { id: relayId } = await relay(request);
  const context = await browser.newContext();
  const other = await browser.newContext();
  try {
    const page = await context.newPage();
    const id = await openDemo(page);
    await waitConnected(page, relayId);

    await page.reload();
    expect(await waitRunning(page)).toBe(id);
    await expect(page.locator('#node-id')).toHaveText(id);
    // The relay takes the reloaded page back under the same id.
    await waitConnected(page, relayId);
    await expect.poll(async () => (await relayStatus(request)).peers.filter((peer) => peer.id === id).length, { timeout: WAIT_MS }).toBe(1);

    // A second tab of the same browser shares IndexedDB but takes another key slot.
    const tab = await context.newPage();
    const tabId = await openDemo(tab);
    expect(tabId).not.toBe(id);
    await waitConnected(tab, relayId);

    const fresh = await other.newPage();
    const freshId = await openDemo(fresh);
    expect([id, tabId]).not.toContain(freshId);

    // The first tab still has its key after the second one took the next slot.
    await page.reload();
    expect(await waitRunning(page)).toBe(id);
  } finally {
    await Promise.all([context.close(), other.close()]);
  }
});

test('a raw WebSocket client sending garbage is disconnected while the pages stay connected', async ({ browser, request }) => {
  const { id: relayId, wsHostPort } = await relay(request);
  const { contexts, pages, ids } = await newDemoPages(browser, 2);
  try {
    await Promise.all(pages.map((page) => waitConnected(page, relayId)));
    const uptimeBefore = Object.fromEntries((await relayStatus(request)).peers.map((peer) => [peer.id, peer.uptimeMs]));

    const garbage: { name: string; data: string | Uint8Array }[] = [
      { name: 'text', data: 'GET / HTTP/1.1 hello?' },
      { name: 'random bytes', data: Uint8Array.from({ length: 1024 }, (_, i) => (i * 7919 + 13) % 256) },
      { name: 'a message over the 1 MiB limit', data: new Uint8Array(2 * 1024 * 1024).fill(0x41) },
    ];
    const outcomes = await Promise.all(
      garbage.map(
        ({ name, data }) =>
          new Promise<string>((resolve) => {
            const socket = new WebSocket(`ws://${wsHostPort}/`);
            // Handlers at creation (ENV-NOTES: one registered after 'open' can miss an early close).
            const timer = setTimeout(() => {
              socket.terminate();
              resolve(`${name}: still open after ${WAIT_MS} ms`);
            }, WAIT_MS);
            socket.on('open', () => socket.send(data));
            socket.on('error', () => undefined);
            socket.on('close', () => {
              clearTimeout(timer);
              resolve(`${name}: closed`);
            });
          }),
      ),
    );
    expect(outcomes).toEqual(garbage.map(({ name }) => `${name}: closed`));

    // Same connections as before (no reconnect happened), and gossip still flows.
    const after = await relayStatus(request);
    for (const id of ids) expect(after.peers.find((peer) => peer.id === id)?.uptimeMs).toBeGreaterThan(uptimeBefore[id]!);
    for (const page of pages) expect((await peers(page)).map((peer) => peer.id)).toEqual([relayId]);
    const text = uniqueText('after the attack');
    expect(await addTx(pages[0]!, text)).toBe(true);
    expect(await waitTx(pages[1]!, text)).toBe(1);
  } finally {
    await Promise.all(contexts.map((context) => context.close()));
  }
});
