/**
 * Attacks on the WebSocket transport itself, below any meshlink byte: what our dialer offers a hostile
 * server, and what a hostile client can hold on our server before its upgrade completes. Real `ws`
 * sockets and raw TCP on 127.0.0.1; every wait is bounded.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseAddress } from '../../src/transport/address.js';
import { WebSocketLink, WEBSOCKET_MAX_PAUSED_BYTES } from '../../src/transport/websocket-link.js';
import { WebSocket as WsClient } from 'ws';
import { browserLike } from '../helpers/browser-websocket.js';
import type { Listener } from '../../src/transport/transport.js';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { waitFor, within } from '../helpers/wait.js';
import { sleep } from './harness.js';

const servers: WebSocketServer[] = [];
const listeners: Listener[] = [];
const sockets = new Set<net.Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
  for (const server of servers) for (const client of server.clients) client.terminate();
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(() => done(undefined)))));
});

async function hostileServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ server: WebSocketServer; port: number }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describe('our WebSocket dialer against a hostile server', () => {
  it('offers no permessage-deflate, so a server cannot make it inflate a compression bomb', async () => {
    // A server that accepts deflate wherever it is offered, and sends a message that compresses 1000:1.
    const { server, port } = await hostileServer({ perMessageDeflate: { threshold: 0 } });
    const accepted = new Promise<{ offered: string | undefined; negotiated: string }>((resolve) =>
      server.once('connection', (socket: WebSocket, request: IncomingMessage) => {
        socket.send(new Uint8Array(512 * 1024));
        resolve({ offered: request.headers['sec-websocket-extensions'], negotiated: socket.extensions });
      }),
    );
    const link = await wsTransport().dial({ protocol: 'ws', nodeId: undefined, host: '127.0.0.1', port, path: '/', params: {} });
    const received: number[] = [];
    link.attach({ onData: (chunk) => void received.push(chunk.length), onDrain: () => undefined, onClose: () => undefined });
    link.resume();
    const { offered, negotiated } = await within(accepted, 3000, 'the server to see the upgrade');
    expect(offered, 'Sec-WebSocket-Extensions offered by our dialer').toBeUndefined();
    expect(negotiated, 'extensions negotiated').toBe('');
    link.destroy();
  });
});

/** A raw TCP connection from `localAddress` that starts an HTTP upgrade and never finishes its headers. */
function halfOpenUpgrade(port: number, localAddress: string): Promise<{ socket: net.Socket; closedAfterMs: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    sockets.add(socket);
    const openedAt = performance.now();
    const closedAfterMs = new Promise<number>((done) => socket.once('close', () => done(performance.now() - openedAt)));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      resolve({ socket, closedAfterMs });
    });
    setTimeout(() => reject(new Error('connect timed out')), 3000);
  });
}

