import { expect, test, type Browser } from '@playwright/test';
import {
  APP_CHANNELS,
  closePages,
  reportDiagnostics,
  killChildren,
  MeshPage,
  pageOrigin,
  pexPunishments,
  Relay,
  sleep,
  startFixture,
  unique,
  WAIT_MS,
  waitUntil,
  type BootOptions,
  type Received,
} from './mesh-harness.js';

// Issue "Browser peer mesh": Chromium pages that know only a relay find each other by PEX, talk
// directly over WebRTC, and keep talking when the relay goes. Each test starts its own relays
// (`meshlink node` child processes) and serves its pages from disk (see mesh-harness.ts).

const ORIGIN = pageOrigin(47_301);
const NETWORK = 'mesh-e2e';
const [CH_A, CH_B] = APP_CHANNELS;
/**
 * The reload tests' pages use the relays' PEX interval (`meshlink node` keeps the default 30 s) instead
 * of the 500 ms: a page asking the relay for addresses more often than the relay's own minimum
 * (a third of its interval) is banned for ERR_PEX_REQUEST_TOO_SOON, which the first two tests catch;
 * here it would mask what these tests are about, the address book across a reload.
 */
const RELAY_PEX_INTERVAL_MS = 30_000;
/** A dial whose failure is known at once (the relay says so, or cannot carry signals) must fail within this. */
const FAIL_FAST_MS = 3_000;

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
  await killChildren();
});

function openPage(browser: Browser, options: Partial<BootOptions> & { db: string }): Promise<MeshPage> {
  return MeshPage.open(browser, ORIGIN, { network: NETWORK, ...options });
}

/** A page that knows only `relay`: it is the page's seed and persistent peer. */
function knowsOnly(relay: Relay): Pick<BootOptions, 'seeds' | 'persistentPeers'> {
  return { seeds: [relay.wsAddress], persistentPeers: [relay.wsAddress] };
}

/** The messages on `channel` from `from`, in arrival order. */
function texts(received: Received[], channel: number, from: string): string[] {
  return received.filter((message) => message.channel === channel && message.from === from).map((message) => message.text);
}

