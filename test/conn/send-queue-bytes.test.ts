import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryLinkPair } from '../../src/transport/memory.js';
import { DEFAULT_SEND_QUEUE_CAPACITY_BYTES } from '../../src/conn/constants.js';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { endpoint, type Endpoint } from '../helpers/mconn-pair.js';
import { waitFor, within } from '../helpers/wait.js';

const CH = 0x10;
const KiB = 1024;
const MiB = 1024 * KiB;

const open: Endpoint[] = [];
function pair(channels: ChannelDescriptor[]): [Endpoint, Endpoint] {
  const [linkA, linkB] = createMemoryLinkPair();
  const ends: [Endpoint, Endpoint] = [endpoint(linkA, channels), endpoint(linkB, channels)];
  open.push(...ends);
  return ends;
}

afterEach(() => {
  for (const e of open.splice(0)) e.conn.destroy();
});

function bytes(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).fill(seed & 0xff);
}

const queueOf = (e: Endpoint) => e.conn.status().channels.find((c) => c.id === CH)!;

describe('send queue byte capacity', () => {
  it('holds at most sendQueueCapacityBytes (1 MiB by default) of messages for a peer that does not read, however many slots are free', async () => {
    // The relay's mempool case: 64 KiB messages, 1,024 slots. Counted in messages only, a peer that
    // does not read pinned 1,024 of them (64 MiB) per channel.
    const [a, b] = pair([{ id: CH, recvMessageCapacity: 64 * KiB + 64 }]);
    b.conn.pause();
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      if (a.conn.trySend(CH, bytes(64 * KiB + 64, i))) accepted++;
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    const queue = queueOf(a);
    expect(queue.sendQueueCapacityBytes).toBe(DEFAULT_SEND_QUEUE_CAPACITY_BYTES);
    expect(queue.sendQueueBytes).toBeLessThanOrEqual(DEFAULT_SEND_QUEUE_CAPACITY_BYTES);
    // 15 queued + what the link holds (high-water mark and a batch): before, 1,024 and more.
    expect(accepted).toBeLessThan(24);
    b.conn.resume();
    await waitFor(() => b.received.length === accepted, 5000, 'everything accepted is delivered');
    expect(queueOf(a).sendQueueBytes).toBe(0);
  });

  it('takes a message larger than the byte capacity into an empty queue', async () => {
    const [a, b] = pair([{ id: CH, sendQueueCapacityBytes: 64 * KiB, recvMessageCapacity: 2 * MiB }]);
    expect(a.conn.trySend(CH, bytes(2 * MiB, 1))).toBe(true);
    expect(a.conn.trySend(CH, bytes(1, 2))).toBe(false);
    expect(await a.conn.send(CH, bytes(1, 3), { timeoutMs: 5000 })).toBe(true);
    await waitFor(() => b.received.length === 2, 5000, 'both delivered');
    expect(b.received.map((m) => m.message.length)).toEqual([2 * MiB, 1]);
  });

  it('a small message sent after a large one waiting for bytes does not overtake it', async () => {
    const [a, b] = pair([{ id: CH, sendQueueCapacityBytes: 100 * KiB, recvMessageCapacity: MiB }]);
    b.conn.pause();
    // Fill the link and then the queue.
    while (a.conn.trySend(CH, bytes(60 * KiB, 0))) await new Promise((r) => setImmediate(r));
    expect(queueOf(a).sendQueueBytes).toBeGreaterThan(40 * KiB);
    const big = a.conn.send(CH, bytes(90 * KiB, 1), { timeoutMs: 5000 });
    const small = a.conn.send(CH, bytes(10, 2), { timeoutMs: 5000 });
    // Nor may trySend slip past the waiting senders.
    expect(a.conn.trySend(CH, bytes(10, 3))).toBe(false);
    b.conn.resume();
    expect(await within(big, 3000, 'big queued')).toBe(true);
    expect(await within(small, 3000, 'small queued')).toBe(true);
    await waitFor(() => b.received.some((m) => m.message.length === 10), 3000, 'small delivered');
    const tail = b.received.filter((m) => m.message.length !== 60 * KiB).map((m) => m.message.length);
    expect(tail).toEqual([90 * KiB, 10]);
  });

  it('a sender that gives up at the head lets the smaller ones behind it in', async () => {
    const [a, b] = pair([{ id: CH, sendQueueCapacityBytes: 100 * KiB, recvMessageCapacity: MiB }]);
    b.conn.pause();
    while (a.conn.trySend(CH, bytes(60 * KiB, 0))) await new Promise((r) => setImmediate(r));
    // Room for a small message but not the big one: the queue holds one 60 KiB message (< 100 KiB).
    const controller = new AbortController();
    const big = a.conn.send(CH, bytes(90 * KiB, 1), { signal: controller.signal, timeoutMs: 5000 });
    const small = a.conn.send(CH, bytes(10, 2), { timeoutMs: 5000 });
    controller.abort();
    await expect(big).rejects.toThrow();
    expect(await within(small, 1000, 'small queued once the big one gave up')).toBe(true);
  });

  it('rejects a byte capacity that is not a positive integer', () => {
    expect(() => pair([{ id: CH, sendQueueCapacityBytes: 0 }])).toThrow(/sendQueueCapacityBytes/);
  });
});
