import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, type Browser, type BrowserContext, type BrowserContextOptions, type Page, type TestInfo } from '@playwright/test';

/**
 * Harness of the browser-mesh specs (mesh, mesh-node, bundlers). Each spec starts its own relays and
 * Node fixtures as child processes (never the webServer of playwright.config.ts), and serves its pages
 * from disk through page.route: a blank same-origin page plus the shipped bundle dist/browser/meshlink.js.
 * Every wait is bounded; every child is killed by `killChildren()` (call it in afterEach/afterAll).
 */

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(REPO, 'dist/browser/meshlink.js');
/** App channels the pages' (and Node fixture's) recording agent listens on. */
export const APP_CHANNELS = [0x40, 0x41] as const;
/** The pages' flood-gossip channel: only pages have it, so gossip travels over page↔page links only. */
export const GOSSIP_CHANNEL = 0x50;
/** The pages' PEX ensurePeersIntervalMs, as the issue sets it. */
export const PAGE_PEX_INTERVAL_MS = 500;
/** Bound of a single wait (connect, discover, a message arriving). */
export const WAIT_MS = 15_000;

// ─── child processes ──────────────────────────────────────────────────────────────────────────────

const children = new Set<JsonChild>();
/** Every child of the current test, running or not: for the failure report. */
const allChildren: JsonChild[] = [];

/** Kills (SIGKILL) every child process still running and removes their temp homes. */
export async function killChildren(): Promise<void> {
  await Promise.all([...children].map((child) => child.kill()));
  allChildren.splice(0);
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

const tempDirs: string[] = [];
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `meshlink-e2e-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

/** A child process speaking JSON lines on stdout (and, for fixtures, taking JSON lines on stdin). */
export class JsonChild {
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  private readonly waiters = new Set<() => void>();
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    children.add(this);
    allChildren.push(this);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.lines.push({ event: 'non-json', line });
      }
      for (const wake of [...this.waiters]) wake();
    });
    createInterface({ input: proc.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((done) =>
      proc.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal === null ? null : -1);
        children.delete(this);
        for (const wake of [...this.waiters]) wake();
        done();
      }),
    );
  }

  static spawn(name: string, args: string[]): JsonChild {
    const proc = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    return new JsonChild(name, proc);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Resolves with the first line (from `from` on) that matches, or throws after `timeoutMs`. */
  async waitLine(match: (line: Record<string, unknown>) => boolean, timeoutMs = WAIT_MS, from = 0): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.slice(from).find(match);
      if (found !== undefined) return found;
      if (!this.running) throw new Error(`${this.name} exited (${String(this.exitCode)}) before the expected line; stderr: ${this.stderr.slice(-10).join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no matching line within ${timeoutMs} ms; last lines: ${JSON.stringify(this.lines.slice(-5))}; stderr: ${this.stderr.slice(-5).join('\n')}`);
      // Woken by the next line, the exit, or the deadline.
      await new Promise<void>((wake) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          wake();
        };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  send(command: Record<string, unknown>): void {
    this.proc.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** SIGKILL, then waits for the exit (bounded). */
  async kill(): Promise<void> {
    if (this.running) this.proc.kill('SIGKILL');
    await Promise.race([this.exited, new Promise((done) => setTimeout(done, 5000))]);
  }
}

// ─── relays: `meshlink node` ──────────────────────────────────────────────────────────────────────

export interface RelayOptions {
  moniker: string;
  /** Same home = same node id (restart). @default a fresh temp dir */
  home?: string;
  /** @default 0 (a free port) */
  tcpPort?: number;
  wsPort?: number;
  /** Addresses for --seeds (e.g. another relay's tcp address). */
  seeds?: string[];
  network?: string;
  /** More `meshlink node` flags, e.g. `['--trusted-proxy', '127.0.0.1']`. */
  extraArgs?: string[];
}

/**
 * A `meshlink node` relay (relay: true, PEX, --allow-local, debug log) in a child process. The first
 * start listens on port 0 (the OS picks free ports, read back from the "started" line); a restart
 * reuses the same ports and home, so pages that know its address and id find it again.
 */
export class Relay {
  private constructor(
    readonly options: Required<Omit<RelayOptions, 'seeds' | 'network' | 'extraArgs'>> & Pick<RelayOptions, 'seeds' | 'network' | 'extraArgs'>,
    readonly child: JsonChild,
    readonly nodeId: string,
    readonly tcpAddress: string,
    readonly wsAddress: string,
  ) {}

  static async start(options: RelayOptions): Promise<Relay> {
    const home = options.home ?? tempDir(options.moniker);
    const tcpPort = options.tcpPort ?? 0;
    const wsPort = options.wsPort ?? 0;
    const args = [
      'demo/cli.ts',
      'node',
      '--listen',
      `tcp://127.0.0.1:${tcpPort}`,
      '--ws',
      `127.0.0.1:${wsPort}`,
      '--home',
      home,
      '--moniker',
      options.moniker,
      '--allow-local',
      '--log-level',
      'debug',
      ...(options.network === undefined ? [] : ['--network', options.network]),
      ...(options.seeds === undefined || options.seeds.length === 0 ? [] : ['--seeds', options.seeds.join(',')]),
      ...(options.extraArgs ?? []),
    ];
    const child = JsonChild.spawn(options.moniker, args);
    const started = await child.waitLine((line) => line['event'] === 'started', 20_000);
    const listen = started['listen'] as string[];
    const tcpAddress = listen.find((address) => address.startsWith('tcp://'))!;
    const wsAddress = listen.find((address) => address.startsWith('ws://'))!;
    const port = (address: string): number => Number(/:(\d+)\/?$/.exec(address)![1]);
    return new Relay({ ...options, home, tcpPort: port(tcpAddress), wsPort: port(wsAddress) }, child, started['nodeId'] as string, tcpAddress, wsAddress);
  }

  /** "The relay dies": SIGKILL, no goodbye to anyone. */
  kill(): Promise<void> {
    return this.child.kill();
  }

  /** Starts it again on the same home (same node id) and ports. */
  async restart(): Promise<Relay> {
    if (this.child.running) await this.kill();
    const again = await Relay.start(this.options);
    expect(again.nodeId).toBe(this.nodeId);
    return again;
  }

  /** Its log lines with `event` (e.g. 'peer:connected'). */
  events(event: string): Record<string, unknown>[] {
    return this.child.lines.filter((line) => line['event'] === event);
  }
}