describe('our WebSocket server against upgrades that never complete', () => {
  it('holds at most maxPendingUpgradesPerHost half-open upgrades from one host, cuts each at upgradeTimeoutMs, and still upgrades another host', async () => {
    const perHost = 4;
    const upgradeTimeoutMs = 1500;
    const links: unknown[] = [];
    const listener = await wsTransport({ maxPendingUpgradesPerHost: perHost, upgradeTimeoutMs }).listen!(parseAddress('ws://127.0.0.1:0/'), (link) => void links.push(link));
    listeners.push(listener);
    const port = listener.addresses[0]!.port;
    const attempts = await Promise.all(Array.from({ length: 40 }, () => halfOpenUpgrade(port, '127.0.0.3')));
    // Everything past the per-host cap is dropped on arrival.
    const closedAt = attempts.map(() => Number.NaN);
    attempts.forEach(({ closedAfterMs }, index) => void closedAfterMs.then((ms) => (closedAt[index] = ms)));
    await waitFor(() => closedAt.filter(Number.isFinite).length >= attempts.length - perHost, 2000, 'the excess to be dropped');
    expect(closedAt.filter((ms) => Number.isFinite(ms) && ms < upgradeTimeoutMs / 2).length, 'dropped on arrival').toBe(attempts.length - perHost);
    // Another host still upgrades while that one holds its slots.
    const honest = await wsTransport().dial({ ...parseAddress('ws://127.0.0.1:0/'), port });
    await waitFor(() => links.length === 1, 2000, 'the honest upgrade to reach the listener');
    // The ones held are cut at the upgrade deadline, not Node's 60 s header timeout.
    const held = await within(Promise.all(attempts.map((attempt) => attempt.closedAfterMs)), upgradeTimeoutMs + 3000, 'held upgrades to be cut');
    expect(Math.max(...held), 'slowest cut (ms)').toBeGreaterThanOrEqual(upgradeTimeoutMs - 50);
    expect(Math.max(...held), 'slowest cut (ms)').toBeLessThan(upgradeTimeoutMs + 2000);
    // The slots are free again: the same host may start as many again.
    const again = await Promise.all(Array.from({ length: perHost }, () => halfOpenUpgrade(port, '127.0.0.3')));
    const early = await Promise.race([Promise.race(again.map((a) => a.closedAfterMs)), new Promise<string>((resolve) => setTimeout(() => resolve('held'), upgradeTimeoutMs / 2))]);
    expect(early, 'the same host is admitted again once its slots are free').toBe('held');
    honest.destroy();
  });

  it('with every upgrade slot held by a few hosts, a newcomer from another host takes the place of the busiest host\'s oldest', async () => {
    const [hosts, perHost] = [4, 4];
    const links: unknown[] = [];
    const listener = await wsTransport({ maxPendingUpgrades: hosts * perHost, maxPendingUpgradesPerHost: perHost }).listen!(parseAddress('ws://127.0.0.1:0/'), (link) => void links.push(link));
    listeners.push(listener);
    const port = listener.addresses[0]!.port;
    const held: { closedAfterMs: Promise<number> }[] = [];
    for (let host = 0; host < hosts; host++) {
      for (let i = 0; i < perHost; i++) held.push(await halfOpenUpgrade(port, `127.0.0.${3 + host}`));
    }
    const closed = held.map(() => false);
    held.forEach(({ closedAfterMs }, index) => void closedAfterMs.then(() => (closed[index] = true)));
    await sleep(100);
    expect(closed.filter(Boolean).length, 'held upgrades dropped before the newcomer').toBe(0);
    const honest = await wsTransport().dial({ ...parseAddress('ws://127.0.0.1:0/'), port });
    await waitFor(() => links.length === 1, 2000, 'the newcomer upgraded');
    await sleep(100);
    expect(closed.filter(Boolean).length, 'held upgrades that gave way').toBe(1);
    expect(closed.findIndex(Boolean), 'the oldest of the first busiest host').toBe(0);
    honest.destroy();
  });

  it('one network\'s many hosts rotating through the full upgrade pool never push out a connection from another network', async () => {
    const pool = 8;
    const { open, closedCount } = await upgradePool(pool);
    // 127.2.0.0/16: one network, a fresh address per connection, as a cloud block or an IPv6 /48.
    for (let i = 0; i < pool - 1; i++) await open(`127.2.0.${1 + i}`);
    const otherNetwork = await open('127.0.0.1');
    const rotations = 20;
    for (let i = 0; i < rotations; i++) await open(`127.2.1.${1 + i}`);
    await waitFor(() => closedCount() >= rotations, 3000, 'a connection closed per newcomer');
    await sleep(100);
    expect(otherNetwork.closed, 'the other network\'s upgrade is still pending').toBe(false);
    expect(closedCount()).toBe(rotations);
  });

  it('one address from a quieter network takes one slot of a full upgrade pool of single connections, not its per-host cap', async () => {
    const pool = 8;
    const { open, closedCount } = await upgradePool(pool);
    const honest: { closed: boolean }[] = [];
    for (let i = 0; i < pool; i++) honest.push(await open(`127.2.0.${1 + i}`));
    const attacks = 8; // the default per-host cap
    for (let i = 0; i < attacks; i++) await open('127.9.0.1');
    await waitFor(() => closedCount() >= attacks, 3000, 'a connection closed per attacker connection');
    await sleep(100);
    // Compared by network alone: 4 honest upgrades pushed out (until the attacker's network held as many).
    expect(honest.filter((state) => state.closed).length, 'honest upgrades pushed out').toBe(1);
  });
});

