import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeChaCha20Poly1305, openSslChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { TcpLink } from '../../platforms/node/tcp.js';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { MConnection } from '../../src/conn/mconnection.js';
import { secureHandshake, type SecureLink } from '../../src/conn/secure-link.js';
import { nobleChaCha20Poly1305, type AeadFactory } from '../../src/crypto/aead.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { endpoint, type Endpoint } from '../helpers/mconn-pair.js';
import { waitFor, within } from '../helpers/wait.js';
import { TapLink } from './secure-link-fixtures.js';

/**
 * The send path of issue 14 over real loopback TCP: a message sent while the connection is idle is
 * written before `send()` returns; what follows in the same burst is coalesced by the flush that the
 * first one scheduled; order per channel holds whichever path a message takes; and the AEAD paths
 * (libsodium, OpenSSL, noble) interoperate with frames opened in place and batches from the pool.
 */

const LOW = 0x10;
const HIGH = 0x20;
const CHANNELS: ChannelDescriptor[] = [
  { id: LOW, priority: 1, sendQueueCapacity: 4096, recvMessageCapacity: 1024 * 1024 },
  { id: HIGH, priority: 10, sendQueueCapacity: 4096, recvMessageCapacity: 1024 * 1024 },
];

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** Two TcpLinks joined over 127.0.0.1. */
async function tcpPair(): Promise<[TcpLink, TcpLink]> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const dialed = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  await new Promise<void>((resolve, reject) => {
    dialed.once('connect', resolve);
    dialed.once('error', reject);
  });
  const links: [TcpLink, TcpLink] = [new TcpLink(dialed), new TcpLink(await within(accepted, 5000, 'accept'))];
  cleanups.push(() => {
    for (const link of links) link.destroy();
    server.close();
  });
  return links;
}

async function securePair(aeadA: AeadFactory, aeadB: AeadFactory, tap?: (link: TcpLink) => TcpLink | TapLink): Promise<[SecureLink, SecureLink]> {
  const [rawA, rawB] = await tcpPair();
  const wrappedA = tap ? tap(rawA) : rawA;
  return within(
    Promise.all([secureHandshake(wrappedA, { identity: generateNodeKey(), aead: aeadA }), secureHandshake(rawB, { identity: generateNodeKey(), aead: aeadB })]),
    5000,
    'secure handshake',
  );
}

function connect(a: SecureLink | TapLink, b: SecureLink): [Endpoint, Endpoint] {
  const ends: [Endpoint, Endpoint] = [endpoint(a, CHANNELS), endpoint(b, CHANNELS)];
  cleanups.push(() => ends.forEach((e) => e.conn.destroy()));
  return ends;
}

/** [u32 seq][channel][fill]: checkable on arrival. */
function message(channelId: number, seq: number, size: number): Uint8Array {
  const out = new Uint8Array(Math.max(size, 5)).fill((seq * 13 + channelId) & 0xff);
  new DataView(out.buffer).setUint32(0, seq);
  out[4] = channelId;
  return out;
}

