import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build as esbuild } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installApp, spawnLines, type LineProcess } from './helpers/packed.js';
import { BUNDLED_INDEX_HTML, CHROMIUM_ARGS, CHROMIUM_PATH, serveDirectory } from './helpers/page-server.js';
import { readmeSnippets, snippetNamed } from './helpers/readme-snippets.js';

// Issue #13, "Docs": the README's `browser-mesh` snippet runs as written in Chromium, bundled from the
// installed tarball. Its addresses are the README's: `relay.example.org:26657` and `stun.example.org:3478`
// resolve to 127.0.0.1 inside the browser (Chromium's host resolver rules), and a relay run by the
// package's own `meshlink` program listens on 127.0.0.1:26657. Only `<relayId>` is filled in.
const SETUP_TIMEOUT_MS = 300_000;
const CONNECT_TIMEOUT_MS = 30_000;
/**
 * A page dials what PEX taught it at its next ensure-peers round: every 30 s by default (the snippet
 * keeps the defaults), then up to 3 s of jitter and the WebRTC negotiation.
 */
const WEBRTC_LINK_TIMEOUT_MS = 75_000;
/** Fixed by the snippet's address; no other test listens there (they all take free ports). */
const RELAY_PORT = 26657;
const RELAY_ID_PLACEHOLDER = '<relayId>';
const HOST_RULES = '--host-resolver-rules=MAP relay.example.org 127.0.0.1, MAP stun.example.org 127.0.0.1';
/** Chromium would otherwise hide its host candidates behind mDNS names the other page must resolve. */
const SHOW_HOST_CANDIDATES = '--disable-features=WebRtcHideLocalIpsWithMdns';
/**
 * Appended by this test, not in the README: hands the node the snippet made to the test, which reads
 * its peers and sends one message. Everything above it is the snippet as written.
 */
const EXPOSE_NODE = '\nObject.assign(globalThis, { readmeNode: node });\n';
const CHAT_CHANNEL = 0x40;

/** The members of the page's Switch the test reads (the page's `readmeNode`). */
interface PageNode {
  nodeId: string;
  isRunning: boolean;
  peers: { id: string; transport: string; address: string }[];
  getPeer(id: string): { send(channelId: number, message: Uint8Array): Promise<boolean> } | undefined;
}

let work = '';
let relay: LineProcess | undefined;
let relayId = '';
let origin = '';
let server: Server | undefined;
let browser: Browser | undefined;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  const [browserApp, nodeApp] = await Promise.all([installApp('browser'), installApp('node')]);
  await refuseIfTaken(RELAY_PORT);
  work = await mkdtemp(join(tmpdir(), 'meshlink-browser-mesh-'));

  // The relay as the README starts it (`meshlink node --ws …`), on the snippet's port.
  relay = spawnLines(join(nodeApp, 'node_modules/.bin/meshlink'), ['node', '--listen', 'tcp://127.0.0.1:0', '--ws', `127.0.0.1:${RELAY_PORT}`, '--home', join(work, 'relay-home')], { cwd: nodeApp });
  const started = JSON.parse(await relay.waitLine((line) => line.includes('"started"'), CONNECT_TIMEOUT_MS)) as { nodeId: string };
  relayId = started.nodeId;

  const readme = await readFile(join(browserApp, 'node_modules/meshlink/README.md'), 'utf8');
  const snippet = snippetNamed(readmeSnippets(readme), 'browser-mesh').code;
  expect(snippet.split(RELAY_ID_PLACEHOLDER).length - 1, 'the snippet names <relayId> once').toBe(1);
  const app = join(browserApp, `mesh-${process.pid}`);
  await rm(app, { recursive: true, force: true });
  await mkdir(app);
  await writeFile(join(app, 'main.ts'), snippet.replace(RELAY_ID_PLACEHOLDER, relayId) + EXPOSE_NODE);
  const out = join(work, 'out');
  try {
    // As a user bundles it: esbuild, no configuration beyond "bundle for the browser".
    const result = await esbuild({ absWorkingDir: app, entryPoints: [join(app, 'main.ts')], outdir: out, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent' });
    expect(result.errors).toEqual([]);
  } finally {
    await rm(app, { recursive: true, force: true });
  }
  await writeFile(join(out, 'index.html'), BUNDLED_INDEX_HTML);
  ({ server, origin } = await serveDirectory(out));
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, SHOW_HOST_CANDIDATES, HOST_RULES] });
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await relay?.stop();
  server?.close();
  if (work !== '') await rm(work, { recursive: true, force: true });
});

