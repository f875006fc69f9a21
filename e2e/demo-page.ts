import { expect, type APIRequestContext, type Browser, type BrowserContext, type Page } from '@playwright/test';
import type { DemoChat, DemoPeer } from '../demo/web/app.js';
import type { Graph } from '../demo/web/graph-model.js';
import { STATUS_CACHE_MS } from '../demo/http-server.js';
import type { NodeStatus, PageConfig } from '../demo/node-runner.js';

/** Helpers for the specs: the relay (started by playwright.config.ts) and demo pages through their test hook. */

/** Bound of every wait on a page (start, connect, a chat message arriving). */
export const WAIT_MS = 10_000;
/**
 * How often page waits check: by timer, not the default requestAnimationFrame, which a busy machine
 * (or a tab the browser deems hidden) runs rarely.
 */
export const POLL_MS = 100;
/** The chat's channel id (demo/agents/chat.ts), as the relay's /status reports it. */
export const CHAT_CHANNEL = 0x32;

export interface Relay {
  config: PageConfig;
  id: string;
  /** host:port of its WebSocket listener. */
  wsHostPort: string;
}

export async function relay(request: APIRequestContext): Promise<Relay> {
  const response = await request.get('/config.json', { timeout: WAIT_MS });
  expect(response.status()).toBe(200);
  const config = (await response.json()) as PageConfig;
  const match = /^ws:\/\/([0-9a-f]{40})@([^/]+)\/$/.exec(config.relay);
  if (match === null) throw new Error(`unexpected relay address ${config.relay}`);
  return { config, id: match[1]!, wsHostPort: match[2]! };
}

/**
 * The relay's status as it is now: the relay builds its answer at most once per STATUS_CACHE_MS and
 * serves that copy meanwhile, so waiting that long first makes sure the answer was built after this call.
 */
export async function relayStatus(request: APIRequestContext): Promise<NodeStatus> {
  await new Promise((done) => setTimeout(done, STATUS_CACHE_MS));
  const response = await request.get('/status', { timeout: WAIT_MS });
  expect(response.status()).toBe(200);
  return (await response.json()) as NodeStatus;
}

/** Opens the demo in `page`, waits for its node to run and returns its node id. */
export async function openDemo(page: Page): Promise<string> {
  await page.goto('/');
  return waitRunning(page);
}

export async function waitRunning(page: Page): Promise<string> {
  await page.waitForFunction(() => window.meshlinkDemo !== undefined && window.meshlinkDemo.state !== 'starting', null, { timeout: WAIT_MS, polling: POLL_MS });
  const { state, error, nodeId } = await page.evaluate(() => ({ ...window.meshlinkDemo! }));
  expect(error).toBeUndefined();
  expect(state).toBe('running');
  return nodeId!;
}

export async function waitConnected(page: Page, peerId: string): Promise<void> {
  await page.waitForFunction((id) => window.meshlinkDemo!.peers().some((peer) => peer.id === id), peerId, { timeout: WAIT_MS, polling: POLL_MS });
}

export function peers(page: Page): Promise<DemoPeer[]> {
  return page.evaluate(() => window.meshlinkDemo!.peers());
}

export function chat(page: Page): Promise<DemoChat[]> {
  return page.evaluate(() => window.meshlinkDemo!.chat());
}

/** Sends a chat message from the page; returns its id. */
export function sendChat(page: Page, text: string): Promise<string> {
  return page.evaluate((t) => window.meshlinkDemo!.sendChat(t), text);
}

/** Waits until `text` is in the page's chat, then returns every copy of it there (one, if all is well). */
export async function waitChat(page: Page, text: string, timeout = WAIT_MS): Promise<DemoChat[]> {
  await page.waitForFunction((t) => window.meshlinkDemo!.chat().some((message) => message.text === t), text, { timeout, polling: POLL_MS });
  return (await chat(page)).filter((message) => message.text === text);
}

export function graph(page: Page): Promise<Graph> {
  return page.evaluate(() => window.meshlinkDemo!.graph());
}

export function statusText(page: Page): Promise<string> {
  return page.evaluate(() => window.meshlinkDemo!.statusText());
}

/** Pages in contexts of their own: separate IndexedDB, so separate keys and node ids. */
export async function newDemoPages(browser: Browser, count: number): Promise<{ contexts: BrowserContext[]; pages: Page[]; ids: string[] }> {
  const contexts = await Promise.all(Array.from({ length: count }, () => browser.newContext()));
  const pages = await Promise.all(contexts.map((context) => context.newPage()));
  const ids = await Promise.all(pages.map(openDemo));
  return { contexts, pages, ids };
}

/** A text no earlier test (or run) can have sent, so that each wait finds only its own message. */
export function uniqueText(label: string): string {
  return `${label} ${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
