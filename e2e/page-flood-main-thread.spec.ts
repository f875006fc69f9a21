import { expect, test } from '@playwright/test';
import { BROWSER_RECV_RATE_BYTES_PER_SEC } from '../platforms/browser/index.js';
import { createNode, MemoryStorage } from '../platforms/node/index.js';
import { rateLimiter } from '../src/conn/rate-limiter.js';
import { BaseAgent } from '../src/switch/agent.js';
import type { Peer } from '../src/switch/peer.js';
import type { Switch } from '../src/switch/switch.js';
import { APP_CHANNELS, closePages, GOSSIP_CHANNEL, MeshPage, pageOrigin, reportDiagnostics, sleep } from './mesh-harness.js';

// A relay the page dialled floods it over WebSocket within the protocol: 1 KiB messages on a channel
// the page has (its gossip agent's), the same one again and again, so each after the first costs the
// page only what any message costs before its handler (a frame's AEAD open, the decoder, a dedup
// lookup). Meanwhile an honest page linked over WebRTC sends a stamped message every 100 ms. Measured
// in the page: how late a 20 ms interval timer fires, and long tasks (PerformanceObserver).

const NETWORK = 'flood-e2e';
const FLOOD_SECONDS = 6;
const FLOOD_MESSAGE = new TextEncoder().encode('f'.repeat(1000));

/**
 * A hostile sender ignores the receive rate a page announces (NodeInfo `recvBytesPerSecond`), which an
 * honest meshlink peer paces to: its connection sends unpaced, as to a peer that announced none.
 */
function ignoreAnnouncedRate(peer: Peer): void {
  (peer.connection as unknown as { sender: { limiter: unknown } }).sender.limiter = rateLimiter(0, Date.now);
  expect(peer.status().sendRateBytesPerSec).toBe(0);
}

/** Sends every peer that dials it FLOOD_MESSAGE as fast as its queue takes it, while `flooding`. */
class Flood extends BaseAgent {
  readonly channels = [{ id: GOSSIP_CHANNEL, priority: 3 }];
  flooding = false;
  override addPeer(peer: Peer): void {
    ignoreAnnouncedRate(peer);
    const pump = (): void => {
      if (!peer.isConnected) return;
      if (this.flooding) while (peer.trySend(GOSSIP_CHANNEL, FLOOD_MESSAGE));
      setTimeout(pump, 1);
    };
    pump();
  }
  receive(): void {}
}

interface MainThread {
  /** Interval lateness, ms: median, 99th percentile, most. */
  lateP50: number;
  lateP99: number;
  lateMax: number;
  /** Share of the window spent in long tasks (over 50 ms each). */
  longTaskShare: number;
  /** Share of the window the page's main thread ran tasks (Chromium's TaskDuration, over CDP). */
  busyShare: number;
}

/** Starts the probes in the page; the returned function stops them and reports. */
async function probeMainThread(page: MeshPage): Promise<() => Promise<MainThread>> {
  const cdp = await page.context.newCDPSession(page.page);
  await cdp.send('Performance.enable');
  const taskSeconds = async (): Promise<number> => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration')!.value;
  const busyBefore = await taskSeconds();
  const wallBefore = Date.now();
  await page.page.evaluate(() => {
    const probe = { late: [] as number[], longTaskMs: 0, started: performance.now(), stop: () => {} };
    (window as unknown as { __probe: typeof probe }).__probe = probe;
    let expected = performance.now() + 20;
    const timer = setInterval(() => {
      const now = performance.now();
      probe.late.push(now - expected);
      expected = now + 20;
    }, 20);
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) probe.longTaskMs += entry.duration;
    });
    observer.observe({ type: 'longtask', buffered: false });
    probe.stop = () => {
      clearInterval(timer);
      observer.disconnect();
    };
  });
  return async () => {
    const busyShare = ((await taskSeconds()) - busyBefore) / ((Date.now() - wallBefore) / 1000);
    await cdp.detach();
    const timers = await page.page.evaluate(() => {
      const probe = (window as unknown as { __probe: { late: number[]; longTaskMs: number; started: number; stop: () => void } }).__probe;
      probe.stop();
      const late = probe.late.sort((a, b) => a - b);
      const at = (q: number): number => late[Math.min(late.length - 1, Math.floor(q * late.length))] ?? 0;
      return { lateP50: at(0.5), lateP99: at(0.99), lateMax: late[late.length - 1] ?? 0, longTaskShare: probe.longTaskMs / (performance.now() - probe.started) };
    });
    return { ...timers, busyShare };
  };
}

/** How late the honest page's stamped messages arrived at the victim, ms (median, most), and how many. */
async function stampedDelays(victim: MeshPage, from: string, since: number): Promise<{ count: number; p50: number; max: number }> {
  const delays = (await victim.received())
    .filter((m) => m.from === from && m.text.startsWith('stamp:') && Number(m.text.slice(6)) >= since)
    .map((m) => m.at - Number(m.text.slice(6)))
    .sort((a, b) => a - b);
  return { count: delays.length, p50: delays[Math.floor(delays.length / 2)] ?? NaN, max: delays[delays.length - 1] ?? NaN };
}

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status !== testInfo.expectedStatus) await reportDiagnostics(testInfo);
  await closePages();
});

