/**
 * Peers handing a page made-up `webrtc://…?via=<relay>` addresses use up its WebRTC dial allowance (a
 * burst of 16 in all, 8 through one relay, then one a second or two): every dial past it fails at once
 * with TransportError `dial-allowance` before any RTCPeerConnection. Honest dials refused meanwhile were
 * counted against the address: PEX backed it off, marked it bad after 3 such refusals (never handed on,
 * first to be evicted) and dropped it after 16; a persistent peer's redial backoff grew to its minute.
 * The page here is a real Switch with a WebRtcTransport over memory links, its relay answers
 * `unreachable` for made-up nodes; the page's clock stands still, so the allowance never refills.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { AddressBook } from '../../src/pex/address-book.js';
import { resolvePexConfig } from '../../src/pex/config.js';
import { PexDialer } from '../../src/pex/pex-dialer.js';
import type { SwitchOptions } from '../../src/switch/config.js';
import { Switch } from '../../src/switch/switch.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { systemClock } from '../../src/util/clock.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { node, offeringPeer, stopNodes } from '../webrtc/signalling-scene.js';

const started: Switch[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((sw) => sw.stop()));
  await stopNodes();
});

/** A page connected to a relay, whose dials through it made-up nodes have used the allowance up. */
async function drainedPage(options: Partial<SwitchOptions> = {}): Promise<{ page: Switch; relay: Switch; honest: string; standStill: number }> {
  const network = new MemoryNetwork();
  const relay = await node(network, 'relay', new SignalAgent());
  const key = generateNodeKey();
  const standStill = Date.now();
  const rtc = new WebRtcTransport({ createPeer: ({ initiator }) => offeringPeer(initiator) });
  const page = new Switch({
    identity: key,
    clock: { ...systemClock, now: () => standStill },
    network: 'signal-rules',
    transports: [network.transport(), rtc],
    listen: ['memory://page', `webrtc://${key.nodeId}`],
    ...options,
  });
  page.addAgent('signal', rtc.signalAgent);
  await page.start();
  started.push(page);
  await page.dial(relay.addresses[0]!);
  const reasons: unknown[] = [];
  for (let i = 0; i < 12; i++) {
    const error = await page.dial(`webrtc://${generateNodeKey().nodeId}?via=${relay.nodeId}`, {}).catch((e: unknown) => e as { detail?: { reason?: string } });
    reasons.push((error as { detail?: { reason?: string } }).detail?.reason);
  }
  expect(reasons.slice(-4)).toEqual(['dial-allowance', 'dial-allowance', 'dial-allowance', 'dial-allowance']);
  return { page, relay, honest: `webrtc://${generateNodeKey().nodeId}?via=${relay.nodeId}`, standStill };
}

describe('a page whose WebRTC dial allowance peers used up', () => {
  it('does not count the refused dials against the honest addresses PEX tries meanwhile', async () => {
    const { page, relay, honest, standStill } = await drainedPage();
    const config = resolvePexConfig({ dialJitterMs: 0, maxDialAttempts: 16 });
    const book = new AddressBook({ allowLocal: true, now: () => standStill });
    expect(book.tryAddAddress(honest, relay.addresses[0]!)).toBe('added');
    const counters = { dials: 0, dialFailures: 0, seedDials: 0 };
    const dialer = new PexDialer(page, book, config, Math.random, counters, systemClock);
    const honestId = honest.slice('webrtc://'.length, 'webrtc://'.length + 40);
    for (let round = 0; round < 16; round++) {
      dialer.dial(honest, 'book');
      while (dialer.isDialling(honestId)) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    dialer.stop();
    expect(counters.dials).toBe(16);
    // Before: attempts 16 after 16 refusals, bad from the third, then removed from the book.
    expect(book.get(honest)?.attempts).toBe(0);
  }, 20_000);

  it('does not grow a persistent peer’s redial backoff for them', async () => {
    // Backoff 20 ms doubling per failure, no jitter: 20, 40, 80, … if each refusal counted.
    const { page, honest } = await drainedPage({ reconnect: { baseDelayMs: 20, maxDelayMs: 60_000, jitterRatio: 0 } });
    const failures: string[] = [];
    page.on('dial:failed', ({ address, error, willRetry }) => {
      if (address === honest && willRetry) failures.push(String((error as { detail?: { reason?: string } }).detail?.reason));
    });
    await page.dial(honest, { persistent: true }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(new Set(failures)).toEqual(new Set(['dial-allowance']));
    // Before: 6 in 1.5 s (the waits doubling); now one every 20 ms or so.
    expect(failures.length).toBeGreaterThanOrEqual(20);
  }, 20_000);
});
