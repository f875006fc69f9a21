import { afterEach, describe, expect, it } from 'vitest';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { POOLED_FRAME_BYTES, pooledFramesFree } from '../../src/conn/frame-pool.js';
import { MConnection } from '../../src/conn/mconnection.js';
import { secureHandshake, type SecureLink } from '../../src/conn/secure-link.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import type { Transport } from '../../src/transport/transport.js';
import { endpoint } from '../helpers/mconn-pair.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, securePair, TapLink } from './secure-link-fixtures.js';

/**
 * Large sealed frames are written from reused buffers, handed back by the link's write callback
 * (src/conn/frame-pool.ts), and a flush writes a few batches per turn of the event loop. A buffer reused
 * while a socket still held it would put another frame's bytes on the wire, which the peer's AEAD would
 * refuse: these tests queue megabytes behind a reader that stopped, over real sockets, and check every
 * byte.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A secure pair over `transport` on 127.0.0.1: [dialer, listener]. */
async function securePairOver(transport: Transport, address: string): Promise<[SecureLink, SecureLink]> {
  const accepted: Link[] = [];
  const listener = await transport.listen!(parseAddress(address), (link) => accepted.push(link));
  const dialed = await transport.dial({ ...listener.addresses[0]! });
  await waitFor(() => accepted.length === 1, 5000, 'accept');
  const pair = await within(
    Promise.all([
      secureHandshake(dialed, { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 }),
      secureHandshake(accepted[0]!, { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 }),
    ]),
    5000,
    'secure handshake',
  );
  cleanups.push(async () => {
    for (const link of pair) link.destroy();
    await listener.close();
  });
  return pair;
}

/** `count` chunks of `size`, each with its own bytes, so that a frame sent twice or overwritten shows. */
function distinctChunks(count: number, size: number, seed: number): Uint8Array[] {
  return Array.from({ length: count }, (_, index) => {
    const chunk = new Uint8Array(size);
    let x = (seed * 7919 + index * 104_729) | 1;
    for (let i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk[i] = x & 0xff;
    }
    return chunk;
  });
}

