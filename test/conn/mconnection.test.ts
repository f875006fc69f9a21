import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createMemoryLinkPair } from '../../src/transport/memory.js';
import { MConnection } from '../../src/conn/mconnection.js';
import { AbortError, ConfigError, ProtocolError, TimeoutError } from '../../src/errors.js';
import { endpoint, type Endpoint } from '../helpers/mconn-pair.js';
import { waitFor, within } from '../helpers/wait.js';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';

const CHANNELS: ChannelDescriptor[] = [
  { id: 0x10, priority: 1, sendQueueCapacity: 64, recvMessageCapacity: 256 * 1024 },
  { id: 0x20, priority: 5, sendQueueCapacity: 64, recvMessageCapacity: 256 * 1024 },
  { id: 0x30, priority: 10, sendQueueCapacity: 64, recvMessageCapacity: 256 * 1024 },
];

const open: Endpoint[] = [];
function pair(channelsA = CHANNELS, channelsB = CHANNELS, config = {}): [Endpoint, Endpoint] {
  const [linkA, linkB] = createMemoryLinkPair();
  const a = endpoint(linkA, channelsA, config);
  const b = endpoint(linkB, channelsB, config);
  open.push(a, b);
  return [a, b];
}

afterEach(() => {
  for (const e of open.splice(0)) e.conn.destroy();
});

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

