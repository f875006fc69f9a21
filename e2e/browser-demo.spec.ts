import { expect, test } from '@playwright/test';
import { WebSocket } from 'ws';
import { ChatAgent, type ChatDelivery } from '../demo/agents/chat.js';
import { createNode, MemoryStorage } from '../platforms/node/index.js';
import {
  CHAT_CHANNEL,
  chat,
  newDemoPages,
  openDemo,
  peers,
  relay,
  relayStatus,
  sendChat,
  uniqueText,
  waitChat,
  waitConnected,
  waitRunning,
  WAIT_MS,
} from './demo-page.js';

// Chromium pages from the relay's own HTTP server, a real relay (`meshlink node --ws --web`, see
// playwright.config.ts) and, in one test, a Node node in this process: one mesh on 127.0.0.1.
// (e2e/demo-mesh.spec.ts starts the demo as `npm start` does and checks the graph and the relay's death.)

test('a page connects to the relay, shows its node id and name, and the relay lists it as a ws peer', async ({ page, request }) => {
  const { id: relayId, config } = await relay(request);
  expect(config.allowLocal).toBe(true); // the relay runs with --allow-local
  await page.goto('/');
  await expect(page).toHaveURL(/\/demo-web\/$/);
  const nodeId = await waitRunning(page);
  expect(nodeId).toMatch(/^[0-9a-f]{40}$/);
  const moniker = await page.evaluate(() => window.meshlinkDemo!.moniker!);
  expect(moniker).toMatch(/^[a-z]+-[a-z]+$/);
  await expect(page.locator('#node-id')).toHaveText(nodeId);
  await expect(page.locator('#moniker')).toHaveText(moniker);
  await expect(page.locator('#relay')).toHaveText(config.relay);

  await waitConnected(page, relayId);
  await expect(page.getByRole('status')).toHaveText(/^Connected to the relay/);
  await expect(page.locator('#relay-name')).toHaveText('relay');
  expect(await peers(page)).toEqual([expect.objectContaining({ id: relayId, transport: 'ws', direction: 'outbound', moniker: 'relay' })]);

  await expect
    .poll(async () => (await relayStatus(request)).peers.find((peer) => peer.id === nodeId), { timeout: WAIT_MS })
    .toMatchObject({ id: nodeId, transport: 'ws', direction: 'inbound', moniker });
  // The relay's /status also serves the topology it learnt: the page announces its link to the relay.
  await expect
    .poll(async () => (await relayStatus(request)).topology.nodes.find((node) => node.id === nodeId), { timeout: WAIT_MS })
    .toMatchObject({ kind: 'page', moniker, hops: 1, links: [{ peer: relayId, transport: 'ws' }] });

  // The chat from the keyboard: Tab to the skip link, Enter to the message box, type, Enter.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to the chat' })).toBeFocused();
  await page.keyboard.press('Enter');
  const input = page.getByRole('textbox', { name: 'Message' });
  await expect(input).toBeFocused();
  const text = uniqueText('typed');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
  await expect(page.locator('#chat-log li')).toHaveText([new RegExp(`^you · written in this tab${text}$`)]);
  await expect(page.locator('#chat-feedback')).toHaveText('Sent to 1 peer.');
});