function joined(chunks: readonly Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((chunk) => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
}

describe.each([
  ['tcp', () => tcpTransport(), 'tcp://127.0.0.1:0'],
  ['ws', () => wsTransport(), 'ws://127.0.0.1:0/mesh'],
] as const)('frame buffers over %s', (_name, makeTransport, address) => {
  it('reuses a frame buffer only once the socket let go of it: megabytes queued both ways behind paused readers arrive intact', async () => {
    const [a, b] = await securePairOver(makeTransport(), address);
    const atA = collect(a);
    const atB = collect(b);
    a.pause();
    b.pause();
    const fromA: Uint8Array[] = [];
    const fromB: Uint8Array[] = [];
    // Rounds a turn apart: between them Node reports what the kernel took, those buffers come back to
    // the pool and the next round reuses them, while frames that the kernel had no room for (its
    // buffers full, as nobody reads) wait in the socket's queue: those must stay untouched.
    let roundsWithQueue = 0;
    for (let round = 0; roundsWithQueue < 4; round++) {
      if (round === 400) throw new Error('the sockets never queued a frame');
      const chunksA = distinctChunks(8, 60 * 1024, 2 * round);
      const chunksB = distinctChunks(8, 60 * 1024, 2 * round + 1);
      for (let i = 0; i < 8; i++) {
        a.write(chunksA[i]!);
        b.write(chunksB[i]!);
      }
      fromA.push(...chunksA);
      fromB.push(...chunksB);
      if (a.bufferedBytes > 0 && b.bufferedBytes > 0) roundsWithQueue++;
      await nextTurn();
    }
    a.resume();
    b.resume();
    const expected = fromA.length * 60 * 1024;
    const arrived = (collected: { chunks: Uint8Array[] }): number => collected.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    // A frame overwritten in a socket's queue fails the peer's AEAD and closes the link.
    await waitFor(() => (arrived(atA) === expected && arrived(atB) === expected) || a.closed || b.closed, 20_000, 'every chunk both ways');
    expect(a.closed || b.closed).toBe(false);
    expect(joined(atB.chunks).equals(joined(fromA))).toBe(true);
    expect(joined(atA.chunks).equals(joined(fromB))).toBe(true);
    // The links gave the buffers back once written.
    await waitFor(() => pooledFramesFree() > 0, 5000, 'frame buffers back in the pool');
  });
});

it('many links over TCP and ws share the pool while some are destroyed or closed with frames still queued: the others arrive intact', async () => {
  // Six pairs writing at once; pairs 0 and 3 are destroyed, 1 and 4 closed, mid-stream with frames
  // queued in their sockets (nobody reads), which hands those buffers back by error callbacks while the others keep
  // taking buffers from the pool. A buffer handed back twice, or before a socket let go of it, would
  // reach two links at once and fail a survivor's AEAD.
  const pairs: [SecureLink, SecureLink][] = [];
  for (let i = 0; i < 6; i++) {
    pairs.push(await (i < 3 ? securePairOver(tcpTransport(), 'tcp://127.0.0.1:0') : securePairOver(wsTransport(), 'ws://127.0.0.1:0/mesh')));
  }
  const survivors = [2, 5];
  const received = pairs.map(([a, b]) => [collect(a), collect(b)] as const);
  const sent = pairs.map(() => [[], []] as Uint8Array[][]);
  for (const [a, b] of pairs) {
    a.pause();
    b.pause();
  }
  // Until each survivor's sockets have held queued frames both ways for a few turns (their readers
  // stopped, the kernel's buffers full): frames that must stay untouched while the pool hands buffers on.
  const queuedRounds = survivors.map(() => 0);
  for (let round = 0; queuedRounds.some((n) => n < 4); round++) {
    if (round === 400) throw new Error('the sockets never queued a frame');
    pairs.forEach(([a, b], index) => {
      if (a.closed || b.closed) return;
      const chunks = distinctChunks(4, 50 * 1024 + round * 97, 100 * round + index);
      for (let i = 0; i < 4; i++) {
        const from = i % 2;
        (from === 0 ? a : b).write(chunks[i]!);
        sent[index]![from]!.push(chunks[i]!);
      }
    });
    if (round === 3) {
      pairs[0]![0].destroy();
      pairs[3]![1].destroy();
      pairs[1]![0].close();
      pairs[4]![1].close();
    }
    survivors.forEach((index, i) => {
      const [a, b] = pairs[index]!;
      if (a.bufferedBytes > 0 && b.bufferedBytes > 0) queuedRounds[i]!++;
    });
    await nextTurn();
  }
  for (const index of survivors) for (const link of pairs[index]!) link.resume();
  const bytesOf = (chunks: readonly Uint8Array[]): number => chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  for (const index of survivors) {
    const [a, b] = pairs[index]!;
    const [atA, atB] = received[index]!;
    const [fromA, fromB] = sent[index]!;
    await waitFor(() => (bytesOf(atB.chunks) === bytesOf(fromA!) && bytesOf(atA.chunks) === bytesOf(fromB!)) || a.closed || b.closed, 20_000, `pair ${index} complete`);
    expect(a.closed || b.closed, `pair ${index} still open`).toBe(false);
    expect(joined(atB.chunks).equals(joined(fromA!))).toBe(true);
    expect(joined(atA.chunks).equals(joined(fromB!))).toBe(true);
  }
}, 30_000);

describe('flushes', () => {
  it('write at most 4 batches (256 KiB) per turn of the event loop, then go on in the next, in order', async () => {
    const aead = { aead: nodeChaCha20Poly1305 };
    const { a, b } = await securePair({ a: aead, b: aead, link: { highWaterMarkBytes: 64 * 1024 * 1024 } });
    const tap = new TapLink(a);
    // A queue deep enough for all 32 at once (2 MiB, over the default byte capacity): the flush's pacing is under test.
    const channels = [{ id: 0x10, priority: 1, sendQueueCapacity: 64, sendQueueCapacityBytes: 4 * 1024 * 1024, recvMessageCapacity: 1024 * 1024 }];
    const sender = new MConnection(tap, channels, { onMessage: () => undefined, onClose: () => undefined });
    sender.start();
    const receiver = endpoint(b, channels);
    cleanups.push(() => {
      sender.destroy();
      receiver.conn.destroy();
    });
    const messages = distinctChunks(32, 64 * 1024, 3);
    for (const message of messages) expect(sender.trySend(0x10, message)).toBe(true);
    // The first went out at once (the link was idle); the rest waits for the flush it scheduled.
    const writesPerTurn: number[] = [tap.writes.length];
    let seen = tap.writes.length;
    while (receiver.received.length < messages.length && writesPerTurn.length < 1000) {
      await nextTurn();
      writesPerTurn.push(tap.writes.length - seen);
      seen = tap.writes.length;
    }
    expect(receiver.received).toHaveLength(messages.length);
    expect(joined(receiver.received.map((r) => r.message)).equals(joined(messages))).toBe(true);
    // 32 messages of 64 KiB make about 34 batches of 64 KiB: at 4 a turn, at least 8 turns.
    expect(Math.max(...writesPerTurn)).toBeLessThanOrEqual(4);
    expect(writesPerTurn.filter((n) => n > 0).length).toBeGreaterThanOrEqual(8);
  });

  it('seal large frames into buffers of the pooled size', async () => {
    const { a, tapA } = await securePair();
    a.write(new Uint8Array(60 * 1024));
    a.write(new Uint8Array(100));
    const [large, small] = tapA.writes.slice(-2);
    expect(large!.buffer.byteLength).toBe(POOLED_FRAME_BYTES);
    expect(small!.buffer.byteLength).not.toBe(POOLED_FRAME_BYTES);
  });
});
