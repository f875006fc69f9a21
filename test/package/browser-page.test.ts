import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { build as esbuild } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { build as viteBuild } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installApp, spawnLines, type LineProcess } from './helpers/packed.js';
import { BUNDLED_INDEX_HTML, CHROMIUM_ARGS, CHROMIUM_PATH, INDEX_HTML, serveDirectory } from './helpers/page-server.js';
import { readmeSnippets, snippetNamed } from './helpers/readme-snippets.js';

// Issue #13: the README's browser page, bundled from the installed tarball by esbuild and by Vite as a
// user would (no alias, no shims), loads in real Chromium and connects to a relay run by the package's
// own `meshlink` program.
const SETUP_TIMEOUT_MS = 300_000;
const CONNECT_TIMEOUT_MS = 30_000;

let app = '';
let work = '';
let relay: LineProcess;
let relayId = '';
let relayWs = '';
let browser: Browser;
const servers: Server[] = [];

beforeAll(async () => {
  const [browserApp, nodeApp] = await Promise.all([installApp('browser'), installApp('node')]);
  app = join(browserApp, `page-${process.pid}`);
  await rm(app, { recursive: true, force: true });
  await mkdir(app);
  const readme = await readFile(join(browserApp, 'node_modules/meshlink/README.md'), 'utf8');
  await writeFile(join(app, 'main.ts'), snippetNamed(readmeSnippets(readme), 'browser-page').code);
  await writeFile(join(app, 'index.html'), INDEX_HTML);
  work = await mkdtemp(join(tmpdir(), 'meshlink-page-'));

  // The relay as the README starts it, on free ports: the installed package's bin.
  relay = spawnLines(join(nodeApp, 'node_modules/.bin/meshlink'), ['node', '--listen', 'tcp://127.0.0.1:0', '--ws', '127.0.0.1:0', '--network', 'my-app', '--home', join(work, 'relay-home')], { cwd: nodeApp });
  const started = JSON.parse(await relay.waitLine((line) => line.includes('"started"'), CONNECT_TIMEOUT_MS)) as { nodeId: string; listen: string[] };
  relayId = started.nodeId;
  relayWs = started.listen.find((address) => address.startsWith('ws://'))!;
  expect(relayWs).toMatch(/^ws:\/\/[0-9a-f]{40}@127\.0\.0\.1:\d+/);
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  for (const server of servers) server.close();
  if (work !== '') await rm(work, { recursive: true, force: true });
  if (app !== '') await rm(app, { recursive: true, force: true });
});

/** Serves `dir` on a free loopback port until the end; returns its origin. */
async function serve(dir: string): Promise<string> {
  const { server, origin } = await serveDirectory(dir);
  servers.push(server);
  return origin;
}

/** Opens the page with `?relay=` and waits for the README's log line naming the relay. */
async function openPage(origin: string): Promise<string> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const logs: string[] = [];
    page.on('console', (message) => logs.push(message.text()));
    page.on('pageerror', (error) => logs.push(`pageerror: ${error.message}`));
    const connected = page.waitForEvent('console', { predicate: (message) => message.text().startsWith(`connected to ${relayId}`), timeout: CONNECT_TIMEOUT_MS });
    await page.goto(`${origin}/index.html?relay=${encodeURIComponent(relayWs)}`);
    const line = await connected.then((message) => message.text(), (error: Error) => `${error.message}; console: ${logs.join(' | ')}`);
    const databases = await page.evaluate(() => indexedDB.databases().then((dbs) => dbs.map((db) => db.name).join(',')));
    expect(databases, "the page keeps its key in IndexedDB").not.toBe("");
    return line;
  } finally {
    await context.close();
  }
}

describe("the README's browser page, bundled from the installed package", () => {
  it('esbuild bundles it through `meshlink/browser` and the page connects to the relay over WebSocket', async () => {
    const out = join(app, 'esbuild-out');
    const result = await esbuild({
      absWorkingDir: app,
      entryPoints: [join(app, 'main.ts')],
      outdir: out,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.includes('node_modules/meshlink/dist/platforms/browser/index.js'))).toBe(true);
    expect(inputs.filter((input) => input.includes('/platforms/node/'))).toEqual([]);
    await writeFile(join(out, 'index.html'), BUNDLED_INDEX_HTML);
    expect(await openPage(await serve(out))).toBe(`connected to ${relayId} over ws`);
    await relay.waitLine((line) => line.includes('"peer:connected"'), CONNECT_TIMEOUT_MS);
  }, 90_000);

  it('Vite builds it with no configuration and the page connects to the relay over WebSocket', async () => {
    const out = join(app, 'vite-out');
    const output = await viteBuild({ root: app, configFile: false, logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
    const modules = (Array.isArray(output) ? output : [output])
      .flatMap((result) => ('output' in result ? result.output : []))
      .flatMap((item) => (item.type === 'chunk' ? item.moduleIds : []));
    expect(modules.some((id) => id.includes(`node_modules${sep}meshlink${sep}dist${sep}platforms${sep}browser${sep}index.js`))).toBe(true);
    expect(modules.filter((id) => id.includes(`${sep}platforms${sep}node${sep}`))).toEqual([]);
    expect(await openPage(await serve(out))).toBe(`connected to ${relayId} over ws`);
  }, 90_000);
});
