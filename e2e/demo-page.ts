import { expect, type APIRequestContext, type Browser, type BrowserContext, type Page } from '@playwright/test';
import type { DemoPeer, DemoTx } from '../demo/web/app.js';
import type { PageConfig } from '../demo/node-runner.js';
import type { SwitchStatus } from '../src/index.js';

/** Helpers for the specs: the relay (started by playwright.config.ts) and demo pages through their test hook. */

/** Bound of every wait on a page (start, connect, a tx arriving). */
export const WAIT_MS = 10_000;
/** The mempool's channel id (demo/agents/mempool.ts), as the relay's /status reports it. */
export const MEMPOOL_CHANNEL = 0x30;

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

export async function relayStatus(request: APIRequestContext): Promise<SwitchStatus> {
  const response = await request.get('/status', { timeout: WAIT_MS });
  expect(response.status()).toBe(200);
  return (await response.json()) as SwitchStatus;
}

/** Opens the demo in `page`, waits for its node to run and returns its node id. */
export async function openDemo(page: Page): Promise<string> {
  await page.goto('/');
  return waitRunning(page);
}

export async function waitRunning(page: Page): Promise<string> {
  await page.waitForFunction(() => window.meshlinkDemo !== undefined && window.meshlinkDemo.state !== 'starting', null, { timeout: WAIT_MS });
  const { state, error, nodeId } = await page.evaluate(() => ({ ...window.meshlinkDemo! }));
  expect(error).toBeUndefined();
  expect(state).toBe('running');
  return nodeId!;
}

export async function waitConnected(page: Page, peerId: string): Promise<void> {
  await page.waitForFunction((id) => window.meshlinkDemo!.peers().some((peer) => peer.id === id), peerId, { timeout: WAIT_MS });
}

export function peers(page: Page): Promise<DemoPeer[]> {
  return page.evaluate(() => window.meshlinkDemo!.peers());
}

export function txs(page: Page): Promise<DemoTx[]> {
  return page.evaluate(() => window.meshlinkDemo!.txs());
}

export function addTx(page: Page, text: string): Promise<boolean> {
  return page.evaluate((t) => window.meshlinkDemo!.addTx(t), text);
}

/** Waits until `text` is in the page's list, then returns how many times it is there. */
export async function waitTx(page: Page, text: string): Promise<number> {
  await page.waitForFunction((t) => window.meshlinkDemo!.txs().some((tx) => tx.text === t), text, { timeout: WAIT_MS });
  return (await txs(page)).filter((tx) => tx.text === text).length;
}

/** Pages in contexts of their own: separate IndexedDB, so separate keys and node ids. */
export async function newDemoPages(browser: Browser, count: number): Promise<{ contexts: BrowserContext[]; pages: Page[]; ids: string[] }> {
  const contexts = await Promise.all(Array.from({ length: count }, () => browser.newContext()));
  const pages = await Promise.all(contexts.map((context) => context.newPage()));
  const ids = await Promise.all(pages.map(openDemo));
  return { contexts, pages, ids };
}

/** A text no earlier test (or run) can have gossiped: the mempool de-duplicates by hash. */
export function uniqueText(label: string): string {
  return `${label} ${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