test('two pages find each other by PEX, talk over WebRTC, keep talking when the relay dies, and take it back when it returns', async ({ browser }) => {
  test.setTimeout(45_000);
  let relay = await Relay.start({ moniker: 'relay1', network: NETWORK });
  const [p1, p2] = await Promise.all([openPage(browser, { db: 'a1', ...knowsOnly(relay) }), openPage(browser, { db: 'a2', ...knowsOnly(relay) })]);

  // Discovery: neither page was told the other; the relay's PEX answer names webrtc://<id>?via=<relay>.
  // A relay that punishes a page for its PEX requests ends the wait at once (it bans the page for 24 h).
  const direct = async (): Promise<boolean> =>
    (await p1.peers()).some((peer) => peer.id === p2.nodeId && peer.transport === 'webrtc') &&
    (await p2.peers()).some((peer) => peer.id === p1.nodeId && peer.transport === 'webrtc');
  await waitUntil('a direct WebRTC link between the pages', direct, (linked) => linked, { abort: () => pexPunishments(relay) });
  // Whichever page dialled, each names the other by its relayed address.
  const [to2, to1] = await Promise.all([p1.waitPeer(p2.nodeId, 'webrtc'), p2.waitPeer(p1.nodeId, 'webrtc')]);
  expect(to2.address).toBe(`webrtc://${p2.nodeId}?via=${relay.nodeId}`);
  expect(to1.address).toBe(`webrtc://${p1.nodeId}?via=${relay.nodeId}`);
  expect([to2.direction, to1.direction].sort()).toEqual(['inbound', 'outbound']);
  expect(pexPunishments(relay), 'the relay stopped a page for its PEX requests').toBeUndefined();
  for (const page of [p1, p2]) expect((await page.peers()).find((peer) => peer.id === relay.nodeId)?.transport).toBe('ws');

  // Messages both ways on two channels, over the direct link.
  const before = { a: unique('p1→p2 A'), b: unique('p1→p2 B'), c: unique('p2→p1 A'), d: unique('p2→p1 B') };
  expect(await p1.send(CH_A, p2.nodeId, before.a)).toBe(true);
  expect(await p1.send(CH_B, p2.nodeId, before.b)).toBe(true);
  expect(await p2.send(CH_A, p1.nodeId, before.c)).toBe(true);
  expect(await p2.send(CH_B, p1.nodeId, before.d)).toBe(true);
  await expect.poll(async () => (await p2.received()).map((m) => m.text).sort(), { timeout: WAIT_MS }).toEqual([before.a, before.b].sort());
  await expect.poll(async () => (await p1.received()).map((m) => m.text).sort(), { timeout: WAIT_MS }).toEqual([before.c, before.d].sort());
  for (const message of [...(await p1.received()), ...(await p2.received())]) expect(message.transport).toBe('webrtc');

  // The relay dies (SIGKILL: no goodbye). Both pages lose it, not each other.
  await relay.kill();
  await Promise.all([p1.waitNoPeer(relay.nodeId, 10_000), p2.waitNoPeer(relay.nodeId, 10_000)]);
  const afterKill = { p1: [] as string[], p2: [] as string[] };
  for (let i = 0; i < 20; i++) {
    const channel = i % 2 === 0 ? CH_A : CH_B;
    const t1 = `after kill p1 #${i}`;
    const t2 = `after kill p2 #${i}`;
    expect(await p1.send(channel, p2.nodeId, t1)).toBe(true);
    expect(await p2.send(channel, p1.nodeId, t2)).toBe(true);
    afterKill.p1.push(t1);
    afterKill.p2.push(t2);
  }
  const expected = (list: string[], channel: number): string[] => list.filter((_, i) => (i % 2 === 0 ? CH_A : CH_B) === channel);
  await expect.poll(async () => (await p2.received()).length, { timeout: WAIT_MS }).toBe(2 + 20);
  await expect.poll(async () => (await p1.received()).length, { timeout: WAIT_MS }).toBe(2 + 20);
  const got2 = await p2.received();
  const got1 = await p1.received();
  // Every one arrived, once, in order per channel, over WebRTC.
  expect(texts(got2, CH_A, p1.nodeId)).toEqual([before.a, ...expected(afterKill.p1, CH_A)]);
  expect(texts(got2, CH_B, p1.nodeId)).toEqual([before.b, ...expected(afterKill.p1, CH_B)]);
  expect(texts(got1, CH_A, p2.nodeId)).toEqual([before.c, ...expected(afterKill.p2, CH_A)]);
  expect(texts(got1, CH_B, p2.nodeId)).toEqual([before.d, ...expected(afterKill.p2, CH_B)]);
  expect([...got1, ...got2].every((message) => message.transport === 'webrtc')).toBe(true);
  expect((await p1.peers()).map((peer) => [peer.id, peer.transport])).toEqual([[p2.nodeId, 'webrtc']]);

  // The relay comes back with the same home (same id, same ports): both pages redial it (backoff ≤ 2 s).
  relay = await relay.restart();
  const upAt = Date.now();
  await Promise.all([p1.waitPeer(relay.nodeId, 'ws', 10_000), p2.waitPeer(relay.nodeId, 'ws', 10_000)]);
  console.log(`mesh(a): both pages back on the relay ${Date.now() - upAt} ms after it printed "started" again`);
  // And the direct link was never dropped.
  expect((await p1.events()).filter((event) => event.event === 'disconnected' && event.peer === p2.nodeId)).toEqual([]);
  // The pages stay on the relay while their PEX keeps asking (every 500 ms, to a random peer).
  await sleep(2_000);
  expect(pexPunishments(relay), 'the relay stopped a page for its PEX requests').toBeUndefined();
  for (const page of [p1, p2]) expect((await page.peers()).map((peer) => peer.id).sort()).toEqual([relay.nodeId, page === p1 ? p2.nodeId : p1.nodeId].sort());
});

