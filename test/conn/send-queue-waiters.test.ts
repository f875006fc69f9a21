import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { memoryPair, type Endpoint } from '../helpers/mconn-pair.js';

const CH = 0x10;
const KiB = 1024;

const open: Endpoint[] = [];
const pair = (channels: ChannelDescriptor[]): [Endpoint, Endpoint] => memoryPair(channels, open);

afterEach(() => {
  for (const e of open.splice(0)) e.conn.destroy();
});

/** Resolves with each promise's outcome, or 'pending' for those not settled within `ms`. */
async function outcomes<T>(promises: Promise<T>[], ms: number): Promise<(T | 'pending')[]> {
  const results: (T | 'pending')[] = promises.map(() => 'pending');
  promises.forEach((p, i) => void p.then((v) => (results[i] = v), () => undefined));
  await new Promise((r) => setTimeout(r, ms));
  return results;
}

/** trySend until refused 5 times in a row, a little apart: the reader's link, ours and the queue are full. */
async function fill(a: Endpoint): Promise<void> {
  for (let refused = 0; refused < 5; ) {
    if (a.conn.trySend(CH, new Uint8Array(4 * KiB))) refused = 0;
    else {
      refused++;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/** A paused reader and a full queue, with `n` senders waiting for room (10 s send timeout). */
async function waitingSenders(n: number): Promise<{ a: Endpoint; sends: Promise<boolean>[] }> {
  const [a, b] = pair([{ id: CH, sendQueueCapacity: 4, sendQueueCapacityBytes: 8 * KiB, recvMessageCapacity: 64 * KiB }]);
  b.conn.pause();
  // Fill the link's buffer and our queue.
  await fill(a);
  const sends: Promise<boolean>[] = [];
  for (let i = 0; i < n; i++) sends.push(a.conn.send(CH, new Uint8Array(100 + i), { timeoutMs: 10_000 }));
  expect(await outcomes(sends, 20)).toEqual(sends.map(() => 'pending'));
  return { a, sends };
}

describe('send() waiting for room when the connection closes', () => {
  it('every waiting send resolves false at once on close(), not only every other one', async () => {
    const { a, sends } = await waitingSenders(6);
    void a.conn.close();
    // Before: waiters 2, 4, 6 stayed pending until their 10 s timeout (the wake loop skipped them).
    expect(await outcomes(sends, 50)).toEqual([false, false, false, false, false, false]);
  });

  it('every waiting send resolves false at once on destroy()', async () => {
    const { a, sends } = await waitingSenders(5);
    a.conn.destroy();
    expect(await outcomes(sends, 50)).toEqual([false, false, false, false, false]);
  });
});

describe('send() timeouts', () => {
  it('timeoutMs: Infinity (or over 2^31 - 1 ms) waits for room, not 1 ms (the host timer overflow)', async () => {
    const [a, b] = pair([{ id: CH, sendQueueCapacity: 1, recvMessageCapacity: 64 * KiB }]);
    b.conn.pause();
    await fill(a);
    const sends = [a.conn.send(CH, new Uint8Array(10), { timeoutMs: Infinity }), a.conn.send(CH, new Uint8Array(10), { timeoutMs: 2 ** 40 })];
    // Before: both false after 1 ms, with a TimeoutOverflowWarning.
    expect(await outcomes(sends, 50)).toEqual(['pending', 'pending']);
    b.conn.resume();
    expect(await outcomes(sends, 200)).toEqual([true, true]);
  });
});