/** A ws listener whose upgrade pool holds `pool`, and half-open upgrades to it from a given address. */
async function upgradePool(pool: number): Promise<{ open: (localAddress: string) => Promise<{ closed: boolean }>; closedCount: () => number }> {
  const listener = await wsTransport({ maxPendingUpgrades: pool }).listen!(parseAddress('ws://127.0.0.1:0/'), () => undefined);
  listeners.push(listener);
  const port = listener.addresses[0]!.port;
  let closedCount = 0;
  const open = async (localAddress: string): Promise<{ closed: boolean }> => {
    const state = { closed: false };
    const { closedAfterMs } = await halfOpenUpgrade(port, localAddress);
    void closedAfterMs.then(() => {
      state.closed = true;
      closedCount++;
    });
    return state;
  };
  return { open, closedCount: () => closedCount };
}


/** Writes `request` to our ws server's port from a raw client; resolves with all it answered, once it closes. */
async function answerTo(port: number, request: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.add(socket);
  socket.on('error', () => undefined);
  let answer = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write(request);
  await within(closed, 5000, 'the server to close the connection');
  return answer;
}

describe('our WebSocket server against plain HTTP', () => {
  const originalWriteHead = ServerResponse.prototype.writeHead;
  afterEach(() => void (ServerResponse.prototype.writeHead = originalWriteHead));

  it('a GET that is no upgrade gets one 426; 60 KB of pipelined GETs on one connection are cut before the HTTP server makes a request of any', async () => {
    // Every answer Node's HTTP server in this process begins (ours: one per request it parsed).
    let answersBegun = 0;
    ServerResponse.prototype.writeHead = function countedWriteHead(this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
      answersBegun++;
      return originalWriteHead.apply(this, args);
    } as ServerResponse['writeHead'];
    const listener = await wsTransport().listen!(parseAddress('ws://127.0.0.1:0/'), () => undefined);
    listeners.push(listener);
    const port = listener.addresses[0]!.port;
    const get = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    expect(await answerTo(port, get)).toMatch(/^HTTP\/1\.1 426 /);
    expect(answersBegun).toBe(1);
    const pipelined = get.repeat(Math.floor((60 * 1024) / get.length));
    const answers = await Promise.all(Array.from({ length: 4 }, () => answerTo(port, pipelined)));
    expect(answersBegun, 'answers Node began for the pipelined requests').toBe(1);
    expect(answers, 'nothing answered').toEqual(['', '', '', '']);
  });

  it('an upgrade request trickled a byte a write still upgrades', async () => {
    const links: unknown[] = [];
    const listener = await wsTransport().listen!(parseAddress('ws://127.0.0.1:0/'), (link) => void links.push(link));
    listeners.push(listener);
    const socket = net.connect({ host: '127.0.0.1', port: listener.addresses[0]!.port });
    sockets.add(socket);
    socket.on('error', () => undefined);
    await within(new Promise((resolve) => socket.once('connect', resolve)), 3000, 'connect');
    socket.setNoDelay(true);
    const answered = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
    const request = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    for (const byte of request) {
      socket.write(byte);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await within(answered, 3000, 'the answer')).toMatch(/^HTTP\/1\.1 101 /);
    await waitFor(() => links.length === 1, 3000, 'the link');
  });
});

describe('a browser-style WebSocket link (no pause) against a server flooding tiny messages', () => {
  it('counts each held message, not only its bytes: 200,000 one-byte messages while paused cut the link (ERR_RATE_LIMIT)', async () => {
    // 200,000 bytes alone are far under WEBSOCKET_MAX_PAUSED_BYTES; 200,000 held messages are not.
    expect(200_000).toBeLessThan(WEBSOCKET_MAX_PAUSED_BYTES);
    const { server, port } = await hostileServer();
    server.on('connection', (socket: WebSocket) => {
      const one = new Uint8Array(1);
      for (let i = 0; i < 200_000 && socket.readyState === socket.OPEN; i++) socket.send(one);
    });
    const client = new WsClient(`ws://127.0.0.1:${port}/`);
    await within(new Promise((resolve) => client.once('open', resolve)), 10_000, 'the client to open');
    const link = new WebSocketLink(browserLike(client), `127.0.0.1:${port}`); // paused until attach: never attached here
    await waitFor(() => link.closed, 10_000, 'the flooded link to close');
    const error = await within(new Promise<Error | undefined>((resolve) => link.attach({ onData: () => undefined, onDrain: () => undefined, onClose: resolve })), 1000, 'onClose');
    expect(error).toMatchObject({ code: 'ERR_RATE_LIMIT' });
    client.terminate();
  });
});
