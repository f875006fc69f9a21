import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostPort } from './node-runner.js';

export interface StatusServer {
  /** Base URL, e.g. `http://127.0.0.1:26660` (the bound port when 0 was asked for). */
  readonly url: string;
  /** Stops listening and drops open (keep-alive) connections, so the process can exit. */
  close(): Promise<void>;
}

/**
 * A tiny read-only HTTP endpoint: `GET /status` answers `getStatus()` as JSON; anything else is 404.
 * It exposes peer ids and addresses, so bind it to loopback unless you mean to publish them.
 */
export function startStatusServer(getStatus: () => unknown, at: HostPort): Promise<StatusServer> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method === 'GET' && path === '/status') {
      reply(response, 200, getStatus());
    } else {
      reply(response, 404, { error: 'not found', try: 'GET /status' });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      // Later errors (a client resetting mid-response) concern one request, not the node.
      server.on('error', () => undefined);
      const bound = server.address() as AddressInfo;
      const host = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${host}:${bound.port}`,
        close: () =>
          (closing ??= new Promise<void>((done) => {
            server.close(() => done());
            // close() waits for idle keep-alive sockets to time out; they hold nothing worth waiting for.
            server.closeAllConnections();
          })),
      });
    });
  });
}

function reply(response: ServerResponse, statusCode: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}
