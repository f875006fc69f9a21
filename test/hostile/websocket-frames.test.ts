/**
 * WebSocket frames written by hand at our ws server (a raw TCP client) and at our ws dialer (a raw TCP
 * server): control-frame floods, protocol violations, fragments, text. Each violation costs the peer
 * its link at once with a typed error; before, `ws` answered with a close frame and then held the
 * link, neither open nor closed, for its 30 s close timeout. Loopback only; every wait is bounded.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import type { Listener } from '../../src/transport/transport.js';
import { WS_FRAMING_SLACK_BYTES } from '../../platforms/node/ws-framing-allowance.js';
import { WS_CONTROL_FRAMES_BURST } from '../../platforms/node/ws-link.js';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { waitFor, within } from '../helpers/wait.js';
import type { CodedError } from './raw-peer.js';

/** Far under ws's 30 s close timeout, far over what a cut takes here (≤ 0.1 s). */
const CUT_WITHIN_MS = 5000;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const Opcode = { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa } as const;

/** One frame: clients mask (`mask`), servers do not. Payloads here are < 126 bytes. */
function frame(opcode: number, payload: Uint8Array, options: { mask: boolean; fin?: boolean; rsv1?: boolean }): Buffer {
  const header = Buffer.from([(options.fin === false ? 0 : 0x80) | (options.rsv1 === true ? 0x40 : 0) | opcode, (options.mask ? 0x80 : 0) | payload.length]);
  if (!options.mask) return Buffer.concat([header, payload]);
  const key = crypto.randomBytes(4);
  return Buffer.concat([header, key, Buffer.from(payload.map((byte, i) => byte ^ key[i & 3]!))]);
}

/** A binary message of `count` + 2 frames: an empty first fragment, `count` empty continuations, the last. */
function emptyFragments(count: number, mask: boolean): Buffer {
  const none = new Uint8Array(0);
  const middle = frame(Opcode.Continuation, none, { mask, fin: false });
  return Buffer.concat([frame(Opcode.Binary, none, { mask, fin: false }), ...Array.from({ length: count }, () => middle), frame(Opcode.Continuation, none, { mask })]);
}

const INVALID_UTF8 = Uint8Array.from([0xc3, 0x28]);
/** 1005 ("no status") may never be sent in a close frame. */
const FORBIDDEN_CLOSE_CODE = Uint8Array.from([0x03, 0xed]);
/** One more than ws's maxFragments (16 Ki). */
const TOO_MANY_FRAGMENTS = 16 * 1024 + 1;

/** `mask`: whether the sender is a client (which must mask, as a server must not). */
const violations: Array<{ what: string; bytes: (mask: boolean) => Buffer; wsCode: string | RegExp }> = [
  { what: 'a frame masked the wrong way for its sender', bytes: (mask) => frame(Opcode.Binary, Uint8Array.of(1), { mask: !mask }), wsCode: /^WS_ERR_(EXPECTED|UNEXPECTED)_MASK$/ },
  { what: 'a text frame of invalid UTF-8', bytes: (mask) => frame(Opcode.Text, INVALID_UTF8, { mask }), wsCode: 'WS_ERR_INVALID_UTF8' },
  { what: 'a frame with RSV1 set (no extension was agreed)', bytes: (mask) => frame(Opcode.Binary, Uint8Array.of(1), { mask, rsv1: true }), wsCode: 'WS_ERR_UNEXPECTED_RSV_1' },
  { what: 'a close frame with code 1005', bytes: (mask) => frame(Opcode.Close, FORBIDDEN_CLOSE_CODE, { mask }), wsCode: 'WS_ERR_INVALID_CLOSE_CODE' },
  { what: `${TOO_MANY_FRAGMENTS} empty fragments of one message`, bytes: (mask) => emptyFragments(TOO_MANY_FRAGMENTS, mask), wsCode: 'WS_ERR_TOO_MANY_BUFFERED_PARTS' },
];

const listeners: Listener[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
});

interface Watched {
  readonly link: Link;
  readonly received: Uint8Array[];
  /** The link's close: error and ms from the start of watching. */
  readonly closed: Promise<{ error: CodedError | undefined; afterMs: number }>;
}

function watch(link: Link): Watched {
  const received: Uint8Array[] = [];
  const startedAt = performance.now();
  const closed = new Promise<{ error: CodedError | undefined; afterMs: number }>((resolve) =>
    link.attach({ onData: (chunk) => void received.push(chunk), onDrain: () => undefined, onClose: (error) => resolve({ error, afterMs: performance.now() - startedAt }) }),
  );
  link.resume();
  cleanups.push(() => link.destroy());
  return { link, received, closed };
}