test('four pages and two relays form one mesh; a gossip message reaches every page exactly once', async ({ browser }) => {
  test.setTimeout(45_000);
  const relay1 = await Relay.start({ moniker: 'relay1', network: NETWORK });
  const relay2 = await Relay.start({ moniker: 'relay2', network: NETWORK, seeds: [relay1.tcpAddress] });
  await relay2.child.waitLine((line) => line['event'] === 'peer:connected' && line['peer'] === relay1.nodeId, 10_000);
  const pages = await Promise.all([
    openPage(browser, { db: 'b1', ...knowsOnly(relay1) }),
    openPage(browser, { db: 'b2', ...knowsOnly(relay1) }),
    openPage(browser, { db: 'b3', ...knowsOnly(relay2) }),
    openPage(browser, { db: 'b4', ...knowsOnly(relay2) }),
  ]);
  const ids = pages.map((page) => page.nodeId);

  // One connected WebRTC mesh among the pages (the gossip channel is on pages only, so it must be).
  const webrtcGraph = async (): Promise<Map<string, string[]>> =>
    new Map(
      await Promise.all(
        pages.map(async (page) => [page.nodeId, (await page.peers()).filter((peer) => peer.transport === 'webrtc').map((peer) => peer.id)] as [string, string[]]),
      ),
    );
  const reachable = (graph: Map<string, string[]>, from: string): number => {
    const seen = new Set([from]);
    const queue = [from];
    while (queue.length > 0) for (const next of graph.get(queue.shift()!) ?? []) if (!seen.has(next)) seen.add(next), queue.push(next);
    return seen.size;
  };
  await waitUntil('one WebRTC mesh of the 4 pages', async () => reachable(await webrtcGraph(), ids[0]!), (count) => count === 4, {
    timeoutMs: 20_000,
    intervalMs: 200,
    abort: () => pexPunishments(relay1, relay2),
  });
  expect(pexPunishments(relay1, relay2), 'a relay stopped a page for its PEX requests').toBeUndefined();
  // Pages of relay1 and of relay2 found each other across the relays.
  const graph = await webrtcGraph();
  expect([...graph.entries()].some(([id, links]) => ids.slice(0, 2).includes(id) && links.some((link) => ids.slice(2).includes(link)))).toBe(true);
  console.log(`mesh(b): webrtc degrees ${ids.map((id) => graph.get(id)!.length).join(',')}`);

  const text = unique('gossip');
  expect(await pages[0]!.page.evaluate((t) => window.__mesh!.gossip(t), text)).toBeGreaterThan(0);
  for (const page of pages.slice(1)) {
    await expect.poll(() => page.page.evaluate((t) => window.__mesh!.gossipDelivered().filter((m) => m.text === t).length, text), { timeout: WAIT_MS }).toBe(1);
  }
  await sleep(300); // anything still on its way arrives now
  for (const page of pages) {
    const delivered = await page.page.evaluate(() => window.__mesh!.gossipDelivered());
    expect(delivered.filter((m) => m.text === text).length).toBe(page === pages[0] ? 0 : 1);
  }
  const duplicates = await Promise.all(pages.map((page) => page.page.evaluate(() => window.__mesh!.gossipDuplicates())));
  console.log(`mesh(b): copies dropped by the seen-sets (a flood's redundancy): ${duplicates.join(',')}`);
  expect(pexPunishments(relay1, relay2), 'a relay stopped a page for its PEX requests').toBeUndefined();
});

test('a reload keeps the node id and reconnects from the saved address book, without being told the relay', async ({ browser }) => {
  const relay = await Relay.start({ moniker: 'relay1', network: NETWORK });
  const page = await openPage(browser, { db: 'c1', ...knowsOnly(relay), pexIntervalMs: RELAY_PEX_INTERVAL_MS });
  const id = page.nodeId;
  await page.waitPeer(relay.nodeId, 'ws');
  await expect.poll(() => page.page.evaluate(() => window.__mesh!.book()), { timeout: WAIT_MS }).toContain(relay.wsAddress);
  // The PEX agent saves the book every 2 minutes and in its stop(); see the next test for why the stop
  // on pagehide does not get it saved. An app saves it itself: `sw.getAgent('pex').book.save()`.
  await page.page.evaluate(() => window.__mesh!.saveBook());

  await page.page.reload();
  // Same IndexedDB name; no seeds, no persistent peers: only the book knows the relay.
  expect(await page.boot({ network: NETWORK, db: 'c1', seeds: [], persistentPeers: [], pexIntervalMs: RELAY_PEX_INTERVAL_MS })).toBe(id);
  const back = await page.waitPeer(relay.nodeId, 'ws', 10_000);
  expect(back).toMatchObject({ address: relay.wsAddress, direction: 'outbound' });
});

test('the address book survives a reload without the app saving it (pages save a changed book every second)', async ({ browser }) => {
  const relay = await Relay.start({ moniker: 'relay1', network: NETWORK });
  const page = await openPage(browser, { db: 'c2', ...knowsOnly(relay), pexIntervalMs: RELAY_PEX_INTERVAL_MS });
  const id = page.nodeId;
  await page.waitPeer(relay.nodeId, 'ws');
  await expect.poll(() => page.page.evaluate(() => window.__mesh!.book()), { timeout: WAIT_MS }).toContain(relay.wsAddress);
  // An unloading page cannot finish an IndexedDB write: what counts is the last periodic save
  // (BROWSER_BOOK_SAVE_INTERVAL_MS, 1 s), so the reload comes after one.
  await page.page.waitForTimeout(1500);

  await page.page.reload();
  expect(await page.boot({ network: NETWORK, db: 'c2', seeds: [], persistentPeers: [], pexIntervalMs: RELAY_PEX_INTERVAL_MS })).toBe(id);
  expect(await page.page.evaluate(() => window.__mesh!.book()), 'the book after the reload').toContain(relay.wsAddress);
  await page.waitPeer(relay.nodeId, 'ws', 10_000);
});

