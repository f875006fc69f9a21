/**
 * Our WebSocket server behind a real reverse proxy (Debian's nginx, started by the test on 127.0.0.1 with
 * a config of its own): with `trustedProxies`, peers are known by the address nginx appends to
 * X-Forwarded-For, so the per-host caps see each client, not the proxy; a forged header from the client
 * side, or one sent straight to us, names nobody. Clients pick their source address on 127.0.0.0/8.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createNode, MemoryStorage, WebSocketClientTransport, type Switch, type WebSocketConstructor } from '../../platforms/node/index.js';
import { clientAddressOf, trustedProxySet } from '../../platforms/node/forwarded-client.js';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import type { IncomingMessage } from 'node:http';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import type { Listener } from '../../src/transport/transport.js';
import { startNginx, type Nginx } from '../helpers/nginx.js';
import { waitFor, within } from '../helpers/wait.js';
import { heapUsedBytes } from '../hostile/harness.js';

/** A `ws` WebSocket class whose connections leave from `localAddress` (one "host" per address). */
function webSocketFrom(localAddress: string, headers: Record<string, string> = {}): WebSocketConstructor {
  class FromAddress extends WebSocket {
    constructor(url: string) {
      super(url, { localAddress, headers, perMessageDeflate: false });
      // The cleanup may terminate it while the upgrade's answer is still on its way: ws then emits
      // 'error', which with no listener is thrown out of the event loop (the server side already counted it).
      this.on('error', () => undefined);
    }
  }
  return FromAddress as unknown as WebSocketConstructor;
}

/** Opens a WebSocket and sends nothing (a handshake that never starts); resolves once it is open. */
async function silentSocket(url: string, localAddress: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { localAddress, perMessageDeflate: false });
  socket.on('error', () => undefined);
  await within(new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('close', () => reject(new Error('closed before open'))))), 5000, 'silent socket open');
  return socket;
}

let proxied: Nginx | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  if (proxied !== undefined) await proxied.stop();
  proxied = undefined;
});

