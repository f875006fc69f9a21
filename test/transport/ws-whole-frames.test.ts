import { createServer, type Server } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { NodeWebSocketLink, WS_WHOLE_FRAME_MAX_BYTES } from '../../platforms/node/ws-link.js';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import { startNginx } from '../helpers/nginx.js';
import { bytes } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

/** Sizes around each header form and the whole-frame limit, and one `ws` sends on its own. */
const SIZES = [1, 88, 125, 126, 1000, WS_WHOLE_FRAME_MAX_BYTES, WS_WHOLE_FRAME_MAX_BYTES + 1, 70_000];
const messages = SIZES.map((size, i) => bytes(size, i + 1));
const quiet = { onData: () => undefined, onDrain: () => undefined, onClose: () => undefined };

let http: Server | undefined;
afterEach(() => {
  vi.restoreAllMocks();
  http?.close();
});

/** Writes `messages` on `link`, counting the socket writes that went through Node's corked `writev`. */
function writeCountingWritev(link: Link): number {
  const writev = vi.spyOn(Socket.prototype as unknown as { _writev: () => void }, '_writev');
  const small = messages.filter((message) => message.length <= WS_WHOLE_FRAME_MAX_BYTES);
  for (const message of small) link.write(message);
  const calls = writev.mock.calls.length;
  writev.mockRestore();
  for (const message of messages) if (message.length > WS_WHOLE_FRAME_MAX_BYTES) link.write(message);
  return calls;
}

describe('a Node ws link writes each small message as one whole frame', () => {
  it('from the dialer: a ws server reads every size intact and in order, interleaved with its pings', async () => {
    const wss = new WebSocketServer({ noServer: true });
    const received: Buffer[] = [];
    let pongs = 0;
    http = createServer();
    http.on('upgrade', (request, socket: Socket, head) =>
      wss.handleUpgrade(request, socket, head, (ws) => {
        ws.on('message', (data: Buffer) => received.push(data));
        ws.on('pong', () => pongs++);
        ws.ping();
      }),
    );
    await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const link = await wsTransport().dial(parseAddress(`ws://127.0.0.1:${port}/`));
    expect(link).toBeInstanceOf(NodeWebSocketLink);
    link.attach(quiet);
    const writevCalls = writeCountingWritev(link);
    link.write(messages[1]!);
    await waitFor(() => received.length === messages.length + 1 && pongs === 1, 5000, 'the server read every message and a pong');
    expect(received.map((data) => Buffer.from(data).toString('hex'))).toEqual([...messages, messages[1]!].map((m) => Buffer.from(m).toString('hex')));
    // Before: ws wrote its header and our message as two buffers, a corked writev for each message.
    expect(writevCalls).toBe(0);
    link.close();
    wss.close();
  });

  it('from the listener: a ws client reads every size intact (a masked frame from a server would fail it), then a clean close', async () => {
    let accepted: Link | undefined;
    const listener = await wsTransport().listen!(parseAddress('ws://127.0.0.1:0/'), (link) => {
      link.attach(quiet);
      accepted = link;
    });
    const client = new WebSocket(`ws://127.0.0.1:${listener.addresses[0]!.port}/`);
    const received: Buffer[] = [];
    let error: Error | undefined;
    let closeCode: number | undefined;
    client.on('message', (data: Buffer) => received.push(data));
    client.on('error', (cause) => (error = cause));
    client.on('close', (code) => (closeCode = code));
    await waitFor(() => accepted !== undefined, 5000, 'the listener accepted');
    const writevCalls = writeCountingWritev(accepted!);
    accepted!.close();
    await waitFor(() => closeCode !== undefined, 5000, 'the client saw the close');
    expect(error).toBeUndefined();
    expect(closeCode).toBe(1000);
    expect(received.map((data) => Buffer.from(data).toString('hex'))).toEqual(messages.map((m) => Buffer.from(m).toString('hex')));
    expect(writevCalls).toBe(0);
    await listener.close();
  });

  it('over TLS through a real proxy: the dialer\'s frames go into the TLS socket, and nginx passes every size both ways', { timeout: 30_000 }, async () => {
    const toListener: Uint8Array[] = [];
    const toDialer: Uint8Array[] = [];
    let accepted: Link | undefined;
    const listener = await wsTransport().listen!(parseAddress('ws://127.0.0.1:0/'), (link) => {
      link.attach({ ...quiet, onData: (chunk) => toListener.push(chunk.slice()) });
      accepted = link;
    });
    const nginx = await startNginx(listener.addresses[0]!.port, { tls: true });
    // nginx's certificate is self-signed, made for this test.
    const rejectUnauthorized = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const dialer = await wsTransport().dial(parseAddress(`wss://127.0.0.1:${nginx.port}/`));
      expect(dialer).toBeInstanceOf(NodeWebSocketLink);
      dialer.attach({ ...quiet, onData: (chunk) => toDialer.push(chunk.slice()) });
      await waitFor(() => accepted !== undefined, 5000, 'the listener accepted');
      const total = messages.reduce((sum, message) => sum + message.length, 0);
      for (const message of messages) dialer.write(message);
      for (const message of messages) accepted!.write(message);
      const length = (chunks: Uint8Array[]): number => chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      await waitFor(() => length(toListener) === total && length(toDialer) === total, 10_000, 'every byte through nginx both ways');
      expect(Buffer.concat(toListener).equals(Buffer.concat(messages))).toBe(true);
      expect(Buffer.concat(toDialer).equals(Buffer.concat(messages))).toBe(true);
      dialer.close();
    } finally {
      if (rejectUnauthorized === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = rejectUnauthorized;
      await nginx.stop();
      await listener.close();
    }
  });
});
