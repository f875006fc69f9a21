import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import puppeteer, { type Browser as FirefoxBrowser, type BrowserContext as FirefoxContext } from 'puppeteer-core';
import { DEFAULT_NETWORK } from '../src/node-options.js';

// Test 7 of "Browser peer mesh": a second browser engine. A Firefox ESR page (puppeteer-core over
// WebDriver BiDi; Playwright 1.65's BiDi Firefox does not work with ESR 153) and a Chromium page (this
// config's Playwright Chromium) join one real relay (`meshlink node --ws`, spawned here) over WebSocket,
// then link to each other over a WebRTC data channel signalled through that relay, once dialled from each
// side, and exchange messages on an app channel. Both pages run the shipped browser bundle, served with a
// blank page from a small HTTP server in this file. PEX is off: the only WebRTC dial is the explicit one.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIREFOX = '/usr/bin/firefox-esr';
/**
 * Without a microphone permission Firefox gathers only the default-route address; with it (no prompt,
 * no getUserMedia) plus loopback gathering it offers 127.0.0.1/::1 host candidates, and no mDNS names.
 */
const FIREFOX_WEBRTC_PREFS = {
  'permissions.default.microphone': 1,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
};
/** The relay runs with the CLI's default network. */
const NETWORK = DEFAULT_NETWORK;
const APP_CHANNEL = 0x40;
/** Bound of each wait inside a test (relay connection, WebRTC dial, messages arriving). */
const WAIT_MS = 15_000;
/** One large message per direction: split into many 16 KiB data-channel chunks and reassembled. */
const LARGE_BYTES = 200 * 1024;

test.describe.configure({ mode: 'default', timeout: 60_000 });

// ---------------------------------------------------------------------------------------------------
// The page side: plain JavaScript evaluated as a string (Playwright and puppeteer both evaluate string
// expressions and await the promise they yield), so no test transpiler touches `import()`.

const PAGE_HARNESS = String.raw`
window.__mesh ??= (() => {
  const messages = [];
  const events = [];
  const pcs = [];
  let sw;
  // Diagnostics only: remember each RTCPeerConnection simple-peer makes (the real object is returned).
  const NativePC = window.RTCPeerConnection;
  window.RTCPeerConnection = new Proxy(NativePC, {
    construct(target, args) { const pc = Reflect.construct(target, args); pcs.push(pc); return pc; },
  });
  const describe = (peer) => ({ id: peer.id, transport: peer.transport, direction: peer.direction, address: peer.address });
  const failure = (error) => ({ error: [error?.name, error?.code, error?.message].filter(Boolean).join(' ') || String(error) });
  const pattern = (n, seed) => { let s = ''; for (let i = 0; i < n; i++) s += String.fromCharCode(97 + ((i * 7 + seed) % 26)); return s; };
  return {
    async start({ dbName, network, relay, moniker }) {
      const m = await import('/meshlink.js');
      sw = await m.createNode({ storage: new m.IndexedDbStorage(dbName), network, persistentPeers: [relay], pex: false, moniker });
      sw.addAgent('app', {
        channels: [{ id: ${APP_CHANNEL}, priority: 5 }],
        receive(channelId, peer, message) {
          const text = new TextDecoder().decode(message);
          messages.push({ channelId, from: peer.id, transport: peer.transport, length: text.length, text: text.length > 200 ? text.slice(0, 40) : text, full: text });
        },
      });
      sw.on('peer:connected', ({ peer }) => events.push({ at: Math.round(performance.now()), type: 'connected', ...describe(peer) }));
      sw.on('peer:disconnected', ({ peer, reason }) => events.push({ at: Math.round(performance.now()), type: 'disconnected', ...describe(peer), reason: reason?.message }));
      await sw.start();
      return sw.nodeId;
    },
    peers() { return sw === undefined ? [] : [...sw.peers].map(describe); },
    async dial(address) {
      const t0 = performance.now();
      try {
        const peer = await sw.dial(address);
        return { ...describe(peer), ms: Math.round(performance.now() - t0) };
      } catch (error) {
        return { ...failure(error), ms: Math.round(performance.now() - t0) };
      }
    },
    async send(to, texts) {
      const peer = sw.getPeer(to);
      if (peer === undefined) return { error: 'not connected to ' + to };
      const results = [];
      for (const text of texts) results.push(await peer.send(${APP_CHANNEL}, new TextEncoder().encode(text)));
      return { results, transport: peer.transport };
    },
    pattern,
    // A large message is checked here (its length and content) rather than shipped back whole.
    messages(largeSeed) {
      return messages.map(({ full, ...rest }) => ({ ...rest, intact: largeSeed === undefined || full.length < 200 ? undefined : full === pattern(full.length, largeSeed) }));
    },
    events() { return events; },
    async selectedPairs() {
      const out = [];
      for (const pc of pcs) {
        if (pc.connectionState !== 'connected') continue;
        const stats = await pc.getStats();
        let id;
        stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) id = r.selectedCandidatePairId; });
        stats.forEach((r) => { if (id === undefined && r.type === 'candidate-pair' && r.selected) id = r.id; });
        const pair = stats.get(id);
        if (pair === undefined) continue;
        const l = stats.get(pair.localCandidateId), r = stats.get(pair.remoteCandidateId);
        out.push(l.address + ':' + l.port + '(' + l.candidateType + ') -> ' + r.address + ':' + r.port + '(' + r.candidateType + ')');
      }
      return out;
    },
    async stop() { await sw?.stop(); },
  };
})();
true`;