describe('the ws transport behind nginx', () => {
  async function listenBehindProxy(trustedProxies: string[] | undefined): Promise<{ links: Link[]; directPort: number }> {
    const links: Link[] = [];
    const listener: Listener = await wsTransport(trustedProxies === undefined ? {} : { trustedProxies }).listen!(parseAddress('ws://127.0.0.1:0/'), (link) => links.push(link));
    cleanups.push(async () => {
      for (const link of links) link.destroy();
      await listener.close();
    });
    const directPort = listener.addresses[0]!.port;
    proxied = await startNginx(directPort);
    return { links, directPort };
  }

  it('knows a proxied peer by the address nginx appended, ignoring what the client wrote before it', async () => {
    const { links, directPort } = await listenBehindProxy(['127.0.0.1']);
    const viaProxy = `ws://127.0.0.1:${proxied!.port}/`;
    const clients: WebSocket[] = [];
    cleanups.push(() => clients.forEach((client) => client.terminate()));
    const Plain = webSocketFrom('127.0.0.2');
    clients.push(new Plain(viaProxy) as unknown as WebSocket);
    await waitFor(() => links.length === 1, 5000, 'proxied link');
    expect(links[0]!.remoteAddress).toBe('127.0.0.2:0');
    // A client that claims to be someone else: nginx appends the address it really came from.
    const Forger = webSocketFrom('127.0.0.3', { 'X-Forwarded-For': '198.51.100.7' });
    clients.push(new Forger(viaProxy) as unknown as WebSocket);
    await waitFor(() => links.length === 2, 5000, 'forged link');
    expect(links[1]!.remoteAddress).toBe('127.0.0.3:0');
    // Straight to us from an address that is no trusted proxy: the header names nobody.
    const Direct = webSocketFrom('127.0.0.4', { 'X-Forwarded-For': '198.51.100.8' });
    clients.push(new Direct(`ws://127.0.0.1:${directPort}/`) as unknown as WebSocket);
    await waitFor(() => links.length === 3, 5000, 'direct link');
    expect(links[2]!.remoteAddress).toMatch(/^127\.0\.0\.4:\d+$/);
  });

  it('without trustedProxies, every proxied peer has the proxy\'s address', async () => {
    const { links } = await listenBehindProxy(undefined);
    const Client = webSocketFrom('127.0.0.2');
    const client = new Client(`ws://127.0.0.1:${proxied!.port}/`) as unknown as WebSocket;
    cleanups.push(() => client.terminate());
    await waitFor(() => links.length === 1, 5000, 'proxied link');
    expect(links[0]!.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});

describe('a Switch behind nginx: the per-host handshake cap counts each client', () => {
  const switches: Switch[] = [];
  afterEach(async () => {
    await Promise.all(switches.splice(0).map((sw) => sw.stop()));
  });

  async function relayBehindProxy(trustedProxies: string[] | undefined): Promise<{ relay: Switch; url: (id: string) => string }> {
    const relay = await createNode({
      storage: new MemoryStorage(),
      network: 'proxy-test',
      listen: ['ws://127.0.0.1:0'],
      maxPendingInboundPerHost: 4,
      ...(trustedProxies === undefined ? {} : { ws: { trustedProxies } }),
    });
    switches.push(relay);
    await relay.start();
    proxied = await startNginx(parseAddress(relay.addresses[0]!).port);
    return { relay, url: (id) => `ws://${id}@127.0.0.1:${proxied!.port}/` };
  }

  async function clientFrom(localAddress: string): Promise<Switch> {
    const client = await createNode({ storage: new MemoryStorage(), network: 'proxy-test', transports: [new WebSocketClientTransport(webSocketFrom(localAddress))] });
    switches.push(client);
    await client.start();
    return client;
  }

  async function fillHandshakeSlots(url: string, localAddress: string, count: number): Promise<WebSocket[]> {
    const silent = await Promise.all(Array.from({ length: count }, () => silentSocket(url, localAddress)));
    cleanups.push(() => silent.forEach((socket) => socket.terminate()));
    return silent;
  }

  it('one client\'s silent handshakes through the proxy fill only its own slots: another client still connects', async () => {
    const { relay, url } = await relayBehindProxy(['127.0.0.1']);
    const silent = await fillHandshakeSlots(url(relay.nodeId), '127.0.0.2', 6);
    // Two of the six were over 127.0.0.2's cap of four: dropped.
    await waitFor(() => silent.filter((socket) => socket.readyState === WebSocket.CLOSED).length === 2, 5000, 'over-cap sockets dropped');
    const honest = await clientFrom('127.0.0.3');
    const peer = await within(honest.dial(url(relay.nodeId)), 10_000, 'honest dial through the proxy');
    expect(peer.id).toBe(relay.nodeId);
    await waitFor(() => relay.peers.length === 1, 5000, 'relay sees the honest peer');
    expect(relay.peers[0]!.address).toBe('127.0.0.3:0');
  });

  it('without trustedProxies, the same silent handshakes lock every client of the proxy out', async () => {
    const { relay, url } = await relayBehindProxy(undefined);
    await fillHandshakeSlots(url(relay.nodeId), '127.0.0.2', 4);
    const honest = await clientFrom('127.0.0.3');
    await expect(within(honest.dial(url(relay.nodeId), { signal: AbortSignal.timeout(3000) }), 10_000, 'locked-out dial')).rejects.toThrow();
    expect(relay.peers.length).toBe(0);
  });
});

describe('clientAddressOf', () => {
  const request = (remoteAddress: string, forwardedFor?: string | string[]): IncomingMessage =>
    ({ socket: { remoteAddress, remotePort: 5000 }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;
  const trusted = trustedProxySet(['10.0.0.1', 'fd00::1']);

  it('takes the last X-Forwarded-For entry from a trusted proxy, in either address form', () => {
    expect(clientAddressOf(request('10.0.0.1', '198.51.100.1, 203.0.113.9'), trusted)).toBe('203.0.113.9:0');
    expect(clientAddressOf(request('::ffff:10.0.0.1', '203.0.113.9'), trusted)).toBe('203.0.113.9:0');
    expect(clientAddressOf(request('fd00::1', ['198.51.100.1', '2001:db8::5'] as unknown as string), trusted)).toBe('[2001:db8::5]:0');
    expect(clientAddressOf(request('10.0.0.1', '::ffff:203.0.113.9'), trusted)).toBe('203.0.113.9:0');
  });

  it('keeps the connection\'s own address for other senders and for headers that name no IP address', () => {
    expect(clientAddressOf(request('10.0.0.2', '203.0.113.9'), trusted)).toBe('10.0.0.2:5000');
    for (const header of ['', 'unknown', '203.0.113.9:443', '203.0.113.9, ', '1'.repeat(100_000), ', '.repeat(50_000)]) {
      expect(clientAddressOf(request('10.0.0.1', header), trusted)).toBe('10.0.0.1:5000');
    }
  });
});

describe('a trusted proxy sending long X-Forwarded-For headers', () => {
  /** Opens `count` WebSockets from 127.0.0.1 (a trusted proxy here) by hand, each upgrade naming `forwardedFor`. */
  async function openUpgrades(count: number, forwardedFor: string): Promise<{ links: Link[]; close: () => Promise<void> }> {
    const links: Link[] = [];
    const listener = await wsTransport({ trustedProxies: ['127.0.0.1'] }).listen!(parseAddress('ws://127.0.0.1:0/'), (link) => links.push(link));
    const port = listener.addresses[0]!.port;
    // One request for every connection (the server parses each into strings of its own).
    const upgrade = Buffer.from(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${Buffer.alloc(16, 7).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: ${forwardedFor}\r\n\r\n`,
      'latin1',
    );
    const sockets: Socket[] = [];
    for (let batch = 0; batch < count; batch += 50) {
      for (let i = batch; i < Math.min(count, batch + 50); i++) {
        const socket = connect(port, '127.0.0.1', () => socket.write(upgrade));
        socket.on('error', () => undefined);
        socket.resume(); // the 101 answer, then nothing
        sockets.push(socket);
      }
      await waitFor(() => links.length === Math.min(count, batch + 50), 10_000, 'upgraded links');
    }
    return {
      links,
      close: async () => {
        for (const link of links) link.destroy();
        for (const socket of sockets) socket.destroy();
        await listener.close();
      },
    };
  }

  it('each peer keeps its address, not the whole header (a slice of a string holds all of it in V8)', { timeout: 60_000 }, async () => {
    const COUNT = 300;
    const client = '2001:db8:85a3::8a2e:370:7334';
    // What each connection holds, measured as retained heap with the links open, for a short header and one
    // near Node's 16 KiB limit on the request head. Same number of sockets, links and ws objects each time.
    const heldPerLink = async (forwardedFor: string): Promise<number> => {
      const before = heapUsedBytes();
      const opened = await openUpgrades(COUNT, forwardedFor);
      const held = (heapUsedBytes() - before) / COUNT;
      expect(opened.links.every((link) => link.remoteAddress === `[${client}]:0`)).toBe(true);
      await opened.close();
      return held;
    };
    await heldPerLink(client); // warm-up: code, pools
    const short = await heldPerLink(client);
    const long = await heldPerLink(`${'198.51.100.1, '.repeat(1000)}${client}`);
    // Before: +14 KiB a link (the 14,000-character header, kept by the address sliced from it).
    expect(long - short, `bytes held per link for a 14 KiB header beyond a short one (short: ${Math.round(short)})`).toBeLessThan(2048);
  });
});
