import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import type { Graph } from '../demo/web/graph-model.js';
import { graph, sendChat, statusText, uniqueText, waitChat, waitRunning } from './demo-page.js';

// The demo as a newcomer runs it: `npm start` (demo/start.ts: a relay serving the page, plus two Node
// nodes), started here as its own process on free ports, and four tabs of one browser (one context:
// shared IndexedDB, one key slot each). The tabs must find each other through the relay and link
// directly over WebRTC, chat, survive the relay's death (SIGKILL) and rejoin it when it restarts with
// the same --home (same node id) on the same ports.

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TABS = 4;
/** Bound of the demo process printing its addresses. */
const START_MS = 20_000;
/** Bound of four tabs finding each other and linking directly. */
const MESH_MS = 30_000;
const STEP_MS = 10_000;

interface Ports {
  tcp: number;
  ws: number;
  web: number;
}

/** `node --import tsx demo/start.ts …`: what `npm start` runs (after building the page), in one process. */
class Demo {
  readonly lines: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.lines.push(line));
    createInterface({ input: child.stderr! }).on('line', (line) => this.lines.push(`stderr: ${line}`));
    this.exited = new Promise((done) => child.once('exit', () => done()));
  }

  static async start(home: string, ports: Ports = { tcp: 0, ws: 0, web: 0 }): Promise<{ demo: Demo; relayId: string; url: string; ports: Ports }> {
    const args = ['--import', 'tsx', 'demo/start.ts', '--home', home, '--tcp', `127.0.0.1:${ports.tcp}`, '--ws', `127.0.0.1:${ports.ws}`, '--web', `127.0.0.1:${ports.web}`];
    const demo = new Demo(spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } }));
    const listening = await demo.waitLine(/^relay +listening on tcp:\/\/([0-9a-f]{40})@127\.0\.0\.1:(\d+) and ws:\/\/[0-9a-f]{40}@127\.0\.0\.1:(\d+)\/$/);
    const serving = await demo.waitLine(/^relay +serving the demo page at (http:\/\/127\.0\.0\.1:(\d+))\/$/);
    return { demo, relayId: listening[1]!, url: `${serving[1]!}/`, ports: { tcp: Number(listening[2]), ws: Number(listening[3]), web: Number(serving[2]) } };
  }

  async waitLine(pattern: RegExp, timeoutMs = START_MS): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines) {
        const match = pattern.exec(line);
        if (match !== null) return match;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`the demo exited; its output:\n${this.lines.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`no line matching ${pattern} within ${timeoutMs} ms; the demo printed:\n${this.lines.join('\n')}`);
      await new Promise((done) => setTimeout(done, 50));
    }
  }

  /** "The relay dies": SIGKILL, no goodbye to anyone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await Promise.race([this.exited, new Promise((done) => setTimeout(done, 5_000))]);
  }
}

/** Every tab live on the graph with the relay, a WebRTC link between each two tabs, and (if asked) a WebSocket link from each tab to the relay. */
function meshComplete(view: Graph, tabs: readonly string[], relayId: string, relayUp: boolean): string | true {
  const live = new Set(view.nodes.filter((node) => node.state === 'live').map((node) => node.id));
  const missing = tabs.filter((id) => !live.has(id));
  if (missing.length > 0) return `tabs missing: ${missing.map((id) => id.slice(0, 8)).join(', ')}`;
  const relayNode = view.nodes.find((node) => node.id === relayId);
  if (relayNode?.kind !== 'relay' || relayNode.state !== (relayUp ? 'live' : 'gone')) return `relay is ${JSON.stringify(relayNode) ?? 'not on the graph'}`;
  const transport = (a: string, b: string): string | undefined =>
    view.links.find((link) => (link.a === a && link.b === b) || (link.a === b && link.b === a))?.transport;
  for (let i = 0; i < tabs.length; i++) {
    for (let j = i + 1; j < tabs.length; j++) {
      const t = transport(tabs[i]!, tabs[j]!);
      if (t !== 'webrtc') return `${tabs[i]!.slice(0, 8)}–${tabs[j]!.slice(0, 8)} is ${t ?? 'not linked'}`;
    }
    const toRelay = transport(tabs[i]!, relayId);
    if (relayUp ? toRelay !== 'ws' : toRelay !== undefined) return `${tabs[i]!.slice(0, 8)}–relay is ${toRelay ?? 'not linked'}`;
  }
  return true;
}

async function waitMesh(pages: readonly Page[], tabs: readonly string[], relayId: string, relayUp: boolean, timeout: number): Promise<void> {
  const check = async (page: Page, i: number): Promise<string | true> => {
    const outcome = meshComplete(await graph(page), tabs, relayId, relayUp);
    if (outcome === true) return true;
    const detail = await page.evaluate(() => ({ peers: window.meshlinkDemo!.peers(), topology: window.meshlinkDemo!.topology()?.nodes.map(({ id, kind, ageMs, hops, via, links }) => ({ id, kind, ageMs, hops, via, links })) }));
    return `tab ${i + 1}: ${outcome}; ${JSON.stringify(detail)}`;
  };
  await expect
    .poll(async () => (await Promise.all(pages.map(check))).find((outcome) => outcome !== true) ?? true, { timeout, intervals: [250] })
    .toBe(true);
}

/** Sends from `from` and checks every other tab gets it exactly once; returns how it arrived in each. */
async function chatOnce(pages: readonly Page[], from: number, label: string): Promise<{ hops: number; transport: string | undefined }[]> {
  const text = uniqueText(label);
  await sendChat(pages[from]!, text);
  const copies = await Promise.all(pages.map((page) => waitChat(page, text, STEP_MS)));
  // A short settle lets any duplicate that was on its way arrive.
  await new Promise((done) => setTimeout(done, 300));
  const after = await Promise.all(pages.map((page) => waitChat(page, text, STEP_MS)));
  for (const list of [...copies, ...after]) expect(list).toHaveLength(1);
  return after.filter((_, i) => i !== from).map(([message]) => ({ hops: message!.hops, transport: message!.transport }));
}

// Tracing snapshots four busy pages on every step, which slows them down on a loaded machine; the
// failure messages below carry what is needed (each tab's peers and topology table).
test.use({ trace: 'off' });

test('four tabs find each other through the relay, link directly over WebRTC, chat, outlive the relay and rejoin it', async ({ browser }, testInfo) => {
  test.setTimeout(80_000);
  /** A step whose duration is recorded as an annotation of the test (shown by the reporters). */
  const phase = async <T>(name: string, body: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await test.step(name, body);
    testInfo.annotations.push({ type: 'phase', description: `${name}: ${Date.now() - started} ms` });
    return result;
  };
  const home = mkdtempSync(join(tmpdir(), 'meshlink-demo-mesh-'));
  let { demo, relayId, url, ports } = await phase('start the demo', () => Demo.start(home));
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const pages = await Promise.all(Array.from({ length: TABS }, () => context.newPage()));
    const tabs = await phase('open four tabs', () =>
      Promise.all(
        pages.map(async (page) => {
          await page.goto(url);
          return waitRunning(page);
        }),
      ),
    );
    expect(new Set(tabs).size).toBe(TABS);

    await phase('every graph shows the four tabs, linked pairwise over WebRTC, and the relay', async () => {
      await waitMesh(pages, tabs, relayId, true, MESH_MS);
      for (const page of pages) await expect(page.getByRole('status')).toHaveText(/^Connected to the relay and 3 peers directly/);
      for (const page of pages) await expect(page.locator(`#graph .node[data-id="${relayId}"]`)).toHaveAttribute('data-state', 'live');
    });

    await phase('a chat message reaches every tab once', async () => {
      const arrivals = await chatOnce(pages, 0, 'hello from tab 1');
      for (const arrival of arrivals) expect(arrival.hops).toBeGreaterThanOrEqual(1);
      await expect(pages[1]!.locator('#chat-log li').last()).toContainText('hello from tab 1');
      // The relay hears it too (npm start prints the chat).
      const author = await pages[0]!.evaluate(() => window.meshlinkDemo!.moniker!);
      await demo.waitLine(new RegExp(`^relay +chat from ${author} \\(${tabs[0]!.slice(0, 8)}\\), [12] hops?: "hello from tab 1 `), STEP_MS);
    });

    await phase('screenshot', async () => {
      // Some traffic for the plot (it samples once a second), then the picture a newcomer sees.
      expect((await pages[0]!.evaluate(() => window.meshlinkDemo!.burst(50))).peers).toBeGreaterThanOrEqual(TABS);
      await pages[0]!.waitForTimeout(1_100);
      const shot = testInfo.outputPath('demo-mesh.png');
      await pages[0]!.screenshot({ path: shot, fullPage: true });
      await testInfo.attach('demo page with four tabs', { path: shot, contentType: 'image/png' });
    });

    await phase('the relay dies: the graph marks it gone, the tabs keep their direct links', async () => {
      await demo.kill();
      await waitMesh(pages, tabs, relayId, false, STEP_MS);
      for (const page of pages) {
        await expect(page.getByRole('status')).toHaveText(/^Relay down: 3 direct peers still connected, (retrying in \d+ s|reconnecting now)/);
        await expect(page.locator(`#graph .node[data-id="${relayId}"]`)).toHaveAttribute('data-state', 'gone');
      }
    });

    await phase('the tabs keep chatting without the relay', async () => {
      const withoutRelay = await chatOnce(pages, 1, 'still here without the relay');
      // Over WebRTC only; usually straight from the sender, but on a busy machine another tab may pass it on first.
      for (const arrival of withoutRelay) expect(arrival).toEqual({ hops: expect.any(Number), transport: 'webrtc' });
      expect(Math.max(...withoutRelay.map((arrival) => arrival.hops))).toBeLessThanOrEqual(2);
    });

    await phase('the relay restarts (same home, same ports) and every tab rejoins it', async () => {
      const again = await Demo.start(home, ports);
      demo = again.demo;
      expect(again.relayId).toBe(relayId);
      await waitMesh(pages, tabs, relayId, true, 15_000);
      for (const page of pages) expect(await statusText(page)).toMatch(/^Connected to the relay and 3 peers directly/);
      await chatOnce(pages, 2, 'the relay is back');
    });
  } finally {
    await context.close();
    await demo.kill();
    rmSync(home, { recursive: true, force: true });
  }
});