const afterBurst = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('MConnection send path over TCP', () => {
  it('writes a message sent while idle before send() returns, and coalesces the rest of that burst into few writes', async () => {
    const [secureA, secureB] = await securePair(nodeChaCha20Poly1305, nodeChaCha20Poly1305);
    const tap = new TapLink(secureA);
    const [a, b] = connect(tap, secureB);
    expect(a.conn.trySend(LOW, message(LOW, 0, 64))).toBe(true);
    expect(tap.writes).toHaveLength(1);
    // The rest of this burst waits for the flush the first message scheduled.
    for (let seq = 1; seq < 500; seq++) expect(a.conn.trySend(LOW, message(LOW, seq, 64))).toBe(true);
    expect(tap.writes).toHaveLength(1);
    await waitFor(() => b.received.length === 500, 10_000, '500 messages');
    expect(b.received.map((r) => new DataView(r.message.buffer, r.message.byteOffset).getUint32(0))).toEqual([...Array(500).keys()]);
    expect(tap.writes.length).toBeLessThanOrEqual(3);
    // Idle again: the next lone message is immediate once more.
    await afterBurst();
    const before = tap.writes.length;
    await a.conn.send(HIGH, message(HIGH, 0, 64));
    expect(tap.writes.length).toBe(before + 1);
  });

  it('answers in a request/response exchange are written inside the handler, with no flush scheduled for later', async () => {
    const [secureA, secureB] = await securePair(nodeChaCha20Poly1305, nodeChaCha20Poly1305);
    const tapA = new TapLink(secureA);
    const tapB = new TapLink(secureB);
    let afterBurstCalls = 0;
    const countingClock: Clock = { ...systemClock, afterBurst: (callback) => void (afterBurstCalls += 1, systemClock.afterBurst(callback)) };
    const ROUNDS = 200;
    let rounds = 0;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const ends: MConnection[] = [];
    const answerAtOnce = (conn: () => MConnection, tap: TapLink) => (channelId: number, received: Uint8Array): void => {
      const seq = new DataView(received.buffer, received.byteOffset).getUint32(0);
      if (conn() === ends[0] && seq + 1 === ROUNDS) return done();
      if (conn() === ends[0]) rounds += 1;
      const writes = tap.writes.length;
      expect(conn().trySend(channelId, message(channelId, conn() === ends[0] ? seq + 1 : seq, 64))).toBe(true);
      expect(tap.writes.length).toBe(writes + 1);
    };
    for (const [link, tap] of [
      [tapA, tapA],
      [tapB, tapB],
    ] as const) {
      const index = ends.length;
      const conn = new MConnection(link, CHANNELS, { onMessage: answerAtOnce(() => ends[index]!, tap), onClose: () => undefined }, {}, countingClock);
      ends.push(conn);
      cleanups.push(() => conn.destroy());
      conn.start();
    }
    expect(ends[0]!.trySend(HIGH, message(HIGH, 0, 64))).toBe(true);
    await within(finished, 20_000, `${ROUNDS} round trips`);
    expect(rounds).toBe(ROUNDS - 1);
    // Only the very first send may have scheduled one (nothing had arrived before it).
    expect(afterBurstCalls).toBeLessThanOrEqual(1);
  });

  it('queues a lone message behind bytes the link has not sent yet (the receiver stopped reading), keeping order', async () => {
    const [secureA, secureB] = await securePair(nodeChaCha20Poly1305, nodeChaCha20Poly1305);
    const [a, b] = connect(secureA, secureB);
    secureB.pause();
    b.conn.pause();
    // Fill the link until it reports backpressure (the receiver reads nothing).
    let seq = 0;
    while (a.conn.status().linkBufferedBytes === 0 || seq < 64) {
      expect(a.conn.trySend(LOW, message(LOW, seq++, 64 * 1024))).toBe(true);
      await afterBurst();
      if (seq > 3000) throw new Error('the link never buffered');
    }
    const sentBefore = a.conn.status().sentBytes;
    expect(a.conn.trySend(LOW, message(LOW, seq++, 64))).toBe(true);
    // Not written at once: bytes are still in flight, so it waits its turn behind them.
    expect(a.conn.status().sentBytes).toBe(sentBefore);
    b.conn.resume();
    secureB.resume();
    await waitFor(() => b.received.length === seq, 20_000, `${seq} messages`);
    expect(b.received.map((r) => new DataView(r.message.buffer, r.message.byteOffset).getUint32(0))).toEqual([...Array(seq).keys()]);
  });

  it('keeps every channel in order whichever path each message takes (bursts, lone sends, waits)', async () => {
    const [secureA, secureB] = await securePair(nodeChaCha20Poly1305, nobleChaCha20Poly1305);
    const [a, b] = connect(secureA, secureB);
    const sizes = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1000, max: 70 * 1024 }));
    const step = fc.record({ channel: fc.constantFrom(LOW, HIGH), size: sizes, then: fc.constantFrom('none', 'tick', 'microtask') });
    const sentSeq = new Map([
      [LOW, 0],
      [HIGH, 0],
    ]);
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (plan) => {
        for (const { channel, size, then } of plan) {
          const seq = sentSeq.get(channel)!;
          sentSeq.set(channel, seq + 1);
          expect(await a.conn.send(channel, message(channel, seq, size))).toBe(true);
          if (then === 'tick') await afterBurst();
          else if (then === 'microtask') await Promise.resolve();
        }
      }),
      { numRuns: 30 },
    );
    const total = sentSeq.get(LOW)! + sentSeq.get(HIGH)!;
    await waitFor(() => b.received.length === total, 30_000, `${total} messages`);
    for (const channel of [LOW, HIGH]) {
      const got = b.received.filter((r) => r.channelId === channel);
      got.forEach((r, i) => {
        expect(new DataView(r.message.buffer, r.message.byteOffset).getUint32(0)).toBe(i);
        expect(Buffer.from(r.message).equals(Buffer.from(message(channel, i, r.message.length)))).toBe(true);
      });
    }
  });
});

describe('AEAD paths talk to each other through MConnection over TCP', () => {
  const paths: [string, AeadFactory, AeadFactory][] = [
    ['libsodium ↔ noble', nodeChaCha20Poly1305, nobleChaCha20Poly1305],
    ['libsodium ↔ OpenSSL', nodeChaCha20Poly1305, openSslChaCha20Poly1305],
    ['OpenSSL ↔ noble', openSslChaCha20Poly1305, nobleChaCha20Poly1305],
  ];
  const SIZES = [0, 1, 64, 1024, 16 * 1024, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 300 * 1024];

  it.each(paths)('%s: every size both ways, intact and in order', async (_name, aeadA, aeadB) => {
    const [secureA, secureB] = await securePair(aeadA, aeadB);
    const [a, b] = connect(secureA, secureB);
    for (let round = 0; round < 3; round++) {
      for (const [i, size] of SIZES.entries()) {
        expect(await a.conn.send(LOW, message(LOW, round * SIZES.length + i, size))).toBe(true);
        expect(await b.conn.send(HIGH, message(HIGH, round * SIZES.length + i, size))).toBe(true);
      }
      await afterBurst();
    }
    const total = SIZES.length * 3;
    await waitFor(() => a.received.length === total && b.received.length === total, 20_000, 'both directions');
    for (const [end, channel] of [
      [b, LOW],
      [a, HIGH],
    ] as const) {
      end.received.forEach((r, i) => {
        expect(r.channelId).toBe(channel);
        expect(Buffer.from(r.message).equals(Buffer.from(message(channel, i, SIZES[i % SIZES.length]!)))).toBe(true);
      });
    }
  });
});
