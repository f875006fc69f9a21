/**
 * TcpLink over real loopback sockets. Dialled sockets read into one buffer shared by every dialled
 * socket (Node's `onread`): these tests prove what that must never change for a link's owner.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TCP_MAX_HELD_READ_BYTES, tcpTransport } from '../../platforms/node/tcp.js';
import type { Link, LinkHandlers } from '../../src/transport/link.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Server {
  port: number;
  /** The server side of the n-th accepted connection. */
  accepted(index: number): Promise<net.Socket>;
}

async function listen(): Promise<Server> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => undefined);
    sockets.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: async (index) => {
      await waitFor(() => sockets.length > index, 5000, `accepted connection ${index}`);
      return sockets[index]!;
    },
  };
}

async function dial(port: number): Promise<Link> {
  const link = await tcpTransport().dial({ protocol: 'tcp', nodeId: undefined, host: '127.0.0.1', port, path: '', params: {} });
  cleanups.push(() => link.destroy());
  return link;
}

interface Recorder extends LinkHandlers {
  chunks: Uint8Array[];
  ended: boolean;
  closed: boolean;
  bytes(): Buffer;
}

/** Handlers that keep every chunk as it was handed over (the default contract: the chunk is theirs). */
function recorder(extra: Partial<LinkHandlers> = {}): Recorder {
  const r: Recorder = {
    chunks: [],
    ended: false,
    closed: false,
    onData: (chunk) => void r.chunks.push(chunk),
    onDrain: () => undefined,
    onClose: () => void (r.closed = true),
    onEnd: () => void (r.ended = true),
    bytes: () => Buffer.concat(r.chunks),
    ...extra,
  };
  return r;
}

function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 7) & 0xff;
  return bytes;
}

async function writeSeparately(socket: net.Socket, chunks: Buffer[], receivedCount: () => number): Promise<void> {
  for (const [i, chunk] of chunks.entries()) {
    socket.write(chunk);
    // One read per chunk: the next one would land in the same read buffer.
    await waitFor(() => receivedCount() > i, 5000, `chunk ${i}`);
  }
}

describe('TcpLink (dialled)', () => {
  it('gives an owner that keeps chunks its own copies, intact after later reads of any dialled link', async () => {
    const server = await listen();
    const a = await dial(server.port);
    const b = await dial(server.port);
    const atA = recorder();
    const atB = recorder();
    a.attach(atA);
    b.attach(atB);
    const toA = [pattern(100, 1), pattern(3000, 2), pattern(7, 3)];
    const toB = [pattern(500, 4), pattern(64, 5), pattern(2000, 6)];
    const [serverA, serverB] = [await server.accepted(0), await server.accepted(1)];
    for (let i = 0; i < 3; i++) {
      await writeSeparately(serverA, [toA[i]!], () => atA.chunks.length - i);
      await writeSeparately(serverB, [toB[i]!], () => atB.chunks.length - i);
    }
    expect(atA.chunks.map((c) => Buffer.from(c).toString('hex'))).toEqual(toA.map((c) => c.toString('hex')));
    expect(atB.chunks.map((c) => Buffer.from(c).toString('hex'))).toEqual(toB.map((c) => c.toString('hex')));
    // Each kept chunk has memory of its own.
    expect(new Set(atA.chunks.map((c) => c.buffer)).size).toBe(3);
  });

  it('lends an owner that declares retainsChunks: false views of one reused buffer, read in the call', async () => {
    const server = await listen();
    const link = await dial(server.port);
    const seen: string[] = [];
    const buffers = new Set<ArrayBufferLike>();
    link.attach({
      retainsChunks: false,
      onData: (chunk) => {
        seen.push(Buffer.from(chunk).toString('hex'));
        buffers.add(chunk.buffer);
      },
      onDrain: () => undefined,
      onClose: () => undefined,
    });
    const sent = [pattern(90, 1), pattern(90, 2), pattern(1200, 3)];
    await writeSeparately(await server.accepted(0), sent, () => seen.length);
    expect(seen).toEqual(sent.map((c) => c.toString('hex')));
    expect(buffers.size).toBe(1);
  });

  it('holds what arrives before attach, then delivers it in order and the hang-up after it', async () => {
    const server = await listen();
    const link = await dial(server.port);
    const serverSocket = await server.accepted(0);
    const sent = [pattern(200, 1), pattern(300, 2)];
    for (const chunk of sent) serverSocket.write(chunk);
    serverSocket.end();
    // Time for the bytes and the FIN to arrive with nobody attached.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const at = recorder();
    link.attach(at);
    await waitFor(() => at.ended, 5000, 'end after the held data');
    expect(at.bytes().equals(Buffer.concat(sent))).toBe(true);
  });

  it('delivers nothing while paused, sees a hang-up after the data held meanwhile, and resumes in order', async () => {
    const server = await listen();
    const link = await dial(server.port);
    const at = recorder();
    link.attach(at);
    const serverSocket = await server.accepted(0);
    serverSocket.write(pattern(10, 0));
    await waitFor(() => at.chunks.length === 1, 5000, 'first chunk');
    link.pause();
    const sent = [pattern(100, 1), pattern(4000, 2)];
    for (const chunk of sent) serverSocket.write(chunk);
    serverSocket.end();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(at.chunks).toHaveLength(1);
    expect(at.ended).toBe(false);
    link.resume();
    await waitFor(() => at.ended, 5000, 'end after the held data');
    expect(at.bytes().equals(Buffer.concat([pattern(10, 0), ...sent]))).toBe(true);
    link.close();
    await waitFor(() => at.closed, 5000, 'closed');
  });

  it(`stops reading while paused once ${TCP_MAX_HELD_READ_BYTES} bytes are held, leaving the rest to TCP, and loses nothing`, async () => {
    const server = await listen();
    const link = await dial(server.port);
    let received = 0;
    const chunks: Buffer[] = [];
    link.attach({
      retainsChunks: false,
      onData: (chunk) => {
        received += chunk.length;
        chunks.push(Buffer.from(chunk));
      },
      onDrain: () => undefined,
      onClose: () => undefined,
    });
    link.pause();
    const serverSocket = await server.accepted(0);
    const total = 32 * 1024 * 1024;
    const payload = pattern(total, 9);
    serverSocket.write(payload);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The kernel's buffers cannot take 32 MiB: the sender is held back because we stopped reading.
    expect(serverSocket.writableLength).toBeGreaterThan(0);
    expect(received).toBe(0);
    link.resume();
    await waitFor(() => received === total, 20_000, 'everything after resume');
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
  });

  it('reports the remote closing to an attached owner that never paused', async () => {
    const server = await listen();
    const link = await dial(server.port);
    const at = recorder();
    link.attach(at);
    (await server.accepted(0)).destroy();
    await waitFor(() => at.ended || at.closed, 5000, 'end or close');
  });
});