interface PeerView {
  id: string;
  transport: string;
  direction: 'inbound' | 'outbound';
  address: string;
}
type DialResult = (PeerView & { ms: number }) | { error: string; ms: number };
interface Received {
  channelId: number;
  from: string;
  transport: string;
  length: number;
  text: string;
  intact: boolean | undefined;
}

/** One browser page running a meshlink node, whichever engine drives it. */
class MeshPage {
  nodeId = '';
  readonly log: string[] = [];

  constructor(
    readonly name: string,
    private readonly evaluate: (expression: string) => Promise<unknown>,
  ) {}

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.evaluate(`window.__mesh.${method}(${args.map((arg) => JSON.stringify(arg)).join(', ')})`) as Promise<T>;
  }

  async start(relay: string, dbName: string): Promise<string> {
    await this.evaluate(PAGE_HARNESS);
    this.nodeId = await this.call<string>('start', { dbName, network: NETWORK, relay, moniker: this.name });
    return this.nodeId;
  }
  peers(): Promise<PeerView[]> {
    return this.call('peers');
  }
  async peer(id: string): Promise<PeerView | undefined> {
    return (await this.peers()).find((peer) => peer.id === id);
  }
  dial(address: string): Promise<DialResult> {
    return this.call('dial', address);
  }
  send(to: string, texts: string[]): Promise<{ results: boolean[]; transport: string } | { error: string }> {
    return this.call('send', to, texts);
  }
  pattern(length: number, seed: number): Promise<string> {
    return this.call('pattern', length, seed);
  }
  messages(largeSeed?: number): Promise<Received[]> {
    return largeSeed === undefined ? this.call('messages') : this.call('messages', largeSeed);
  }
  events(): Promise<unknown[]> {
    return this.call('events');
  }
  selectedPairs(): Promise<string[]> {
    return this.call('selectedPairs');
  }
  /** Best effort, bounded: peers are told, then the page is closed anyway. */
  async stop(): Promise<void> {
    await Promise.race([this.call('stop').catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 3000))]);
  }
}

// ---------------------------------------------------------------------------------------------------
// The relay, the bundle and its server, Firefox: one of each for the file.

interface RelayProcess {
  child: ChildProcess;
  id: string;
  ws: string;
  log: string[];
  home: string;
}

let workDir = '';
let relayProcess: RelayProcess | undefined;
let server: Server | undefined;
let origin = '';
let firefox: FirefoxBrowser | undefined;
const timings: Record<string, number> = {};

async function buildBundle(outDir: string): Promise<void> {
  // A private output directory: other runs may rebuild dist/ while this file reads the bundle.
  await promisify(execFile)(process.execPath, [join(ROOT, 'platforms/browser/build.mjs'), '--outdir', outDir], { cwd: ROOT, timeout: 30_000 });
}

function serve(bundleDir: string): Promise<Server> {
  const bundle = readFileSync(join(bundleDir, 'meshlink.js'));
  const http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/meshlink.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(bundle);
    else if (path === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><meta charset="utf-8"><title>meshlink firefox e2e</title>');
    else if (path === '/favicon.ico') res.writeHead(204).end();
    else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve(http));
  });
}

async function startRelay(home: string): Promise<RelayProcess> {
  const args = ['--import', 'tsx', 'demo/cli.ts', 'node', '--listen', 'tcp://127.0.0.1:0', '--ws', '127.0.0.1:0', '--home', home, '--moniker', 'relay', '--allow-local'];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => log.push(`stderr: ${chunk.trimEnd()}`));
  const lines = createInterface({ input: child.stdout! });
  const started = await new Promise<{ nodeId: string; listen: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the relay printed no "started" line in 20 s:\n${log.join('\n')}`)), 20_000);
    child.once('exit', (code, signal) => reject(new Error(`the relay exited (${code ?? signal}) before starting:\n${log.join('\n')}`)));
    lines.on('line', (line) => {
      log.push(line);
      if (log.length > 500) log.splice(0, 100);
      try {
        const parsed = JSON.parse(line) as { event?: string; nodeId?: string; listen?: string[] };
        if (parsed.event === 'started' && parsed.nodeId !== undefined && parsed.listen !== undefined) {
          clearTimeout(timer);
          resolve({ nodeId: parsed.nodeId, listen: parsed.listen });
        }
      } catch {
        // not JSON: kept in the log
      }
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  const ws = started.listen.find((address) => address.startsWith('ws://'));
  if (ws === undefined) throw new Error(`the relay listens on no ws:// address: ${started.listen.join(', ')}`);
  return { child, id: started.nodeId, ws, log, home };
}