/** Fails with a clear message when something already listens where the snippet's relay must. */
async function refuseIfTaken(port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`127.0.0.1:${port} is taken (${error.code ?? error.message}): the README's browser-mesh snippet dials relay.example.org:${port}, so this test runs its relay there. Stop what listens on it (\`npm start\` does by default) and run again.`)),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** A fresh browser profile (its own IndexedDB, so its own node id) running the snippet; resolves once its node runs. */
async function openPage(): Promise<{ page: Page; nodeId: string; logs: string[] }> {
  const context = await browser!.newContext();
  contexts.push(context);
  const page = await context.newPage();
  const logs: string[] = [];
  page.on('console', (message) => logs.push(message.text()));
  page.on('pageerror', (error) => logs.push(`pageerror: ${error.message}`));
  await page.goto(`${origin}/index.html`);
  await page
    .waitForFunction(() => (globalThis as { readmeNode?: PageNode }).readmeNode?.isRunning === true, undefined, { timeout: CONNECT_TIMEOUT_MS })
    .catch((error: Error) => {
      throw new Error(`${error.message}; console: ${logs.join(' | ')}`);
    });
  const nodeId = await page.evaluate(() => (globalThis as unknown as { readmeNode: PageNode }).readmeNode.nodeId);
  return { page, nodeId, logs };
}

/** Resolves once the page's peers include every `id transport` in `expected`. */
async function waitForPeers(page: Page, expected: string[], logs: string[], timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
  await page
    .waitForFunction(
      (want) => {
        const have = (globalThis as unknown as { readmeNode: PageNode }).readmeNode.peers.map((peer) => `${peer.id} ${peer.transport}`);
        return want.every((entry) => have.includes(entry));
      },
      expected,
      { timeout: timeoutMs, polling: 100 },
    )
    .catch((error: Error) => {
      throw new Error(`${error.message}; wanted ${expected.join(', ')}; console: ${logs.join(' | ')}`);
    });
}

describe("the README's browser mesh, run as written in Chromium from the installed package", () => {
  /** The page the first test opens; the second test links a second page to it. */
  let firstPage: { page: Page; nodeId: string; logs: string[] } | undefined;

  it('a page joins the relay at ws://<relayId>@relay.example.org:26657/ (the relay sees the page)', async () => {
    const first = await openPage();
    firstPage = first;
    expect(first.nodeId).toMatch(/^[0-9a-f]{40}$/);
    // Seen from outside: the relay logs an inbound peer with the page's id.
    const line = await relay!.waitLine((text) => text.includes('"peer:connected"') && text.includes(first.nodeId), CONNECT_TIMEOUT_MS);
    expect(JSON.parse(line)).toMatchObject({ event: 'peer:connected', peer: first.nodeId, direction: 'inbound' });
    // And the page reached it by the README's name, over WebSocket.
    await waitForPeers(first.page, [`${relayId} ws`], first.logs);
    const address = await first.page.evaluate((id) => (globalThis as unknown as { readmeNode: PageNode }).readmeNode.peers.find((peer) => peer.id === id)?.address, relayId);
    expect(address).toBe(`ws://${relayId}@relay.example.org:${RELAY_PORT}/`);
  }, 60_000);

  it("a second page finds the first through the relay's PEX, links to it over WebRTC, and the snippet's agent logs what it sends", async () => {
    const first = firstPage;
    if (first === undefined) throw new Error('the first page did not open (see the test above)');
    const second = await openPage();
    expect(second.nodeId).not.toBe(first.nodeId);
    await relay!.waitLine((text) => text.includes('"peer:connected"') && text.includes(second.nodeId), CONNECT_TIMEOUT_MS);
    const linkStarted = Date.now();
    await waitForPeers(second.page, [`${relayId} ws`, `${first.nodeId} webrtc`], second.logs, WEBRTC_LINK_TIMEOUT_MS);
    await waitForPeers(first.page, [`${relayId} ws`, `${second.nodeId} webrtc`], first.logs);
    console.log(`pages linked over WebRTC ${Date.now() - linkStarted} ms after the second joined the relay`);

    const logged = second.page.waitForEvent('console', { predicate: (message) => message.text().startsWith(`${first.nodeId} webrtc `), timeout: CONNECT_TIMEOUT_MS });
    const sent = await first.page.evaluate(
      ([to, channel]) => (globalThis as unknown as { readmeNode: PageNode }).readmeNode.getPeer(to)!.send(channel, new TextEncoder().encode('hi')),
      [second.nodeId, CHAT_CHANNEL] as const,
    );
    expect(sent).toBe(true);
    await logged; // the snippet's `console.log(peer.id, peer.transport, msg)` on the second page
  }, 150_000);
});