describe('MConnection', () => {
  it('delivers messages of any size on every channel, complete and in order per channel', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ channel: fc.constantFrom(0x10, 0x20, 0x30), size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 256 * 1024 })) }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (plan) => {
          const [a, b] = pair(CHANNELS, CHANNELS, { maxPacketPayloadBytes: 1000, maxBatchBytes: 8 * 1024 });
          const sent = plan.map((step, index) => ({ channelId: step.channel, message: bytes(step.size, index) }));
          for (const { channelId, message } of sent) expect(await a.conn.send(channelId, message)).toBe(true);
          await waitFor(() => b.received.length === sent.length, 10_000, 'all messages');
          for (const channelId of [0x10, 0x20, 0x30]) {
            const want = sent.filter((m) => m.channelId === channelId).map((m) => Buffer.from(m.message).toString('hex'));
            const got = b.received.filter((m) => m.channelId === channelId).map((m) => Buffer.from(m.message).toString('hex'));
            expect(got).toEqual(want);
          }
          a.conn.destroy();
          b.conn.destroy();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('stops the peer with ERR_UNKNOWN_CHANNEL when it sends on a channel we do not have', async () => {
    const [a, b] = pair([...CHANNELS, { id: 0x99 }], CHANNELS);
    a.conn.trySend(0x99, bytes(10, 1));
    const error = await within(b.closed, 2000, 'close');
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('ERR_UNKNOWN_CHANNEL');
    expect((error as ProtocolError).detail['channelId']).toBe(0x99);
    await within(a.closed, 2000, 'remote close');
  });

  it('stops the peer with ERR_MESSAGE_TOO_LARGE before buffering past recvMessageCapacity', async () => {
    const [a, b] = pair([{ id: 0x10, recvMessageCapacity: 1024 * 1024 }], [{ id: 0x10, recvMessageCapacity: 1000 }], {
      maxPacketPayloadBytes: 600,
    });
    a.conn.trySend(0x10, bytes(900, 1));
    a.conn.trySend(0x10, bytes(5000, 2));
    const error = await within(b.closed, 2000, 'close');
    expect((error as ProtocolError).code).toBe('ERR_MESSAGE_TOO_LARGE');
    expect(b.received).toHaveLength(1);
  });

  it('refuses a channel it did not declare, and an id outside 0..255, with typed errors (the id unmasked)', () => {
    const [a] = pair([{ id: 0x10, recvMessageCapacity: 100 }], [{ id: 0x10, recvMessageCapacity: 100 }]);
    expect(() => a.conn.trySend(0x77, new Uint8Array(1))).toThrowError(expect.objectContaining({ name: 'SendError', code: 'ERR_UNKNOWN_CHANNEL' }));
    expect(() => a.conn.trySend(0x77 + 0x100, new Uint8Array(1))).toThrowError(ConfigError);
    expect(() => a.conn.trySend(0x10 + 0x100, new Uint8Array(1))).toThrowError(/integer 0\.\.255, got 272/);
    // The remote's capacity is the Peer's check (it knows it from NodeInfo); the remote enforces it anyway.
    expect(a.conn.trySend(0x10, new Uint8Array(101))).toBe(true);
  });

  it('trySend returns false once the queue is full while the peer does not read, and memory stays bounded', async () => {
    const [a, b] = pair([{ id: 0x10, sendQueueCapacity: 8 }], [{ id: 0x10, sendQueueCapacity: 8 }]);
    b.conn.pause();
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      if (a.conn.trySend(0x10, bytes(16 * 1024, i))) accepted++;
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    // Link high-water mark (256 KiB) + one batch + 8 queued messages: a few hundred KiB at most.
    expect(accepted).toBeLessThan(60);
    expect(a.conn.status().linkBufferedBytes).toBeLessThan(512 * 1024);
    b.conn.resume();
    await waitFor(() => b.received.length === accepted, 5000, 'drain after resume');
  });

  it('send() waits for room, resolves false on timeout and rejects on abort', async () => {
    const [a, b] = pair([{ id: 0x10, sendQueueCapacity: 1 }], [{ id: 0x10, sendQueueCapacity: 1 }]);
    b.conn.pause();
    while (a.conn.trySend(0x10, bytes(64 * 1024, 0))) await new Promise((r) => setImmediate(r));
    expect(await a.conn.send(0x10, bytes(10, 1), { timeoutMs: 50 })).toBe(false);
    const controller = new AbortController();
    const pending = a.conn.send(0x10, bytes(10, 2), { signal: controller.signal, timeoutMs: 5000 });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    const waiting = a.conn.send(0x10, bytes(10, 3), { timeoutMs: 5000 });
    b.conn.resume();
    expect(await within(waiting, 3000, 'send after resume')).toBe(true);
  });

  it('a graceful close sends everything accepted before it, then closes both ends cleanly', async () => {
    const [a, b] = pair();
    const count = 500;
    for (let i = 0; i < count; i++) expect(a.conn.trySend(0x10 + 0x10 * (i % 3), bytes(1000, i)) || (await a.conn.send(0x10 + 0x10 * (i % 3), bytes(1000, i)))).toBe(true);
    await within(a.conn.close(), 5000, 'close');
    expect(a.closeError()).toBeUndefined();
    await within(b.closed, 2000, 'remote close');
    expect(b.received).toHaveLength(count);
    expect(await a.conn.send(0x10, bytes(1, 1))).toBe(false);
    expect(a.conn.trySend(0x10, bytes(1, 1))).toBe(false);
  });

  it('closes with a TimeoutError ERR_PONG_TIMEOUT when the peer never answers pings', async () => {
    const [linkA, silent] = createMemoryLinkPair();
    silent.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
    const a = endpoint(linkA, CHANNELS, { pingIntervalMs: 60, pongTimeoutMs: 40 });
    open.push(a);
    const error = await within(a.closed, 2000, 'pong timeout');
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('ERR_PONG_TIMEOUT');
  });

  it('keeps the link up through a ping flood and answers with a bounded number of pongs', async () => {
    const [linkA, raw] = createMemoryLinkPair();
    let pongBytes = 0;
    raw.attach({ onData: (chunk) => (pongBytes += chunk.length), onDrain: () => undefined, onClose: () => undefined });
    const a = endpoint(linkA, CHANNELS);
    open.push(a);
    for (let i = 0; i < 100; i++) raw.write(new Uint8Array(1000).fill(0x03));
    await new Promise((r) => setTimeout(r, 50));
    expect(a.isClosed()).toBe(false);
    expect(pongBytes).toBeGreaterThan(0);
    expect(pongBytes).toBeLessThanOrEqual(100);
  });

  it('measures ping round trips while the link is healthy', async () => {
    const [a] = pair(CHANNELS, CHANNELS, { pingIntervalMs: 30, pongTimeoutMs: 20 });
    await waitFor(() => a.conn.status().lastPingRttMs !== undefined, 2000, 'a pong');
    expect(a.isClosed()).toBe(false);
  });

  it('stops the peer with ERR_MALFORMED_PACKET on garbage', async () => {
    const [linkA, raw] = createMemoryLinkPair();
    raw.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
    const a = endpoint(linkA, CHANNELS);
    open.push(a);
    raw.write(Uint8Array.of(0x7f, 1, 2, 3));
    const error = await within(a.closed, 2000, 'close');
    expect((error as ProtocolError).code).toBe('ERR_MALFORMED_PACKET');
  });

  it('gives channels bandwidth in proportion to priority under contention', async () => {
    const [a, b] = pair(
      [{ id: 1, priority: 1, sendQueueCapacity: 10_000 }, { id: 2, priority: 4, sendQueueCapacity: 10_000 }],
      [{ id: 1 }, { id: 2 }],
      { maxPacketPayloadBytes: 1024, maxBatchBytes: 16 * 1024 },
    );
    b.conn.pause();
    for (let i = 0; i < 2000; i++) {
      a.conn.trySend(1, bytes(1024, i));
      a.conn.trySend(2, bytes(1024, i));
    }
    b.conn.resume();
    await waitFor(() => b.received.length >= 1000, 5000, 'first 1000');
    const firstThousand = b.received.slice(0, 1000);
    const high = firstThousand.filter((m) => m.channelId === 2).length;
    // Priority 4 vs 1 should give ~80% of the bytes to channel 2 while both are backlogged.
    expect(high / 1000).toBeGreaterThan(0.7);
    expect(high / 1000).toBeLessThan(0.9);
  });

  it('rejects a config whose pong timeout is not shorter than the ping interval', () => {
    const [link] = createMemoryLinkPair();
    expect(() => new MConnection(link, CHANNELS, { onMessage: () => undefined, onClose: () => undefined }, { pingIntervalMs: 10, pongTimeoutMs: 10 })).toThrowError(ConfigError);
  });

  it('enforces the send rate limit (lower bound on time)', async () => {
    const [a, b] = pair(CHANNELS, CHANNELS, { sendRateBytesPerSec: 200 * 1024 });
    const started = performance.now();
    for (let i = 0; i < 60; i++) await a.conn.send(0x10, bytes(2 * 1024, i));
    await waitFor(() => b.received.length === 60, 5000, 'rate limited messages');
    // 120 KiB at 200 KiB/s with a 20 KiB burst takes at least ~0.5 s.
    expect(performance.now() - started).toBeGreaterThan(400);
  });
});

describe('memory links', () => {
  it('report a close that happened before attach, once', async () => {
    const [a, b] = createMemoryLinkPair();
    a.destroy(new Error('gone'));
    const closes: (Error | undefined)[] = [];
    b.attach({ onData: () => undefined, onDrain: () => undefined, onClose: (e) => closes.push(e) });
    await new Promise((r) => setTimeout(r, 10));
    expect(closes).toHaveLength(1);
    expect(closes[0]?.message).toMatch(/reset/);
  });
});