async function floodRound(browser: import('@playwright/test').Browser, label: string, port: number, nodeOptions: Record<string, unknown>) {
  const flood = new Flood();
  const flooder = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: ['ws://127.0.0.1:0/'], pex: false });
  flooder.addAgent('flood', flood);
  const relay = await createNode({ storage: new MemoryStorage(), network: NETWORK, listen: ['ws://127.0.0.1:0/'], pex: false, relay: true, webrtc: false });
  await Promise.all([flooder.start(), relay.start()]);
  const stops: Switch[] = [flooder, relay];
  try {
    const relayWs = relay.addresses[0]!;
    const victim = await MeshPage.open(browser, pageOrigin(port), { network: NETWORK, db: `victim-${label}`, pex: false, persistentPeers: [flooder.addresses[0]!, relayWs], nodeOptions });
    const honest = await MeshPage.open(browser, pageOrigin(port + 1), { network: NETWORK, db: `honest-${label}`, pex: false, persistentPeers: [relayWs] });
    await victim.waitPeer(flooder.nodeId, 'ws');
    await victim.waitPeer(relay.nodeId, 'ws');
    await honest.waitPeer(relay.nodeId, 'ws');
    expect(await honest.dial(`webrtc://${victim.nodeId}?via=${relay.nodeId}`)).toMatchObject({ ok: true });
    await honest.page.evaluate(
      ([channel, to]) => setInterval(() => void window.__mesh!.send(channel, to, `stamp:${Date.now()}`), 100),
      [APP_CHANNELS[0], victim.nodeId] as const,
    );
    let report = await probeMainThread(victim);
    let since = Date.now();
    await sleep(3000);
    const quiet = await report();
    const quietDelays = await stampedDelays(victim, honest.nodeId, since);
    const floodedBefore = await victim.page.evaluate(() => window.__mesh!.gossipDuplicates());
    report = await probeMainThread(victim);
    since = Date.now();
    flood.flooding = true;
    await sleep(FLOOD_SECONDS * 1000);
    flood.flooding = false;
    const flooded = await report();
    const floodedBytes = ((await victim.page.evaluate(() => window.__mesh!.gossipDuplicates())) - floodedBefore) * FLOOD_MESSAGE.length;
    await sleep(500);
    const floodDelays = await stampedDelays(victim, honest.nodeId, since);
    const stillPeer = (await victim.peers()).some((p) => p.id === flooder.nodeId);
    const cuts = (await victim.events()).filter((e) => e.peer === flooder.nodeId && e.event === 'disconnected' && e.error?.includes('ERR_RATE_LIMIT') === true).length;
    const fmt = (m: MainThread): string => `timer late p50 ${m.lateP50.toFixed(1)} p99 ${m.lateP99.toFixed(1)} max ${m.lateMax.toFixed(0)} ms, long tasks ${(100 * m.longTaskShare).toFixed(0)}%, main thread busy ${(100 * m.busyShare).toFixed(0)}%`;
    console.log(`[${label}] quiet: ${fmt(quiet)}; honest msgs ${quietDelays.count} delay p50 ${quietDelays.p50} max ${quietDelays.max} ms`);
    console.log(`[${label}] flood: ${(floodedBytes / FLOOD_SECONDS / 1e6).toFixed(2)} MB/s taken; ${fmt(flooded)}; honest msgs ${floodDelays.count} delay p50 ${floodDelays.p50} max ${floodDelays.max} ms; flooder still a peer: ${stillPeer}, cut ${cuts} times`);
    return { floodedBytes, flooded, floodDelays, cuts };
  } finally {
    await Promise.all(stops.map((s) => s.stop()));
  }
}

test('a relay flooding a page over WebSocket takes no more than the browser default receive rate', async ({ browser }) => {
  test.setTimeout(90_000);
  // The old default, for the numbers before.
  await floodRound(browser, 'unlimited', 49_195, { connection: { recvRateBytesPerSec: 0 } });
  const limited = await floodRound(browser, 'default', 49_197, {});
  // BROWSER_RECV_RATE_BYTES_PER_SEC for the flood's seconds, with room for the bucket's burst and the
  // probe's own reads (before: 88 MB in 6 s, 15 MB/s).
  expect(limited.floodedBytes).toBeGreaterThan(0);
  expect(limited.floodedBytes).toBeLessThanOrEqual(1.25 * BROWSER_RECV_RATE_BYTES_PER_SEC * FLOOD_SECONDS);
  // It ignored the rate the page announced: the page cut it (an honest sender paces to it, never cut:
  // e2e/page-bulk-receive.spec.ts).
  expect(limited.cuts).toBeGreaterThan(0);
});