test('dials to a page that left, and through relays that forward nothing, fail fast with a typed error and leak no RTCPeerConnection', async ({ browser }) => {
  test.setTimeout(50_000);
  const [relay, plain, mute] = await Promise.all([
    Relay.start({ moniker: 'relay1', network: NETWORK }),
    // No signalling agent at all (createNode({ relay: false }) in Node): it does not even have channel 0x01.
    startFixture('plain-relay', ['e2e/fixtures/plain-relay.ts', '--network', NETWORK]),
    // A signalling agent that relays nothing (SignalAgent({ relay: false })).
    startFixture('mute-relay', ['e2e/fixtures/plain-relay.ts', '--network', NETWORK, '--signal']),
  ]);
  const wsOf = (listen: string[]): string => listen.find((address) => address.startsWith('ws://'))!;

  // PEX off: these pages dial only when told to.
  const a = await openPage(browser, { db: 'd1', pex: false, persistentPeers: [relay.wsAddress, wsOf(plain.listen), wsOf(mute.listen)] });
  const b = await openPage(browser, { db: 'd2', pex: false, persistentPeers: [relay.wsAddress] });
  await Promise.all([a.waitPeer(relay.nodeId, 'ws'), a.waitPeer(plain.nodeId, 'ws'), a.waitPeer(mute.nodeId, 'ws'), b.waitPeer(relay.nodeId, 'ws')]);

  // The path works while b is there.
  const toB = `webrtc://${b.nodeId}?via=${relay.nodeId}`;
  expect(await a.dial(toB)).toMatchObject({ ok: true, id: b.nodeId, transport: 'webrtc' });
  await expect.poll(() => a.rtcBalance(), { timeout: WAIT_MS }).toEqual({ open: 1, webrtcPeers: 1 });

  // b leaves: its app stops the node (links closed politely), then the tab goes. (Closing the tab
  // alone usually tells a at once too, but when the renderer dies before the RTCPeerConnection is
  // closed, a only notices when ICE fails, ~16 s later: not this test's subject.)
  const bId = b.nodeId;
  await b.page.evaluate(() => window.__mesh!.stop());
  await b.close();
  await a.waitNoPeer(bId, 10_000);
  await relay.child.waitLine((line) => line['event'] === 'peer:disconnected' && line['peer'] === bId, 10_000);
  await expect.poll(() => a.rtcBalance(), { timeout: WAIT_MS }).toEqual({ open: 0, webrtcPeers: 0 });

  // The relay answers "unreachable": the dial fails at once.
  const gone = await a.dial(toB);
  console.log(`mesh(d): dial to a page that left: ${JSON.stringify(gone)}`);
  expect(gone).toMatchObject({ ok: false, name: 'TransportError', code: 'ERR_TRANSPORT' });
  expect(gone.ms).toBeLessThan(FAIL_FAST_MS);
  await expect.poll(() => a.rtcBalance(), { timeout: WAIT_MS }).toEqual({ open: 0, webrtcPeers: 0 });

  // Relays that cannot forward the offer: the dial must fail fast too (not wait out the 10 s dial
  // timeout), and asking must not cost the page its connection to them.
  const someone = 'ab'.repeat(20);
  for (const [name, hub] of [
    ['no signalling agent', plain],
    ['signalling agent with relay: false', mute],
  ] as const) {
    const outcome = await a.dial(`webrtc://${someone}?via=${hub.nodeId}`);
    console.log(`mesh(d): dial through a relay with ${name}: ${JSON.stringify(outcome)}`);
    await expect.poll(() => a.rtcBalance(), { timeout: WAIT_MS }).toEqual({ open: 0, webrtcPeers: 0 });
    expect.soft(outcome, `dial through a relay with ${name}`).toMatchObject({ ok: false, code: expect.stringMatching(/^ERR_/) });
    expect.soft(outcome.ms, `dial through a relay with ${name}: time to fail`).toBeLessThan(FAIL_FAST_MS);
    expect.soft((await a.events()).filter((event) => event.event === 'disconnected' && event.peer === hub.nodeId), `${name}: the page keeps that relay`).toEqual([]);
  }
  await expect.poll(async () => (await a.peers()).map((peer) => peer.id).sort(), { timeout: WAIT_MS }).toEqual([relay.nodeId, plain.nodeId, mute.nodeId].sort());
});

test.afterAll(async () => {
  await killChildren();
});