/** Starts a fixture (e2e/fixtures/*.ts) and waits for its `started` line. */
export async function startFixture(name: string, args: string[]): Promise<{ child: JsonChild; nodeId: string; listen: string[] }> {
  const child = JsonChild.spawn(name, args);
  const started = await child.waitLine((line) => line['event'] === 'started', 20_000);
  return { child, nodeId: started['nodeId'] as string, listen: started['listen'] as string[] };
}

// ─── pages ────────────────────────────────────────────────────────────────────────────────────────

export interface PeerView {
  id: string;
  transport: string;
  address: string;
  direction: string;
}

export interface Received {
  channel: number;
  from: string;
  text: string;
  transport: string;
  /** Date.now() in the page when it arrived. */
  at: number;
}

export type DialOutcome =
  | { ok: true; id: string; transport: string; ms: number }
  | { ok: false; name: string; code: string | undefined; message: string; ms: number };

export interface RtcCount {
  created: number;
  closed: number;
  /** Garbage collected (FinalizationRegistry): Chromium counts those not yet collected toward its 500. */
  collected: number;
}

/** What a mesh page exposes as `window.__mesh`. */
export interface MeshHandle {
  nodeId: string;
  peers(): PeerView[];
  send(channel: number, peerId: string, text: string): Promise<boolean>;
  received(): Received[];
  /** Starts a flood-gossip message from this page. */
  gossip(text: string): number;
  /** First arrivals of gossip messages (each delivered to the app once). */
  gossipDelivered(): { text: string; from: string }[];
  /** Arrivals of gossip messages already seen (dropped by the seen-set). */
  gossipDuplicates(): number;
  dial(address: string): Promise<DialOutcome>;
  /** Addresses in the PEX address book. */
  book(): string[];
  saveBook(): Promise<void>;
  events(): { t: number; event: string; peer?: string; transport?: string; error?: string }[];
  stop(): Promise<void>;
}

declare global {
  interface Window {
    __mesh?: MeshHandle;
    __rtc?: RtcCount;
  }
}

export interface BootOptions {
  network: string;
  /** IndexedDB database name: the node's key and address book. */
  db: string;
  moniker?: string;
  persistentPeers?: string[];
  /** PEX seeds; `pex: false` turns PEX off. */
  seeds?: string[];
  pex?: boolean;
  dialTimeoutMs?: number;
  /** The pages' PEX ensurePeersIntervalMs. @default PAGE_PEX_INTERVAL_MS */
  pexIntervalMs?: number;
  appChannels?: readonly number[];
  gossipChannel?: number;
  /** More createNode options (e.g. `webrtc`), plain data only: they cross into the page. */
  nodeOptions?: Record<string, unknown>;
}