test('two pages and a Node node chat through the mesh; each message reaches every node exactly once', async ({ browser, request }) => {
  const { id: relayId, config } = await relay(request);
  const tcpAddress = (await relayStatus(request)).listen.find((address) => address.startsWith('tcp://'))!;
  const { contexts, pages, ids } = await newDemoPages(browser, 2);
  const [page1, page2] = [pages[0]!, pages[1]!];

  const received: ChatDelivery[] = [];
  const node = await createNode({ storage: new MemoryStorage(), network: config.network, moniker: 'e2e-node', persistentPeers: [tcpAddress] });
  const nodeChat = new ChatAgent({ onMessage: (message) => message.from !== undefined && received.push(message) });
  node.addAgent('chat', nodeChat);
  try {
    await node.start();
    const everyone = [...ids, node.nodeId];
    // A message reaches only peers connected when it is sent: wait until the relay has all three.
    await expect.poll(async () => (await relayStatus(request)).peers.map((peer) => peer.id), { timeout: WAIT_MS }).toEqual(expect.arrayContaining(everyone));
    await Promise.all(pages.map((page) => waitConnected(page, relayId)));
    await expect.poll(() => node.getPeer(relayId) !== undefined, { timeout: WAIT_MS }).toBe(true);

    const fromPage = uniqueText('from page 1');
    await sendChat(page1, fromPage);
    expect(await waitChat(page2, fromPage)).toEqual([expect.objectContaining({ origin: ids[0], hops: expect.any(Number) })]);
    await expect.poll(() => received.map((message) => message.text), { timeout: WAIT_MS }).toContain(fromPage);

    const fromNode = uniqueText('from the Node node');
    nodeChat.send(fromNode);
    // Each page takes the first copy to reach it: the relay's (two links from the node), or, when the pages
    // have also linked directly over WebRTC, the other page's passing on of its own copy (three links),
    // whichever wins the race. Either way once.
    const firstArrivals = new Map<string, string>();
    for (const [index, page] of pages.entries()) {
      const otherPage = ids[1 - index]!;
      const arrived = await waitChat(page, fromNode);
      expect(arrived).toEqual([expect.objectContaining({ origin: node.nodeId, name: 'e2e-node' })]);
      const via = arrived[0]!.from === relayId ? { from: relayId, hops: 2 } : { from: otherPage, hops: 3, transport: 'webrtc' };
      expect(arrived[0]).toMatchObject(via);
      firstArrivals.set(ids[index]!, via.from);
    }

    // Exactly once: a short settle lets any duplicate that was on its way arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received.map((message) => [message.text, message.origin])).toEqual([[fromPage, ids[0]]]);
    // The Node node is two links from the page (page → relay → node).
    expect(received[0]!.hops).toBe(2);
    expect((await chat(page1)).map((message) => [message.text, message.from])).toEqual([
      [fromPage, 'self'],
      [fromNode, firstArrivals.get(ids[0]!)],
    ]);
    expect((await chat(page2)).map((message) => message.text)).toEqual([fromPage, fromNode]);
    // The relay sent the node's message once to each page, and nothing back to the node.
    const relaySent = Object.fromEntries(
      (await relayStatus(request)).peers.map((peer) => [peer.id, peer.channels.find((channel) => channel.id === CHAT_CHANNEL)?.sentMessages ?? 0]),
    );
    expect(relaySent[node.nodeId]).toBe(1);
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

    // Same connections as before (no reconnect happened), and chat still flows.
    const after = await relayStatus(request);
    for (const id of ids) expect(after.peers.find((peer) => peer.id === id)?.uptimeMs).toBeGreaterThan(uptimeBefore[id]!);
    for (const page of pages) expect((await peers(page)).map((peer) => peer.id)).toContain(relayId);
    const text = uniqueText('after the attack');
    await sendChat(pages[0]!, text);
    expect(await waitChat(pages[1]!, text)).toHaveLength(1);
  } finally {
    await Promise.all(contexts.map((context) => context.close()));
  }
});

test('a page that cannot join says why in a sentence, never a blank page', async ({ page }) => {
  // An address that is not one.
  await page.goto('/demo-web/?relay=not-a-relay');
  await expect(page.getByRole('alert')).toHaveText(/^This tab could not join the mesh: the relay address not-a-relay is not valid \(.+\)\.$/);
  await expect(page.getByRole('status')).toHaveText(/^This tab’s node could not start: /);
  await expect(page.getByRole('heading', { name: 'The mesh' })).toBeVisible();

  // A relay nobody runs: the page keeps retrying and says so.
  await page.goto(`/demo-web/?relay=ws://${'ab'.repeat(20)}@127.0.0.1:9/`);
  await expect(page.getByRole('status')).toHaveText(/^Cannot reach the relay yet: (retrying in \d+ s|reconnecting now)\.$/, { timeout: WAIT_MS });
  await expect(page.getByRole('alert')).toBeHidden();
  await expect(page.locator('#graph .node.k-relay')).toHaveAttribute('data-state', 'gone');
});
