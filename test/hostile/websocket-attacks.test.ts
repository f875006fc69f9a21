/**
 * Attacks on the WebSocket transport itself, below any meshlink byte: what our dialer offers a hostile
 * server, and what a hostile client can hold on our server before its upgrade completes. Real `ws`
 * sockets and raw TCP on 127.0.0.1; every wait is bounded.
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { within } from '../helpers/wait.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
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
