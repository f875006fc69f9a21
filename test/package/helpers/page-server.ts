/**
 * What the package's browser tests share: Debian's Chromium flags, the page that loads a bundled
 * `main.js`, and a static file server for the bundle on a free loopback port.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, resolve, sep } from 'node:path';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The page as a user writes it for a bundler: one module script, `./main.ts`. */
export const INDEX_HTML = '<!doctype html><html><head><meta charset="utf-8"><title>meshlink page</title></head><body><script type="module" src="./main.ts"></script></body></html>\n';
/** The same page after bundling, when the bundle is `main.js` beside it. */
export const BUNDLED_INDEX_HTML = INDEX_HTML.replace('./main.ts', './main.js');
const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** Serves `dir` on a free loopback port (closed by `server.close()`); returns the server and its origin. */
export async function serveDirectory(dir: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const file = resolve(dir, `.${path === '/' ? '/index.html' : path}`);
    if (!file.startsWith(dir + sep)) return void response.writeHead(404).end();
    readFile(file).then(
      (body) => response.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
