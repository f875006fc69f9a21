import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, Server as HttpServerClass } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, STATUS_CACHE_MS, type HttpServer, type HttpServerOptions } from '../../demo/http-server.js';
import { pageRelayAddress } from '../../demo/node-runner.js';
import { waitFor, within } from '../helpers/wait.js';

const ID = 'ab'.repeat(20);
let scratch = '';
let dist = '';
const servers: HttpServer[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'meshlink-http-test-'));
  dist = join(scratch, 'dist');
  await mkdir(join(dist, 'demo-web'), { recursive: true });
  await mkdir(join(dist, 'browser'), { recursive: true });
  await writeFile(join(dist, 'demo-web', 'index.html'), '<!doctype html><title>demo</title>');
  await writeFile(join(dist, 'demo-web', 'app.js'), 'export {};');
  await writeFile(join(dist, 'browser', 'meshlink.js'), 'export const x = 1;');
  await writeFile(join(dist, 'secret.txt'), 'not for the web');
  await writeFile(join(scratch, 'outside.txt'), 'not for the web either');
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function serve(options: { distDirs?: string[]; config?: unknown; web?: boolean; limits?: HttpServerOptions['limits'] } = {}): Promise<HttpServer> {
  const web = options.web === false ? undefined : { distDirs: options.distDirs ?? [dist], config: () => options.config };
  const server = await startHttpServer({ at: { host: '127.0.0.1', port: 0 }, status: () => ({ ok: true }), web, limits: options.limits });
  servers.push(server);
  return server;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request: fetch() would normalise `..` and follow redirects, which is what we want to see. */
function get(server: HttpServer, path: string, method = 'GET', localAddress?: string, headers?: Record<string, string>): Promise<Reply> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method, timeout: 5_000, localAddress, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

describe('the relay HTTP server', () => {
  it('with --status only: GET /status, 404 for the rest (no page, no config)', async () => {
    const server = await serve({ web: false });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const status = await get(server, '/status?x=1');
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toEqual({ ok: true });
    for (const path of ['/', '/config.json', '/demo-web/', '/browser/meshlink.js']) expect((await get(server, path)).status).toBe(404);
    expect((await get(server, '/status', 'POST')).status).toBe(405);
  });

  it('with --web: redirects / to the page, serves the build with types, /config.json and /status', async () => {
    const config = { relay: `ws://${ID}@127.0.0.1:26657/`, network: 'meshlink' };
    const server = await serve({ config });
    const root = await get(server, '/');
    expect(root.status).toBe(302);
    expect(root.headers['location']).toBe('/demo-web/');

    const page = await get(server, '/demo-web/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.body).toContain('<title>demo</title>');
    const script = await get(server, '/demo-web/app.js');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['x-content-type-options']).toBe('nosniff');
    expect((await get(server, '/browser/meshlink.js')).body).toBe('export const x = 1;');
    const head = await get(server, '/browser/meshlink.js', 'HEAD');
    expect([head.status, head.body, head.headers['content-length']]).toEqual([200, '', '19']);

    expect(JSON.parse((await get(server, '/config.json')).body)).toEqual(config);
    expect(JSON.parse((await get(server, '/status')).body)).toEqual({ ok: true });
  });

  it('serves nothing outside demo-web/ and browser/, however the path is spelled', async () => {
    const server = await serve({ config: {} });
    for (const path of [
      '/secret.txt',
      '/demo-web/../secret.txt',
      '/browser/../../outside.txt',
      '/demo-web/%2e%2e/secret.txt',
      '/demo-web/..%2fsecret.txt',
      '/demo-web/..%5csecret.txt',
      '/browser/%00',
      '/browser/%zz',
      '/browser/',
      '/demo-web/missing.js',
      '//etc/passwd',
    ]) {
      const reply = await get(server, path);
      expect([path, reply.status]).toEqual([path, 404]);
      expect(reply.body).not.toContain('not for the web');
    }
  });

  it('bound to loopback, answers only a loopback Host: a web page rebinding its own name to 127.0.0.1 reads nothing', async () => {
    const server = await startHttpServer({
      at: { host: '127.0.0.1', port: 0 },
      status: () => ({ peers: [{ id: ID, address: '10.1.2.3:26656' }] }),
      web: { distDirs: [dist], config: () => ({ relay: `ws://${ID}@127.0.0.1:26657/` }) },
    });
    servers.push(server);
    const port = new URL(server.url).port;
    for (const host of [`rebound.example.org:${port}`, 'rebound.example.org', `10.1.2.3:${port}`, `localhost.example.org:${port}`]) {
      for (const path of ['/status', '/config.json', '/demo-web/index.html']) {
        const reply = await get(server, path, 'GET', undefined, { host });
        expect([host, path, reply.status]).toEqual([host, path, 421]);
        expect(reply.body).not.toContain(ID);
        expect(reply.body).not.toContain('<title>');
      }
    }
    for (const host of [`localhost:${port}`, 'LOCALHOST.', `app.localhost:${port}`, `127.0.0.1:${port}`, '127.8.9.10', `[::1]:${port}`]) {
      const reply = await get(server, '/status', 'GET', undefined, { host });
      expect([host, reply.status]).toEqual([host, 200]);
      expect(reply.body).toContain(ID);
    }
  });

  it('answers 503 while the build is missing or the relay is not listening yet', async () => {
    const server = await serve({ distDirs: [join(scratch, 'nowhere')], config: undefined });
    const page = await get(server, '/demo-web/');
    expect(page.status).toBe(503);
    expect(page.body).toContain('npm run build:browser');
    expect((await get(server, '/config.json')).status).toBe(503);
  });
});

/** TCP connections from `localAddress` that send nothing; resolves once each is connected or refused. */
async function idleConnections(server: HttpServer, count: number, localAddress: string): Promise<Socket[]> {
  const { port } = new URL(server.url);
  return Promise.all(
    Array.from({ length: count }, () => {
      const socket = connect({ host: '127.0.0.1', port: Number(port), localAddress });
      socket.on('error', () => undefined);
      return new Promise<Socket>((resolve) => {
        socket.once('connect', () => resolve(socket));
        socket.once('close', () => resolve(socket));
      });
    }),
  );
}

async function openAfter(sockets: Socket[], ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return sockets.filter((socket) => !socket.destroyed && socket.readyState === 'open').length;
}

describe('the relay HTTP server against idle connections', () => {
  const held: Socket[] = [];
  afterEach(() => {
    for (const socket of held.splice(0)) socket.destroy();
  });

  it("caps one host's connections, serves other hosts meanwhile, and cuts a connection at the end of its lifetime", async () => {
    const server = await serve({ config: {}, limits: { maxConnections: 64, maxConnectionsPerHost: 8, connectionLifetimeMs: 1500 } });
    const attacker = await idleConnections(server, 40, '127.0.0.1');
    held.push(...attacker);
    expect(await openAfter(attacker, 200)).toBe(8);
    expect((await get(server, '/status', 'GET', '127.0.0.2')).status).toBe(200);
    // The attacker's host is full: its next connection is dropped on arrival.
    await expect(get(server, '/status', 'GET', '127.0.0.1')).rejects.toThrow();
    expect(await openAfter(attacker, 2500)).toBe(0);
    expect((await get(server, '/status', 'GET', '127.0.0.1')).status).toBe(200);
  });

  it('when every connection is taken, a newcomer from a less busy host replaces the busiest host\'s oldest', async () => {
    const server = await serve({ config: {}, limits: { maxConnections: 16, maxConnectionsPerHost: 8, connectionLifetimeMs: 30_000 } });
    const first = await idleConnections(server, 8, '127.0.0.1');
    const second = await idleConnections(server, 8, '127.0.0.2');
    held.push(...first, ...second);
    expect(await openAfter([...first, ...second], 200)).toBe(16);
    expect((await get(server, '/status', 'GET', '127.0.0.3')).status).toBe(200);
    expect(await openAfter([...first, ...second], 200)).toBe(15);
  });
});

describe('the relay HTTP server against pipelined requests', () => {
  const REQUEST = 'GET /browser/meshlink.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

  /** A bundle the size of the real one (340 KB) in a build of its own. */
  async function bigBuild(): Promise<string> {
    const big = join(scratch, 'big-dist');
    await mkdir(join(big, 'demo-web'), { recursive: true });
    await mkdir(join(big, 'browser'), { recursive: true });
    await writeFile(join(big, 'demo-web', 'index.html'), '<!doctype html>');
    await writeFile(join(big, 'browser', 'meshlink.js'), Buffer.alloc(340 * 1024, 0x61));
    return big;
  }

  it('cuts a connection that pipelines requests and reads no answer, holding a few answers at most', async () => {
    const server = await serve({ config: {}, distDirs: [await bigBuild()] });
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
    socket.on('error', () => undefined);
    socket.pause(); // reads nothing for now
    let received = 0;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 2);
    try {
      socket.write(REQUEST.repeat(600)); // 32 KB
      await new Promise((resolve) => setTimeout(resolve, 1000));
      // Reading now, it sees the few answers the server got to, then the cut (a paused socket sees no EOF).
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.resume();
      await within(closed, 3000, 'the pipelining connection to be cut');
    } finally {
      clearInterval(sampler);
      socket.destroy();
    }
    expect(received).toBeLessThan(5 * 341 * 1024);
    expect(peak - before).toBeLessThan(8 * 1024 * 1024);
  });

  it('answers 4 GETs pipelined in one write; 60 KB of them in one write are cut before the HTTP server makes a request of any', async () => {
    // Every request an HTTP server of this process makes of what it parsed.
    let requestsMade = 0;
    const ownEmit = Object.hasOwn(HttpServerClass.prototype, 'emit');
    const emit = HttpServerClass.prototype.emit;
    HttpServerClass.prototype.emit = function countedEmit(this: HttpServerClass, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'request') requestsMade++;
      return Reflect.apply(emit, this, [event, ...args]) as boolean;
    };
    try {
      const server = await serve({ config: {} });
      const port = Number(new URL(server.url).port);
      const status = 'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
      const answerTo = async (request: string): Promise<string> => {
        const socket = connect({ host: '127.0.0.1', port });
        socket.on('error', () => undefined);
        let answer = '';
        socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
        socket.write(request);
        await waitFor(() => answer.split('HTTP/1.1 200').length > 4 || socket.destroyed, 5000, 'the answers or the cut');
        socket.destroy();
        return answer;
      };
      expect((await answerTo(status.repeat(4))).split('HTTP/1.1 200 ').length - 1, 'answers to 4 pipelined GETs').toBe(4);
      requestsMade = 0;
      const flood = status.repeat(Math.floor((60 * 1024) / status.length));
      const answers = await Promise.all([answerTo(flood), answerTo(flood)]);
      expect(requestsMade, 'requests made of the flood').toBe(0);
      expect(answers, 'nothing answered').toEqual(['', '']);
    } finally {
      if (ownEmit) HttpServerClass.prototype.emit = emit;
      else delete (HttpServerClass.prototype as { emit?: unknown }).emit;
    }
  });

  it('shares one copy of a file among the answers waiting for clients that read nothing', async () => {
    const server = await serve({ config: {}, distDirs: [await bigBuild()] });
    const port = Number(new URL(server.url).port);
    const before = process.memoryUsage().arrayBuffers;
    const sockets: Socket[] = [];
    try {
      // 128 connections (32 from each of 4 hosts, the per-host cap), 4 requests each, nothing read.
      for (let host = 1; host <= 4; host++) {
        for (let n = 0; n < 32; n++) {
          const socket = connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${host}` });
          socket.on('error', () => undefined);
          socket.pause();
          socket.write(REQUEST.repeat(4));
          sockets.push(socket);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(sockets.filter((socket) => !socket.destroyed).length).toBe(128);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('answers a few pipelined requests and any number one after another on one connection', async () => {
    const server = await serve({ config: {}, distDirs: [await bigBuild()] });
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(server.url).port) });
    let received = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (received += chunk));
    const answers = (): number => received.split('HTTP/1.1 200 OK').length - 1;
    try {
      socket.write(REQUEST.repeat(4));
      await waitFor(() => answers() === 4 && received.length >= 4 * 340 * 1024, 3000, '4 pipelined answers');
      for (let i = 5; i <= 24; i++) {
        socket.write(REQUEST);
        await waitFor(() => answers() === i, 3000, `answer ${i}`);
      }
      expect(socket.destroyed).toBe(false);
    } finally {
      socket.destroy();
    }
  });
});

describe('the relay HTTP server against a flood of GET /status', () => {
  it('builds the answer at most once per STATUS_CACHE_MS, however many strangers ask, and still sees changes', async () => {
    // What peers can make the status hold: a topology table one peer filled (64 origins of 32 links).
    let builds = 0;
    const status = (): unknown => ({ build: ++builds, links: Array.from({ length: 64 * 32 }, (_, i) => ({ peer: i.toString(16).padStart(40, '0'), transport: 'webrtc' })) });
    const server = await startHttpServer({ at: { host: '127.0.0.1', port: 0 }, status });
    servers.push(server);
    const started = performance.now();
    const bodies: string[] = [];
    for (let round = 0; round < 4; round++) {
      const replies = await Promise.all(Array.from({ length: 30 }, () => get(server, '/status')));
      bodies.push(...replies.map((reply) => reply.body));
    }
    const elapsedMs = performance.now() - started;
    expect(bodies.every((body) => (JSON.parse(body) as { links: unknown[] }).links.length === 64 * 32)).toBe(true);
    // Before: one build (and one fresh ~200 KB string) per request, 120.
    expect(builds).toBeLessThanOrEqual(1 + Math.ceil(elapsedMs / STATUS_CACHE_MS));
    expect(builds).toBeLessThan(120);
    // A later request sees the node as it is then.
    await new Promise((resolve) => setTimeout(resolve, STATUS_CACHE_MS + 50));
    const later = JSON.parse((await get(server, '/status')).body) as { build: number };
    expect(later.build).toBe(builds);
    expect(later.build).toBeGreaterThan((JSON.parse(bodies[0]!) as { build: number }).build);
  });
});

describe('pageRelayAddress', () => {
  it('hands out the WebSocket listen address, with the Host the browser used when listening on a wildcard', () => {
    const tcp = `tcp://${ID}@127.0.0.1:26656`;
    expect(pageRelayAddress([tcp], 'x:1')).toBeUndefined();
    expect(pageRelayAddress([tcp, `ws://${ID}@127.0.0.1:26657/`], 'example.org:8080')).toBe(`ws://${ID}@127.0.0.1:26657/`);
    expect(pageRelayAddress([`ws://${ID}@0.0.0.0:26657/`], 'example.org:8080')).toBe(`ws://${ID}@example.org:26657/`);
    expect(pageRelayAddress([`ws://${ID}@[::]:26657/`], '[::1]:8080')).toBe(`ws://${ID}@[::1]:26657/`);
    expect(pageRelayAddress([`ws://${ID}@0.0.0.0:26657/`], '192.168.1.20')).toBe(`ws://${ID}@192.168.1.20:26657/`);
    // A Host header that is no host name leaves the address as it is.
    expect(pageRelayAddress([`ws://${ID}@0.0.0.0:26657/`], 'evil/"x')).toBe(`ws://${ID}@0.0.0.0:26657/`);
    expect(pageRelayAddress([`ws://${ID}@0.0.0.0:26657/`], undefined)).toBe(`ws://${ID}@0.0.0.0:26657/`);
  });
});