/**
 * Runs in the page (serialised by page.evaluate: no outer references). Imports the shipped bundle,
 * creates the node with the issue's options, adds the recording and gossip agents, starts it and
 * exposes window.__mesh. Returns the node id.
 */
async function bootInPage(options: BootOptions): Promise<string> {
  const url = '/meshlink.js';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m: any = await import(url);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const appChannels = options.appChannels ?? [0x40, 0x41];
  const gossipChannel = options.gossipChannel ?? 0x50;
  const started = performance.now();
  const received: { channel: number; from: string; text: string; transport: string; at: number }[] = [];
  const events: { t: number; event: string; peer?: string; transport?: string; error?: string }[] = [];
  const seen = new Set<string>();
  const delivered: { text: string; from: string }[] = [];
  let duplicates = 0;
  const describe = (error: unknown): string => {
    const e = error as { name?: string; code?: string; message?: string } | undefined;
    return `${e?.name ?? 'Error'} ${e?.code ?? ''} ${e?.message ?? String(error)}`;
  };
  const sw = await m.createNode({
    storage: new m.IndexedDbStorage(options.db),
    network: options.network,
    moniker: options.moniker ?? 'page',
    persistentPeers: options.persistentPeers ?? [],
    pex: options.pex === false ? false : { seeds: options.seeds ?? [], allowLocal: true, ensurePeersIntervalMs: options.pexIntervalMs ?? 500, dialJitterMs: 50 },
    reconnect: { baseDelayMs: 200, maxDelayMs: 2000 },
    ...(options.dialTimeoutMs === undefined ? {} : { dialTimeoutMs: options.dialTimeoutMs }),
    ...options.nodeOptions,
  });
  sw.addAgent('app', {
    channels: appChannels.map((id) => ({ id, priority: 5 })),
    receive(channel: number, peer: { id: string; transport: string }, message: Uint8Array) {
      received.push({ channel, from: peer.id, text: decoder.decode(message), transport: peer.transport, at: Date.now() });
    },
  });
  // A tiny flood agent (as demo/agents/mempool.ts): each new message goes to every other peer once.
  sw.addAgent('gossip', {
    channels: [{ id: gossipChannel, priority: 3 }],
    receive(_channel: number, peer: { id: string }, message: Uint8Array) {
      const text = decoder.decode(message);
      if (seen.has(text)) {
        duplicates++;
        return;
      }
      seen.add(text);
      delivered.push({ text, from: peer.id });
      const copy = message.slice();
      for (const other of sw.peers) if (other.id !== peer.id && other.hasChannel(gossipChannel)) other.trySend(gossipChannel, copy);
    },
  });
  const t = (): number => Math.round(performance.now() - started);
  sw.on('peer:connected', ({ peer }: { peer: { id: string; transport: string } }) => events.push({ t: t(), event: 'connected', peer: peer.id, transport: peer.transport }));
  sw.on('peer:disconnected', ({ peer, reason }: { peer: { id: string; transport: string }; reason?: unknown }) =>
    events.push({ t: t(), event: 'disconnected', peer: peer.id, transport: peer.transport, ...(reason === undefined ? {} : { error: describe(reason) }) }),
  );
  sw.on('dial:failed', ({ address, error }: { address: string; error: unknown }) => events.push({ t: t(), event: 'dial:failed', peer: address, error: describe(error) }));
  sw.on('peer:error', ({ peer, error }: { peer: { id: string }; error: unknown }) => events.push({ t: t(), event: 'peer:error', peer: peer.id, error: describe(error) }));
  await sw.start();
  const pex = sw.getAgent('pex');
  window.__mesh = {
    nodeId: sw.nodeId,
    peers: () =>
      (sw.peers as { id: string; transport: string; address: string; direction: string }[]).map(({ id, transport, address, direction }) => ({ id, transport, address, direction })),
    send: async (channel, peerId, text) => {
      const peer = sw.getPeer(peerId);
      return peer === undefined ? false : await peer.send(channel, encoder.encode(text));
    },
    received: () => received.slice(),
    gossip: (text) => {
      seen.add(text);
      let sent = 0;
      for (const peer of sw.peers) if (peer.hasChannel(gossipChannel) && peer.trySend(gossipChannel, encoder.encode(text))) sent++;
      return sent;
    },
    gossipDelivered: () => delivered.slice(),
    gossipDuplicates: () => duplicates,
    dial: async (address) => {
      const begun = performance.now();
      try {
        const peer = await sw.dial(address);
        return { ok: true, id: peer.id, transport: peer.transport, ms: Math.round(performance.now() - begun) };
      } catch (error) {
        const e = error as { name?: string; code?: string; message?: string };
        return { ok: false, name: e.name ?? 'Error', code: e.code, message: e.message ?? String(error), ms: Math.round(performance.now() - begun) };
      }
    },
    book: () => (pex === undefined ? [] : (pex.book.entries() as { address: string }[]).map((entry) => entry.address)),
    saveBook: async () => {
      await pex?.book.save();
    },
    events: () => events.slice(),
    stop: () => sw.stop(),
  };
  return sw.nodeId as string;
}