async function stopRelay(relay: RelayProcess): Promise<void> {
  const { child } = relay;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}

test.beforeAll(async () => {
  test.setTimeout(60_000);
  workDir = mkdtempSync(join(tmpdir(), 'meshlink-e2e-firefox-'));
  let t = Date.now();
  await buildBundle(join(workDir, 'dist'));
  timings['build'] = Date.now() - t;
  server = await serve(join(workDir, 'dist', 'browser'));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t = Date.now();
  relayProcess = await startRelay(join(workDir, 'relay-home'));
  timings['relay start'] = Date.now() - t;
  t = Date.now();
  // No skip on failure: if Firefox cannot start here, every test in this file fails with the reason.
  firefox = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    protocol: 'webDriverBiDi',
    extraPrefsFirefox: FIREFOX_WEBRTC_PREFS,
    timeout: 30_000,
  });
  timings['firefox launch'] = Date.now() - t;
  console.log(`setup: ${Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(', ')} (${await firefox.version()})`);
});

test.afterAll(async () => {
  test.setTimeout(30_000);
  await Promise.allSettled([
    firefox?.close(),
    relayProcess === undefined ? undefined : stopRelay(relayProcess),
    server === undefined ? undefined : new Promise((resolve) => server!.close(resolve)),
  ]);
  firefox = undefined;
  relayProcess = undefined;
  server = undefined;
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------

interface Pair {
  ff: MeshPage;
  cr: MeshPage;
  relay: RelayProcess;
  closeFirefoxContext: () => Promise<void>;
  /** Loads the blank page in both browsers. */
  open: () => Promise<void>;
}

async function openPages(page: Page): Promise<Pair> {
  const relay = relayProcess!;
  expect(firefox, 'Firefox was launched in beforeAll').toBeDefined();
  const context: FirefoxContext = await firefox!.createBrowserContext();
  const ffPage = await context.newPage();
  const ff = new MeshPage('firefox', (expression) => ffPage.evaluate(expression));
  ffPage.on('console', (message) => ff.log.push(`${message.type()}: ${message.text()}`));
  ffPage.on('pageerror', (error) => ff.log.push(`pageerror: ${String(error)}`));
  const cr = new MeshPage('chromium', (expression) => page.evaluate(expression));
  page.on('console', (message) => cr.log.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => cr.log.push(`pageerror: ${String(error)}`));

  return {
    ff,
    cr,
    relay,
    closeFirefoxContext: async () => {
      await context.close().catch(() => undefined);
    },
    open: () => Promise.all([ffPage.goto(`${origin}/`), page.goto(`${origin}/`)]).then(() => undefined),
  };
}

/** Both pages start a node (fresh keys) that joins the relay over WebSocket. */
async function joinRelay({ ff, cr, relay, open }: Pair, testInfo: TestInfo): Promise<void> {
  await open();
  const suffix = `${testInfo.testId}-${Date.now()}`;
  const t = Date.now();
  await Promise.all([ff.start(relay.ws, `ff-test-${suffix}`), cr.start(relay.ws, `cr-test-${suffix}`)]);
  expect(ff.nodeId).toMatch(/^[0-9a-f]{40}$/);
  expect(cr.nodeId).toMatch(/^[0-9a-f]{40}$/);
  expect(ff.nodeId).not.toBe(cr.nodeId);
  // Both pages on the relay, over WebSocket (and only there: PEX is off, nobody else is known).
  for (const side of [ff, cr]) {
    await expect.poll(() => side.peers(), { timeout: WAIT_MS, message: `${side.name} connects to the relay` }).toEqual([
      { id: relay.id, transport: 'ws', direction: 'outbound', address: relay.ws },
    ]);
  }
  testInfo.annotations.push({ type: 'timing', description: `both pages on the relay ${Date.now() - t} ms after start` });
}

/** `dialer` dials `answerer` over WebRTC through the relay; both see a direct link; messages flow both ways. */
async function dialAndExchange({ relay }: Pair, dialer: MeshPage, answerer: MeshPage, testInfo: TestInfo): Promise<void> {
  const address = `webrtc://${answerer.nodeId}?via=${relay.id}`;
  const dialed = await dialer.dial(address);
  expect(dialed, `${dialer.name} dials ${answerer.name} at ${address}`).toEqual({
    id: answerer.nodeId,
    transport: 'webrtc',
    direction: 'outbound',
    address,
    ms: expect.any(Number),
  });
  await expect
    .poll(() => answerer.peer(dialer.nodeId), { timeout: WAIT_MS, message: `${answerer.name} sees ${dialer.name} as an inbound WebRTC peer` })
    .toEqual({ id: dialer.nodeId, transport: 'webrtc', direction: 'inbound', address: `webrtc://${dialer.nodeId}?via=${relay.id}` });
  // The relay link is still there, the new one sits beside it.
  expect((await dialer.peers()).map((peer) => `${peer.id}/${peer.transport}`).sort()).toEqual([`${relay.id}/ws`, `${answerer.nodeId}/webrtc`].sort());

  const t = Date.now();
  const small = (from: MeshPage): string[] => Array.from({ length: 5 }, (_, i) => `${from.name} -> #${i}`);
  const [dialerLarge, answererLarge] = await Promise.all([dialer.pattern(LARGE_BYTES, 1), answerer.pattern(LARGE_BYTES, 2)]);
  expect(await dialer.send(answerer.nodeId, [...small(dialer), dialerLarge])).toEqual({ results: Array(6).fill(true), transport: 'webrtc' });
  expect(await answerer.send(dialer.nodeId, [...small(answerer), answererLarge])).toEqual({ results: Array(6).fill(true), transport: 'webrtc' });
  const expected = (from: MeshPage, seed: number): Received[] => [
    ...small(from).map((text) => ({ channelId: APP_CHANNEL, from: from.nodeId, transport: 'webrtc', length: text.length, text, intact: undefined })),
    { channelId: APP_CHANNEL, from: from.nodeId, transport: 'webrtc', length: LARGE_BYTES, text: (seed === 1 ? dialerLarge : answererLarge).slice(0, 40), intact: true },
  ];
  // In order, each exactly once, from the other page over the WebRTC link (never through the relay).
  await expect.poll(() => answerer.messages(1), { timeout: WAIT_MS, message: `${answerer.name} receives ${dialer.name}'s messages` }).toEqual(expected(dialer, 1));
  await expect.poll(() => dialer.messages(2), { timeout: WAIT_MS, message: `${dialer.name} receives ${answerer.name}'s messages` }).toEqual(expected(answerer, 2));
  const exchangeMs = Date.now() - t;

  const [dialerPairs, answererPairs] = await Promise.all([dialer.selectedPairs(), answerer.selectedPairs()]);
  const note = `${dialer.name} dialled ${answerer.name}: WebRTC link in ${dialed.ms} ms, 2×(5 small + ${LARGE_BYTES / 1024} KiB) exchanged in ${exchangeMs} ms; ICE pair ${dialer.name}: ${dialerPairs.join(', ') || 'n/a'} | ${answerer.name}: ${answererPairs.join(', ') || 'n/a'}`;
  testInfo.annotations.push({ type: 'timing', description: note });
  console.log(note);
}

async function withPages(page: Page, testInfo: TestInfo, body: (pair: Pair) => Promise<void>): Promise<void> {
  const pair = await openPages(page);
  let failed = true;
  try {
    await joinRelay(pair, testInfo);
    await body(pair);
    failed = false;
  } finally {
    if (failed) {
      // Diagnostics for a failure: both pages' console and peer events, the relay's log tail.
      for (const side of [pair.ff, pair.cr]) {
        const events = await side.events().catch((error: unknown) => `unavailable: ${String(error)}`);
        await testInfo.attach(`${side.name}-page.log`, { body: [...side.log, `events: ${JSON.stringify(events, null, 1)}`].join('\n'), contentType: 'text/plain' });
      }
      await testInfo.attach('relay.log', { body: pair.relay.log.slice(-200).join('\n'), contentType: 'text/plain' });
    }
    await Promise.all([pair.ff.stop(), pair.cr.stop()]);
    await pair.closeFirefoxContext();
  }
}

test('Firefox dials Chromium over WebRTC via the relay; both see a direct link and exchange messages', async ({ page, browserName }, testInfo) => {
  expect(browserName).toBe('chromium');
  testInfo.annotations.push({ type: 'timing', description: Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(', ') });
  await withPages(page, testInfo, async (pair) => {
    await dialAndExchange(pair, pair.ff, pair.cr, testInfo);
  });
});

test('Chromium dials Firefox over WebRTC via the relay; both see a direct link and exchange messages', async ({ page, browserName }, testInfo) => {
  expect(browserName).toBe('chromium');
  testInfo.annotations.push({ type: 'timing', description: Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(', ') });
  await withPages(page, testInfo, async (pair) => {
    await dialAndExchange(pair, pair.cr, pair.ff, testInfo);
  });
});
