/**
 * What an idle connection holds (issue 14: heap per idle peer): shared configs and descriptors, lazy
 * tables, and nothing kept alive from the stages before it (the handshake's handlers).
 */
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { sharedResolvedDescriptor, type ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { DEFAULT_MCONNECTION_CONFIG, sharedMConnectionConfig } from '../../src/conn/config.js';
import { rateLimiter } from '../../src/conn/rate-limiter.js';
import { createMemoryLinkPair } from '../../src/transport/memory.js';
import type { LinkHandlers } from '../../src/transport/link.js';
import { TcpLink } from '../../platforms/node/tcp.js';
import { endpoint, type Endpoint } from '../helpers/mconn-pair.js';
import { waitFor } from '../helpers/wait.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const open: Endpoint[] = [];
afterEach(() => {
  for (const e of open.splice(0)) e.conn.destroy();
});

describe('idle connection footprint', () => {
  it('shares one frozen config among connections made with the same options, and re-resolves changed options', () => {
    const options: { pingIntervalMs?: number } = { pingIntervalMs: 90_000 };
    const first = sharedMConnectionConfig(options);
    expect(sharedMConnectionConfig(options)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.pingIntervalMs).toBe(90_000);
    expect(first.pongTimeoutMs).toBe(DEFAULT_MCONNECTION_CONFIG.pongTimeoutMs);
    options.pingIntervalMs = 120_000;
    const changed = sharedMConnectionConfig(options);
    expect(changed).not.toBe(first);
    expect(changed.pingIntervalMs).toBe(120_000);
    expect(() => sharedMConnectionConfig({ pongTimeoutMs: 90_000 })).toThrow(/pongTimeoutMs/);
  });

  it('shares resolved channel descriptors, and resolves a changed descriptor again', () => {
    const descriptor: { id: number; priority?: number } = { id: 0x42 };
    const first = sharedResolvedDescriptor(descriptor);
    expect(sharedResolvedDescriptor(descriptor)).toBe(first);
    expect(first).toMatchObject({ id: 0x42, priority: 1, name: '0x42' });
    descriptor.priority = 7;
    expect(sharedResolvedDescriptor(descriptor)).toMatchObject({ id: 0x42, priority: 7 });
  });

  it('uses one stateless limiter for every unlimited rate, and a bucket of its own for a limited one', () => {
    const now = (): number => 0;
    expect(rateLimiter(0, now)).toBe(rateLimiter(0, now));
    expect(rateLimiter(0, now).delayMs()).toBe(0);
    const limited = rateLimiter(1000, now);
    expect(limited).not.toBe(rateLimiter(1000, now));
    limited.take(5000);
    expect(limited.delayMs()).toBeGreaterThan(0);
  });

  it('delivers on every channel whether it finds channels by scanning (≤ 8) or through a table (more)', async () => {
    for (const count of [3, 8, 9, 40]) {
      const channels: ChannelDescriptor[] = Array.from({ length: count }, (_, i) => ({ id: (i * 37 + 5) & 0xff }));
      const [linkA, linkB] = createMemoryLinkPair();
      const a = endpoint(linkA, channels);
      const b = endpoint(linkB, channels);
      open.push(a, b);
      for (const { id } of channels) expect(a.conn.trySend(id, new Uint8Array([id]))).toBe(true);
      await waitFor(() => b.received.length === count, 5000, `${count} channels`);
      expect(b.received.map((m) => [m.channelId, m.message[0]])).toEqual(channels.map(({ id }) => [id, id]));
      expect(a.conn.hasChannel(0xfe)).toBe(channels.some(({ id }) => id === 0xfe));
    }
    const [link] = createMemoryLinkPair();
    expect(() => endpoint(link, [{ id: 1 }, { id: 2 }, { id: 1 }])).toThrow(/0x01 declared twice/);
  });

  it('a TCP link does not keep the handlers it had before the current ones (the handshake’s) alive', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const serverSocket = await accepted;
    try {
      const link = new TcpLink(client);
      let firstHandlers: LinkHandlers | undefined = { onData: () => undefined, onDrain: () => undefined, onClose: () => undefined };
      const firstRef = new WeakRef(firstHandlers);
      link.attach(firstHandlers);
      firstHandlers = undefined;
      const received: number[] = [];
      link.attach({ onData: (chunk) => received.push(...chunk), onDrain: () => undefined, onClose: () => undefined });
      serverSocket.write(Uint8Array.of(1, 2, 3));
      await waitFor(() => received.length === 3, 5000, 'data through the second handlers');
      for (let i = 0; i < 5 && firstRef.deref() !== undefined; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        collectGarbage();
      }
      expect(firstRef.deref()).toBeUndefined();
      link.destroy();
    } finally {
      serverSocket.destroy();
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