/** Counts RTCPeerConnections: constructed, closed (close() called or connectionState 'closed') and garbage collected. */
function countPeerConnections(): void {
  const Native = window.RTCPeerConnection;
  const count: RtcCount = { created: 0, closed: 0, collected: 0 };
  window.__rtc = count;
  const collection = new FinalizationRegistry<undefined>(() => count.collected++);
  class Counted extends Native {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args);
      count.created++;
      collection.register(this, undefined);
      let closed = false;
      const mark = (): void => {
        if (closed) return;
        closed = true;
        count.closed++;
      };
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'closed') mark();
      });
      const close = this.close.bind(this);
      this.close = () => {
        mark();
        close();
      };
    }
  }
  window.RTCPeerConnection = Counted;
}

const BLANK_PAGE = '<!doctype html><html><head><meta charset="utf-8"><title>meshlink e2e</title></head><body></body></html>';

/**
 * Serves `origin` from disk in this context: `/meshlink.js` (+ map) from the shipped bundle, any other
 * path a blank page. The relay's web server is not involved.
 */
export async function serveBundle(target: Page | BrowserContext, origin: string): Promise<void> {
  await target.route(`${origin}/**`, async (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/meshlink.js') await route.fulfill({ path: BUNDLE, contentType: 'text/javascript' });
    else await route.fulfill({ body: BLANK_PAGE, contentType: 'text/html' });
  });
}

/**
 * A browser context for pages served by page.route. Chromium (≥ 142) runs Local Network Access checks:
 * a page Playwright fulfils has no IP address space of its own, so it counts as public, and its
 * WebSocket to a relay on 127.0.0.1 fails (`net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS`, close
 * 1006) unless the context holds the permission. (Pages the relay serves itself are loopback already.)
 */
export function newPageContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  return browser.newContext({ ...options, permissions: ['local-network-access'] });
}

/** A page running a mesh node (window.__mesh). */
export class MeshPage {
  constructor(
    readonly page: Page,
    readonly context: BrowserContext,
    public nodeId: string,
    readonly options: BootOptions,
  ) {}

  /** A new context (own IndexedDB) with one page on `origin`, booted with `options`. */
  static async open(browser: Browser, origin: string, options: BootOptions, contextOptions: BrowserContextOptions = {}): Promise<MeshPage> {
    const context = await newPageContext(browser, contextOptions);
    await context.addInitScript(countPeerConnections);
    await serveBundle(context, origin);
    const page = await context.newPage();
    page.on('pageerror', (error) => console.error(`[${options.db}] pageerror: ${error.message}`));
    await page.goto(`${origin}/`);
    const mesh = new MeshPage(page, context, '', options);
    openPages.add(mesh);
    await mesh.boot(options);
    return mesh;
  }

  /** Boots a node again in the (reloaded) page with `options`. */
  async boot(options: BootOptions): Promise<string> {
    this.nodeId = await this.page.evaluate(bootInPage, { pexIntervalMs: PAGE_PEX_INTERVAL_MS, ...options });
    return this.nodeId;
  }

  peers(): Promise<PeerView[]> {
    return this.page.evaluate(() => window.__mesh!.peers());
  }

  received(): Promise<Received[]> {
    return this.page.evaluate(() => window.__mesh!.received());
  }

  send(channel: number, peerId: string, text: string): Promise<boolean> {
    return this.page.evaluate(([c, p, t]) => window.__mesh!.send(c, p, t), [channel, peerId, text] as const);
  }

  dial(address: string): Promise<DialOutcome> {
    return this.page.evaluate((a) => window.__mesh!.dial(a), address);
  }

  rtc(): Promise<RtcCount> {
    return this.page.evaluate(() => ({ ...window.__rtc! }));
  }

