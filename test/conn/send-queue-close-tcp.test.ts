/**
 * Senders waiting for room in the send queue when the connection closes, over real TCP (127.0.0.1):
 * each learns at once that its message was not taken.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import type { Link } from '../../src/transport/link.js';
import { endpoint, type Endpoint } from '../helpers/mconn-pair.js';
import { waitFor } from '../helpers/wait.js';

const LOOPBACK = { protocol: 'tcp', nodeId: undefined, host: '127.0.0.1', port: 0, path: '', params: {} } as const;
const CH = 0x10;
const KiB = 1024;
const channels: ChannelDescriptor[] = [{ id: CH, sendQueueCapacity: 4, sendQueueCapacityBytes: 64 * KiB, recvMessageCapacity: 64 * KiB }];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tcpPair(): Promise<[Endpoint, Endpoint]> {
  const transport = tcpTransport();
  const accepted: Link[] = [];
  const listener = await transport.listen!(LOOPBACK, (link) => accepted.push(link));
  cleanups.push(() => listener.close());
  const dialed = await transport.dial({ ...LOOPBACK, port: listener.addresses[0]!.port });
  await waitFor(() => accepted.length === 1, 3000, 'accepted');
  const ends: [Endpoint, Endpoint] = [endpoint(dialed, channels), endpoint(accepted[0]!, channels)];
  cleanups.push(() => ends.forEach((e) => e.conn.destroy()));
  return ends;
}

async function settledWithin<T>(promises: Promise<T>[], ms: number): Promise<(T | 'pending')[]> {
  const results: (T | 'pending')[] = promises.map(() => 'pending');
  promises.forEach((p, i) => void p.then((v) => (results[i] = v), () => undefined));
  await new Promise((r) => setTimeout(r, ms));
  return results;
}

describe('send queue over TCP: close while senders wait', () => {
  it('a graceful close() resolves every waiting send false at once (before: every other one after its 10 s timeout)', { timeout: 20_000 }, async () => {
    const [a, b] = await tcpPair();
    b.conn.pause(); // b stops reading: the kernel buffers, then a's link, then a's queue fill
    for (let refused = 0; refused < 10; ) {
      if (a.conn.trySend(CH, new Uint8Array(60 * KiB))) refused = 0;
      else {
        refused++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const sends = Array.from({ length: 6 }, (_, i) => a.conn.send(CH, new Uint8Array(10 * KiB + i), { timeoutMs: 10_000 }));
    expect(await settledWithin(sends, 50)).toEqual(sends.map(() => 'pending'));
    void a.conn.close();
    expect(await settledWithin(sends, 200)).toEqual(sends.map(() => false));
  });
});
