import { stat, readFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { extname, join, posix, sep } from 'node:path';
import { UpgradeGuard } from '../platforms/node/ws-upgrade-guard.js';
import { RequestGate } from './http-request-gate.js';
import { classifyHost } from '../src/transport/ip.js';
import type { HostPort } from './node-runner.js';

/**
 * The relay's small read-only HTTP server, used two ways:
 * - `--status host:port`: `GET /status` only;
 * - `--web host:port`: the browser demo as well: `GET /` (redirects to the page), the esbuild output under
 *   `/demo-web/` and `/browser/`, `GET /config.json` (the relay address the page dials) and `GET /status`.
 * Everything else is 404. It exposes peer ids and addresses, so bind it to loopback unless you mean to
 * publish them. Bound to loopback, it answers only requests whose Host is a loopback name or address:
 * else any web site the operator visits could rebind its own name to 127.0.0.1 and read `/status`.
 */
export interface HttpServer {
  /** Base URL, e.g. `http://127.0.0.1:8080` (the bound port when 0 was asked for). */
  readonly url: string;
  /** Stops listening and drops open (keep-alive) connections, so the process can exit. */
  close(): Promise<void>;
}

export interface WebRoutes {
  /**
   * Folders that may hold the browser build (`demo-web/index.html`, `browser/meshlink.js`); the first
   * that has it is served. Looked up again per request while none has it, so building later is enough.
   */
  distDirs: readonly string[];
  /**
   * Body of `GET /config.json`; `requestHost` is the Host header the browser used. Undefined while the
   * relay is not listening yet: then 503, so that waiting for this URL means waiting for the relay.
   */
  config(requestHost: string | undefined): unknown;
}

/**
 * Every open TCP connection counts, in all and per IPv4 address or IPv6 /64, until it closes: one over
 * its host's share is dropped on arrival, and when all are taken a newcomer from a less busy host takes
 * the place of the busiest host's oldest. Without them a stranger's idle connections (Node keeps one up
 * to 90 s before its header timeout fires) would use up the process's file descriptors, and with them
 * the node's ability to accept peers and save its address book.
 */
export interface HttpConnectionLimits {
  maxConnections: number;
  maxConnectionsPerHost: number;
  /** A connection still open this long after it arrived is cut (pages fetch a few small files). */
  connectionLifetimeMs: number;
}

export const DEFAULT_HTTP_CONNECTION_LIMITS: Readonly<HttpConnectionLimits> = Object.freeze({
  maxConnections: 256,
  maxConnectionsPerHost: 32,
  connectionLifetimeMs: 60_000,
});
/** A request's headers and body must arrive within this (ours are bodiless GETs). */
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Requests one connection may have unanswered (read, not yet handed to the OS) before it is cut.
 * Browsers send one at a time; without a cap, 160 KB of pipelined GETs of the 340 KB bundle from a
 * client that reads nothing made us read the file 3,000 times over and hold 1 GB of answers.
 */
export const MAX_UNANSWERED_REQUESTS_PER_CONNECTION = 4;
/**
 * One `GET /status` answer is served to every request for this long. Peers choose what it holds (a
 * topology table one peer filled: 64 origins of 32 links), and built per request a stranger's 41-byte
 * GET cost 4.3 ms of CPU and a fresh 278 KiB answer (each of 256 connections could hold 4 unread): now
 * it is built at most twice a second, and every answer in flight shares one buffer.
 */
export const STATUS_CACHE_MS = 500;

export interface HttpServerOptions {
  at: HostPort;
  status: () => unknown;
  web?: WebRoutes | undefined;
  limits?: Partial<HttpConnectionLimits>;
}

/** URL folders served from the browser build, and nothing else of it. */
const STATIC_FOLDERS = ['demo-web', 'browser'] as const;
const PAGE_PATH = '/demo-web/';
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/** The page needs its own scripts and WebSockets to relays, nothing else. */
const PAGE_CSP = "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const MISSING_BUILD = 'The browser build is missing: run "npm run build:browser" (it writes dist/demo-web and dist/browser).\n';

export function startHttpServer({ at, status, web, limits }: HttpServerOptions): Promise<HttpServer> {
  const { maxConnections, maxConnectionsPerHost, connectionLifetimeMs } = { ...DEFAULT_HTTP_CONNECTION_LIMITS, ...limits };
  // The ws server's upgrade guard with a connection's whole life as its "pending" phase: released only on close.
  const guard = new UpgradeGuard({ maxPendingUpgrades: maxConnections, maxPendingUpgradesPerHost: maxConnectionsPerHost, upgradeTimeoutMs: connectionLifetimeMs });
  let loopbackOnly = false;
  const files = new StaticFiles();
  const statusBody = cachedStatusBody(status);
  const unanswered = new WeakMap<Socket, number>();
  const server = createServer({ connectionsCheckingInterval: 1000 }, (request, response) => {
    const socket = request.socket;
    // Node parses a whole read of pipelined requests at once, so some still arrive after the cut.
    if (socket.destroyed) return;
    const count = (unanswered.get(socket) ?? 0) + 1;
    if (count > MAX_UNANSWERED_REQUESTS_PER_CONNECTION) return void socket.destroy();
    unanswered.set(socket, count);
    // 'close': handed to the OS, or the connection gone. Node answers pipelined requests in order.
    response.once('close', () => unanswered.set(socket, (unanswered.get(socket) ?? 1) - 1));
    if (loopbackOnly && !isLoopbackHost(request.headers.host)) {
      return json(response, 421, { error: 'misdirected request', why: 'this server is bound to loopback: ask for localhost, 127.0.0.1 or [::1]' }, request.method);
    }
    handle(request, response, statusBody, web, files).catch(() => {
      // A failed read of a file that was just listed, or a client gone mid-response.
      if (!response.headersSent) reply(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.destroy();
    });
  });
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  // The HTTP server does not listen itself: each connection reaches it through a RequestGate.
  const tcp = createTcpServer({ noDelay: true }, (socket) => {
    guard.onConnection(socket);
    if (!socket.destroyed) server.emit('connection', new RequestGate(socket, MAX_UNANSWERED_REQUESTS_PER_CONNECTION));
  });
  // Later errors (a client resetting mid-response) concern one request, not the node.
  server.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ host: at.host, port: at.port }, () => {
      tcp.off('error', reject);
      tcp.on('error', () => undefined);
      // Starts the HTTP server's checks of header and request timeouts, as its own listening would.
      server.emit('listening');
      const bound = tcp.address() as AddressInfo;
      loopbackOnly = classifyHost(bound.address).scope === 'loopback';
      const host = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${host}:${bound.port}`,
        close: () =>
          (closing ??= new Promise<void>((done) => {
            tcp.close(() => done());
            // Stops its timeout checks; idle keep-alive connections hold nothing worth waiting for.
            server.close();
            server.closeAllConnections();
            guard.destroyAll();
          })),
      });
    });
  });
}

/** `status()` as the JSON body of `GET /status`, built again only when the last is STATUS_CACHE_MS old. */
function cachedStatusBody(status: () => unknown): () => Buffer {
  let cached: { body: Buffer; builtAt: number } | undefined;
  return () => {
    const now = performance.now();
    if (cached === undefined || now - cached.builtAt >= STATUS_CACHE_MS) cached = { body: Buffer.from(jsonText(status())), builtAt: now };
    return cached.body;
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, statusBody: () => Buffer, web: WebRoutes | undefined, files: StaticFiles): Promise<void> {
  const path = (request.url ?? '').split('?')[0]!;
  const method = request.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    return json(response, 405, { error: 'method not allowed' }, method);
  }
  if (path === '/status') return reply(response, 200, JSON_TYPE, statusBody(), method);
  if (web === undefined) return json(response, 404, { error: 'not found', try: 'GET /status' }, method);

  if (path === '/config.json') {
    const config = web.config(request.headers.host);
    return config === undefined ? json(response, 503, { error: 'starting' }, method) : json(response, 200, config, method);
  }
  if (path === '/' || path === '/index.html' || path === '/demo-web') {
    response.writeHead(302, { location: PAGE_PATH, 'content-length': 0 });
    response.end();
    return;
  }
  const file = await findStaticFile(path, web.distDirs);
  if (file === 'missing-build') return reply(response, 503, 'text/plain; charset=utf-8', MISSING_BUILD, method);
  if (file === undefined) return json(response, 404, { error: 'not found', try: `GET ${PAGE_PATH}` }, method);
  const body = await files.read(file.path, file.info);
  const type = CONTENT_TYPES[extname(file.path)] ?? 'application/octet-stream';
  response.setHeader('x-content-type-options', 'nosniff');
  if (type.startsWith('text/html')) response.setHeader('content-security-policy', PAGE_CSP);
  reply(response, 200, type, body, method);
}

/**
 * Maps a URL path to a file of the browser build, or undefined. Only files inside the static folders
 * are reachable: the path is decoded and normalised first, so `..` and encoded separators lead nowhere.
 */
async function findStaticFile(urlPath: string, distDirs: readonly string[]): Promise<{ path: string; info: Stats } | undefined | 'missing-build'> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  let relative = posix.normalize(decoded).replace(/^\/+/, '');
  if (relative.endsWith('/')) relative += 'index.html';
  const [folder, ...rest] = relative.split('/');
  if (!(STATIC_FOLDERS as readonly string[]).includes(folder ?? '') || rest.length === 0 || rest.includes('..')) return undefined;
  const dist = await findDist(distDirs);
  if (dist === undefined) return 'missing-build';
  const file = join(dist, relative);
  if (!file.startsWith(join(dist, folder!) + sep)) return undefined;
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() === true ? { path: file, info } : undefined;
}

/** Build files kept at once; the build has a handful, and only files in it can be asked for. */
const MAX_CACHED_FILES = 64;

/**
 * The build's files, each read once (again when its size or mtime changes) and shared by every answer:
 * read per request, 256 connections with 4 requests unanswered each held 1,024 copies of the 340 KB
 * bundle (350 MB) for clients that read nothing.
 */
class StaticFiles {
  private readonly cache = new Map<string, { mtimeMs: number; size: number; body: Promise<Buffer> }>();

  read(path: string, info: Stats): Promise<Buffer> {
    const cached = this.cache.get(path);
    if (cached !== undefined && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return cached.body;
    this.cache.delete(path);
    if (this.cache.size >= MAX_CACHED_FILES) this.cache.delete(this.cache.keys().next().value!);
    const body = readFile(path);
    // A failed read is not kept: the next request tries again.
    body.catch(() => this.cache.get(path)?.body === body && this.cache.delete(path));
    this.cache.set(path, { mtimeMs: info.mtimeMs, size: info.size, body });
    return body;
  }
}

async function findDist(distDirs: readonly string[]): Promise<string | undefined> {
  for (const dir of distDirs) {
    const page = await stat(join(dir, 'demo-web', 'index.html')).catch(() => undefined);
    if (page?.isFile() === true) return dir;
  }
  return undefined;
}

/**
 * Whether a Host header names this machine's loopback (`localhost:8080`, `127.0.0.1`, `[::1]:80`). No
 * Host at all passes: browsers always send one, and only a browser can be made to rebind a name.
 */
function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::\d*)?$/.exec(host);
  const name = bracketed === null ? host.replace(/:\d*$/, '') : bracketed[1]!;
  return classifyHost(name).scope === 'loopback';
}

const JSON_TYPE = 'application/json; charset=utf-8';

function jsonText(body: unknown): string {
  return `${JSON.stringify(body, null, 2)}\n`;
}

function json(response: ServerResponse, statusCode: number, body: unknown, method = 'GET'): void {
  reply(response, statusCode, JSON_TYPE, jsonText(body), method);
}

function reply(response: ServerResponse, statusCode: number, type: string, body: string | Buffer, method = 'GET'): void {
  response.writeHead(statusCode, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(method === 'HEAD' ? undefined : body);
}
