import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { expect, test, type Browser } from '@playwright/test';
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';
import { closePages, killChildren, newPageContext, pageOrigin, Relay, REPO, reportDiagnostics, tempDir, WAIT_MS } from './mesh-harness.js';

// Issue "Browser peer mesh": the SDK works in a user's own bundle. A tiny app
// (e2e/fixtures/tiny-app: `import { createNode } from 'meshlink'`) is bundled with esbuild and with Vite
// as a user would: 'meshlink' is a package in node_modules (a symlink to this repository), resolved
// through package.json "exports" and its "browser" condition (dist/platforms/browser/index.js), with no
// alias and no shims. Each build is served from disk and must connect to a relay over WebSocket.

const NETWORK = 'bundlers-e2e';
const FIXTURE = join(REPO, 'e2e/fixtures/tiny-app');
/** What "exports" → "." → "browser" names: the bundles must contain it, and nothing of platforms/node. */
const BROWSER_ENTRY = join(REPO, 'dist/platforms/browser/index.js');

let app: string;
let relay: Relay;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  rebuildDistIfStale();
  // A user's project: the app's files, and node_modules/meshlink → this repository.
  const project = tempDir('tiny-app');
  app = join(project, 'app');
  mkdirSync(app);
  for (const file of ['index.html', 'main.ts']) copyFileSync(join(FIXTURE, file), join(app, file));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(REPO, join(project, 'node_modules/meshlink'), 'dir');
  relay = await Relay.start({ moniker: 'relay1', network: NETWORK });
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
});

test.afterAll(async () => {
  await killChildren();
});

/** dist/ is what "exports" points at: rebuild it (tsc) when a source file is newer. */
function rebuildDistIfStale(): void {
  const built = existsSync(BROWSER_ENTRY) ? statSync(BROWSER_ENTRY).mtimeMs : 0;
  const newest = Math.max(...['src', 'platforms/browser'].flatMap((dir) => sourceFiles(join(REPO, dir)).map((file) => statSync(file).mtimeMs)));
  if (newest <= built) return;
  console.log('bundlers: dist/ is older than the sources; running tsc -p tsconfig.build.json');
  try {
    execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'pipe', timeout: 110_000 });
  } catch (error) {
    // tsc still emits when it finds type errors (exit code 2); a test of the bundling can go on then.
    const emitted = existsSync(BROWSER_ENTRY) && statSync(BROWSER_ENTRY).mtimeMs > built;
    const output = String((error as { stdout?: unknown }).stdout ?? '').slice(0, 2000);
    if (!emitted) throw new Error(`tsc -p tsconfig.build.json failed and did not emit ${BROWSER_ENTRY}:\n${output}`, { cause: error });
    console.warn(`bundlers: tsc reported errors but emitted dist/:\n${output}`);
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** Serves `dir` at `origin` (index.html for '/') and opens the app there, told the relay's address. */
async function openApp(browser: Browser, origin: string, dir: string): Promise<{ nodeId: string; peers: { id: string; transport: string }[] }> {
  const context = await newPageContext(browser);
  await context.route(`${origin}/**`, async (route) => {
    const path = new URL(route.request().url()).pathname;
    const file = resolve(dir, `.${path === '/' ? '/index.html' : path}`);
    if (!file.startsWith(dir + sep) || !existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    const type = file.endsWith('.html') ? 'text/html' : file.endsWith('.js') ? 'text/javascript' : 'application/octet-stream';
    return route.fulfill({ path: file, contentType: type });
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await page.goto(`${origin}/?relay=${encodeURIComponent(relay.wsAddress)}&network=${NETWORK}`);
    await page.waitForFunction(() => window.tinyApp !== undefined && window.tinyApp.state !== 'starting', null, { timeout: WAIT_MS });
    expect(await page.evaluate(() => window.tinyApp!.error), `page errors: ${errors.join('; ')}`).toBeUndefined();
    await page.waitForFunction((id) => window.tinyApp!.peers().some((peer) => peer.id === id), relay.nodeId, { timeout: WAIT_MS });
    await expect(page.locator('#status')).toHaveText(`connected to ${relay.nodeId} over ws`);
    return await page.evaluate(() => ({ nodeId: window.tinyApp!.nodeId!, peers: window.tinyApp!.peers() }));
  } finally {
    await context.close();
  }
}

test('esbuild: the tiny app bundles through package.json exports (browser condition) and connects to the relay', async ({ browser }) => {
  const out = tempDir('esbuild-out');
  const started = Date.now();
  const result = await esbuild({
    absWorkingDir: app,
    entryPoints: [join(app, 'main.ts')],
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['browser'],
    target: 'es2022',
    metafile: true,
    logLevel: 'silent',
  });
  console.log(`bundlers: esbuild built in ${Date.now() - started} ms`);
  expect(result.errors).toEqual([]);
  const inputs = Object.keys(result.metafile.inputs).map((input) => resolve(app, input));
  expect(inputs).toContain(BROWSER_ENTRY);
  expect(inputs.filter((input) => input.includes(`${sep}platforms${sep}node${sep}`) || input.endsWith('.ts') && !input.startsWith(app))).toEqual([]);
  writeFileSync(join(out, 'index.html'), readFileSync(join(app, 'index.html'), 'utf8').replace('./main.ts', './main.js'));

  const { nodeId, peers } = await openApp(browser, pageOrigin(47_303), out);
  expect(peers).toEqual([{ id: relay.nodeId, transport: 'ws' }]);
  await relay.child.waitLine((line) => line['event'] === 'peer:connected' && line['peer'] === nodeId, WAIT_MS);
});

test('Vite: the tiny app builds through package.json exports (browser condition) and connects to the relay', async ({ browser }) => {
  test.setTimeout(60_000);
  const out = tempDir('vite-out');
  const started = Date.now();
  const output = await viteBuild({
    root: app,
    configFile: false,
    logLevel: 'warn',
    build: { outDir: out, emptyOutDir: true },
  });
  console.log(`bundlers: Vite built in ${Date.now() - started} ms`);
  const chunks = (Array.isArray(output) ? output : [output]).flatMap((result) => ('output' in result ? result.output : [])).filter((item) => item.type === 'chunk');
  const modules = chunks.flatMap((chunk) => chunk.moduleIds);
  expect(modules).toContain(BROWSER_ENTRY);
  expect(modules.filter((id) => id.includes(`${sep}platforms${sep}node${sep}`))).toEqual([]);
  expect(existsSync(join(out, 'index.html'))).toBe(true);

  const { nodeId, peers } = await openApp(browser, pageOrigin(47_304), out);
  expect(peers).toEqual([{ id: relay.nodeId, transport: 'ws' }]);
  await relay.child.waitLine((line) => line['event'] === 'peer:connected' && line['peer'] === nodeId, WAIT_MS);
});