  events(): Promise<ReturnType<MeshHandle['events']>> {
    return this.page.evaluate(() => window.__mesh!.events());
  }

  /** Waits until `peerId` is a peer over `transport`; returns that peer. */
  async waitPeer(peerId: string, transport: string, timeoutMs = WAIT_MS): Promise<PeerView> {
    await this.page.waitForFunction(([id, tr]) => window.__mesh!.peers().some((peer) => peer.id === id && peer.transport === tr), [peerId, transport] as const, {
      timeout: timeoutMs,
      polling: 50,
    });
    return (await this.peers()).find((peer) => peer.id === peerId && peer.transport === transport)!;
  }

  async waitNoPeer(peerId: string, timeoutMs = WAIT_MS): Promise<void> {
    await this.page.waitForFunction((id) => !window.__mesh!.peers().some((peer) => peer.id === id), peerId, { timeout: timeoutMs, polling: 50 });
  }

  /** Open RTCPeerConnections (constructed minus closed) and connected WebRTC peers. */
  async rtcBalance(): Promise<{ open: number; webrtcPeers: number }> {
    return this.page.evaluate(() => ({
      open: window.__rtc!.created - window.__rtc!.closed,
      webrtcPeers: window.__mesh!.peers().filter((peer) => peer.transport === 'webrtc').length,
    }));
  }

  close(): Promise<void> {
    openPages.delete(this);
    return this.context.close();
  }
}

const openPages = new Set<MeshPage>();

/** Closes every page opened by MeshPage.open (call in afterEach). */
export async function closePages(): Promise<void> {
  await Promise.all([...openPages].map((page) => page.close().catch(() => undefined)));
}

/**
 * What each page and child process saw (peers, RTCPeerConnection counts, peer events, the children's
 * last log lines): attached to a failed test so the failure says why.
 */
export async function diagnostics(): Promise<string> {
  const parts: string[] = [];
  for (const page of openPages) {
    try {
      const state = await page.page.evaluate(() => ({
        nodeId: window.__mesh?.nodeId,
        peers: window.__mesh?.peers(),
        rtc: window.__rtc,
        book: window.__mesh?.book(),
        events: window.__mesh?.events(),
      }));
      parts.push(`page ${page.options.db}: ${JSON.stringify(state, null, 1)}`);
    } catch (error) {
      parts.push(`page ${page.options.db}: ${(error as Error).message}`);
    }
  }
  for (const child of allChildren) {
    const lines = child.lines.filter((line) => line['event'] !== 'pex:addresses').slice(-60);
    parts.push(`child ${child.name} (${child.running ? 'running' : 'exited'}):\n${lines.map((line) => JSON.stringify(line)).join('\n')}\nstderr: ${child.stderr.slice(-20).join('\n')}`);
  }
  return parts.join('\n\n');
}

/** An origin (never listened on: page.route answers) per spec, so specs never share IndexedDB. */
export function pageOrigin(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/**
 * Polls `probe` until `done(value)` (then returns the value), or throws after `timeoutMs`. `abort`
 * ends the wait at once with the reason it returns (e.g. a relay banned a page: nothing to wait for).
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = WAIT_MS, intervalMs = 100, abort }: { timeoutMs?: number; intervalMs?: number; abort?: () => string | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    const reason = abort?.();
    if (reason !== undefined) throw new Error(`${what}: gave up: ${reason}`);
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await sleep(intervalMs);
  }
}

/** The relays' `pex:misbehaviour` log lines, as one message (undefined when there are none). */
export function pexPunishments(...relays: Relay[]): string | undefined {
  const lines = relays.flatMap((relay) => relay.events('pex:misbehaviour').map((line) => `${relay.options.moniker} punished ${String(line['peer']).slice(0, 8)}…: ${JSON.stringify(line['error'])}`));
  return lines.length === 0 ? undefined : lines.join('; ');
}

/** A unique text, so a re-run can never see an old message. */
export function unique(label: string): string {
  return `${label} ${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((done) => setTimeout(done, ms));
}

/** On failure: diagnostics() into the test's output dir (mesh-diagnostics.txt) and as an attachment. */
export async function reportDiagnostics(testInfo: TestInfo): Promise<void> {
  const body = await diagnostics();
  const file = testInfo.outputPath('mesh-diagnostics.txt');
  writeFileSync(file, body);
  await testInfo.attach('mesh diagnostics', { path: file, contentType: 'text/plain' });
  console.error(`mesh diagnostics: ${file}`);
}