/** Our ws server; each accepted link is watched. */
async function ourServer(): Promise<{ port: number; links: Watched[] }> {
  const links: Watched[] = [];
  const listener = await wsTransport().listen!(parseAddress('ws://127.0.0.1:0/'), (link) => void links.push(watch(link)));
  listeners.push(listener);
  return { port: listener.addresses[0]!.port, links };
}

/** A raw TCP client that upgrades by hand, then writes whatever it likes and never reads. */
async function rawClient(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  cleanups.push(() => socket.destroy());
  await within(new Promise((resolve) => socket.once('connect', resolve)), 3000, 'connect');
  const key = crypto.randomBytes(16).toString('base64');
  socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await within(new Promise((resolve) => socket.once('data', resolve)), 3000, 'the 101 answer');
  socket.pause();
  return socket;
}

/** A raw TCP server that accepts one upgrade by hand and hands over the socket (never read again). */
async function rawServer(): Promise<{ port: number; accepted: Promise<net.Socket> }> {
  let accept: (socket: net.Socket) => void = () => undefined;
  const accepted = new Promise<net.Socket>((resolve) => (accept = resolve));
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    cleanups.push(() => socket.destroy());
    socket.once('data', (request) => {
      const key = /sec-websocket-key: *([^\r]+)\r\n/i.exec(request.toString())?.[1] ?? '';
      const answer = crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${answer}\r\n\r\n`);
      socket.pause();
      accept(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, accepted };
}

async function dialRawServer(): Promise<{ attacker: net.Socket; ours: Watched }> {
  const { port, accepted } = await rawServer();
  const link = await wsTransport().dial({ ...parseAddress('ws://127.0.0.1:0/'), port });
  return { attacker: await within(accepted, 3000, 'the raw server to accept'), ours: watch(link) };
}

/**
 * Pings `burst` at a time, each burst once all pongs of the one before have come back (empty pongs
 * from a server: 2 bytes each), so that `ws`'s cap on pongs it owes (60) never bites; until the socket
 * closes or `maxMs` passes. Resolves with the pongs read.
 */
async function pingInBursts(socket: net.Socket, burst: number, maxMs: number): Promise<number> {
  const pings = Buffer.concat(Array.from({ length: burst }, () => frame(Opcode.Ping, new Uint8Array(0), { mask: true })));
  let pongBytes = 0;
  socket.on('data', (chunk: Buffer) => {
    pongBytes += chunk.length;
    if (pongBytes % (2 * burst) === 0) socket.write(pings);
  });
  socket.resume();
  socket.write(pings);
  await within(new Promise((resolve) => socket.once('close', resolve)), maxMs, 'the pinging socket to be closed').catch(() => undefined);
  return Math.floor(pongBytes / 2);
}

/** A binary message of `payload` cut into fragments of `fragmentBytes` (the last may be shorter). */
function fragmented(payload: Uint8Array, fragmentBytes: number, mask: boolean): Buffer {
  const frames: Buffer[] = [];
  for (let offset = 0; offset < payload.length; offset += fragmentBytes) {
    const piece = payload.subarray(offset, offset + fragmentBytes);
    frames.push(frame(offset === 0 ? Opcode.Binary : Opcode.Continuation, piece, { mask, fin: offset + fragmentBytes >= payload.length }));
  }
  return Buffer.concat(frames);
}

/** Writes `unit` until the socket closes or `maxMs` passes; resolves with the bytes written. */
async function flood(socket: net.Socket, unit: Buffer, maxMs: number): Promise<number> {
  const until = performance.now() + maxMs;
  let written = 0;
  while (!socket.destroyed && performance.now() < until) {
    const room = socket.write(unit);
    written += unit.length;
    await new Promise((resolve) => (room ? setImmediate(resolve) : setTimeout(resolve, 5)));
  }
  return written;
}

describe('our WebSocket server against frames written by hand', () => {
  for (const { what, bytes, wsCode } of violations) {
    it(`${what}: the link is cut at once with ERR_MALFORMED_PACKET (${String(wsCode)})`, async () => {
      const { port, links } = await ourServer();
      const attacker = await rawClient(port);
      await waitFor(() => links.length === 1, 3000, 'the upgrade to reach the listener');
      attacker.write(bytes(true));
      const { error, afterMs } = await within(links[0]!.closed, CUT_WITHIN_MS, 'the link to be cut');
      expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_MALFORMED_PACKET', detail: { wsCode: typeof wsCode === 'string' ? wsCode : expect.stringMatching(wsCode) } });
      expect(afterMs).toBeLessThan(CUT_WITHIN_MS);
    });
  }

  it('a valid text frame: ERR_MALFORMED_PACKET (meshlink speaks binary)', async () => {
    const { port, links } = await ourServer();
    const attacker = await rawClient(port);
    await waitFor(() => links.length === 1, 3000, 'the upgrade to reach the listener');
    attacker.write(frame(Opcode.Text, new TextEncoder().encode('hello'), { mask: true }));
    const { error } = await within(links[0]!.closed, CUT_WITHIN_MS, 'the link to be cut');
    expect(error).toMatchObject({ code: 'ERR_MALFORMED_PACKET' });
  });

  it('125-byte pings flooded by a peer that never reads: cut before its pongs pile up; another client is served meanwhile', async () => {
    const { port, links } = await ourServer();
    const attacker = await rawClient(port);
    const honest = await wsTransport().dial({ ...parseAddress('ws://127.0.0.1:0/'), port });
    const honestSide = watch(honest);
    await waitFor(() => links.length === 2, 3000, 'both upgrades to reach the listener');
    const ping = frame(Opcode.Ping, crypto.randomBytes(125), { mask: true });
    const victim = links[0]!;
    let mostBufferedBytes = 0;
    const sampler = setInterval(() => (mostBufferedBytes = Math.max(mostBufferedBytes, victim.link.bufferedBytes)), 1);
    cleanups.push(() => clearInterval(sampler));
    const written = flood(attacker, Buffer.concat(Array.from({ length: 64 }, () => ping)), CUT_WITHIN_MS);
    const { afterMs } = await within(victim.closed, CUT_WITHIN_MS + 1000, 'the pinging link to be cut');
    expect(afterMs).toBeLessThan(CUT_WITHIN_MS);
    expect(mostBufferedBytes, 'pong bytes we held for it').toBeLessThan(256 * 1024);
    expect(await written, 'bytes it wrote before the cut').toBeGreaterThan(0);
    honest.write(Uint8Array.of(7));
    await waitFor(() => links[1]!.received.length > 0, 3000, 'the honest client to be served');
    expect(honestSide.link.closed).toBe(false);
  });

  it('10,000 empty binary messages hand nothing to the layers above: only the message after them arrives', async () => {
    const { port, links } = await ourServer();
    const attacker = await rawClient(port);
    await waitFor(() => links.length === 1, 3000, 'the upgrade to reach the listener');
    const empty = frame(Opcode.Binary, new Uint8Array(0), { mask: true });
    attacker.write(Buffer.concat([...Array.from({ length: 10_000 }, () => empty), frame(Opcode.Binary, Uint8Array.of(42), { mask: true })]));
    await waitFor(() => links[0]!.received.some((chunk) => chunk.length > 0), 5000, 'the binary message after the empty ones');
    expect(links[0]!.received.map((chunk) => [...chunk]), 'chunks handed on').toEqual([[42]]);
  });

  it(`${WS_CONTROL_FRAMES_BURST} pongs nobody asked for, or pings, are let be: the link stays up and delivers what follows`, async () => {
    const { port, links } = await ourServer();
    const attacker = await rawClient(port);
    await waitFor(() => links.length === 1, 3000, 'the upgrade to reach the listener');
    const pong = frame(Opcode.Pong, crypto.randomBytes(125), { mask: true });
    const ping = frame(Opcode.Ping, crypto.randomBytes(125), { mask: true });
    const half = WS_CONTROL_FRAMES_BURST / 2;
    attacker.write(Buffer.concat([...Array.from({ length: half }, () => pong), ...Array.from({ length: half }, () => ping), frame(Opcode.Binary, Uint8Array.of(42), { mask: true })]));
    await waitFor(() => links[0]!.received.length === 1, 5000, 'the binary message after the pongs');
    expect([...links[0]!.received[0]!]).toEqual([42]);
    expect(links[0]!.link.closed).toBe(false);
  });

  it('10,000 pongs nobody asked for (nothing of ours pings): cut with ERR_RATE_LIMIT, nothing after them handed on', async () => {
    const { port, links } = await ourServer();
    const attacker = await rawClient(port);
    await waitFor(() => links.length === 1, 3000, 'the upgrade to reach the listener');
    const pong = frame(Opcode.Pong, new Uint8Array(0), { mask: true });
    attacker.write(Buffer.concat([...Array.from({ length: 10_000 }, () => pong), frame(Opcode.Binary, Uint8Array.of(42), { mask: true })]));
    const { error } = await within(links[0]!.closed, CUT_WITHIN_MS, 'the link to be cut');
    expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_RATE_LIMIT' });
    expect(links[0]!.received, 'chunks handed on').toEqual([]);
  });

  const framingFloods: Array<{ what: string; unit: Buffer }> = [
    { what: 'empty binary messages', unit: Buffer.concat(Array.from({ length: 10_000 }, () => frame(Opcode.Binary, new Uint8Array(0), { mask: true }))) },
    { what: 'empty messages of 10,000 empty fragments each', unit: emptyFragments(10_000, true) },
  ];
  for (const { what, unit } of framingFloods) {
    it(`${what} as fast as the socket takes them (framing that carries no byte): cut with ERR_RATE_LIMIT once past ${WS_FRAMING_SLACK_BYTES / 1024} KiB`, async () => {
      const { port, links } = await ourServer();
      const attacker = await rawClient(port);
      await waitFor(() => links.length === 1, 3000, 'the upgrade to reach the listener');
      const written = flood(attacker, unit, CUT_WITHIN_MS);
      const { error } = await within(links[0]!.closed, CUT_WITHIN_MS + 1000, 'the link to be cut');
      expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_RATE_LIMIT', detail: { overheadBytes: expect.any(Number) } });
      expect(await written, 'bytes it got to write').toBeLessThan(64 * 1024 * 1024);
    });
  }

  it('60 KiB messages each cut into 512 fragments of 120 bytes (a browser may fragment a large one): all delivered, the link stays up', async () => {
    const { port, links } = await ourServer();
    const attacker = await rawClient(port);
    await waitFor(() => links.length === 1, 3000, 'the upgrade to reach the listener');
    const message = fragmented(crypto.randomBytes(512 * 120), 120, true);
    for (let i = 0; i < 200; i++) attacker.write(message);
    await waitFor(() => links[0]!.received.length === 200, 10_000, 'the 200 messages');
    expect(links[0]!.link.closed).toBe(false);
  });

  it('pings in bursts of 50 from a client that reads every pong (so never 60 owed): cut with ERR_RATE_LIMIT after the allowance', async () => {
    const { port, links } = await ourServer();
    const attacker = await rawClient(port);
    await waitFor(() => links.length === 1, 3000, 'the upgrade to reach the listener');
    const pongs = await pingInBursts(attacker, 50, CUT_WITHIN_MS);
    const { error } = await within(links[0]!.closed, 1000, 'the link to be cut');
    expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_RATE_LIMIT' });
    expect(pongs, 'pongs it got out of us').toBeLessThanOrEqual(50);
  });
});

describe('our WebSocket dialer against a server writing frames by hand', () => {
  for (const { what, bytes, wsCode } of violations) {
    it(`${what}: the link is cut at once with ERR_MALFORMED_PACKET (${String(wsCode)})`, async () => {
      const { attacker, ours } = await dialRawServer();
      attacker.write(bytes(false));
      const { error, afterMs } = await within(ours.closed, CUT_WITHIN_MS, 'the link to be cut');
      expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_MALFORMED_PACKET', detail: { wsCode: typeof wsCode === 'string' ? wsCode : expect.stringMatching(wsCode) } });
      expect(afterMs).toBeLessThan(CUT_WITHIN_MS);
    });
  }

  it('empty binary messages from a server as fast as the socket takes them: cut with ERR_RATE_LIMIT', async () => {
    const { attacker, ours } = await dialRawServer();
    const empty = Buffer.concat(Array.from({ length: 10_000 }, () => frame(Opcode.Binary, new Uint8Array(0), { mask: false })));
    void flood(attacker, empty, CUT_WITHIN_MS);
    const { error } = await within(ours.closed, CUT_WITHIN_MS + 1000, 'the dialled link to be cut');
    expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_RATE_LIMIT' });
  });

  it('10,000 pongs from a server (we never ping): cut with ERR_RATE_LIMIT', async () => {
    const { attacker, ours } = await dialRawServer();
    const pong = frame(Opcode.Pong, new Uint8Array(0), { mask: false });
    attacker.write(Buffer.concat(Array.from({ length: 10_000 }, () => pong)));
    const { error } = await within(ours.closed, CUT_WITHIN_MS, 'the dialled link to be cut');
    expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_RATE_LIMIT' });
  });

  it('125-byte pings flooded by a server that never reads: cut before its pongs pile up', async () => {
    const { attacker, ours } = await dialRawServer();
    let mostBufferedBytes = 0;
    const sampler = setInterval(() => (mostBufferedBytes = Math.max(mostBufferedBytes, ours.link.bufferedBytes)), 1);
    cleanups.push(() => clearInterval(sampler));
    const ping = frame(Opcode.Ping, crypto.randomBytes(125), { mask: false });
    void flood(attacker, Buffer.concat(Array.from({ length: 64 }, () => ping)), CUT_WITHIN_MS);
    const { afterMs } = await within(ours.closed, CUT_WITHIN_MS + 1000, 'the dialled link to be cut');
    expect(afterMs).toBeLessThan(CUT_WITHIN_MS);
    expect(mostBufferedBytes, 'pong bytes we held for it').toBeLessThan(256 * 1024);
  });
});
