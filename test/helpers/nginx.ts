/**
 * Debian's nginx as a reverse proxy in front of one of our WebSocket servers, for tests: one process in
 * the foreground, its config, pid and temp files under a scratch prefix, listening on a free port of
 * 127.0.0.1, optionally terminating TLS (`wss://`) with a self-signed certificate made here by openssl.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closedPort } from './ports.js';

const NGINX = '/usr/sbin/nginx';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

export interface Nginx {
  readonly port: number;
  /** PEM of the certificate it serves (TLS only), for clients to trust. */
  readonly certificate: string | undefined;
  stop(): Promise<void>;
}

/** A certificate for IP 127.0.0.1, valid for a day; returns the paths of its PEM files. */
async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  return { cert, key };
}

/** Proxies HTTP and WebSocket upgrades to 127.0.0.1:`upstreamPort`, appending the client to X-Forwarded-For. */
export async function startNginx(upstreamPort: number, options: { tls?: boolean } = {}): Promise<Nginx> {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: install Debian's nginx-light (the README's test set-up line does)`);
  const prefix = await mkdtemp(join(tmpdir(), 'meshlink-nginx-'));
  const port = await closedPort();
  const tls = options.tls === true ? await selfSignedCertificate(prefix) : undefined;
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `${name}_temp_path ${join(prefix, name)};`).join('\n    ');
  await writeFile(
    join(prefix, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    ${temp}
    server {
        listen 127.0.0.1:${port}${tls === undefined ? '' : ' ssl'};
        ${tls === undefined ? '' : `ssl_certificate ${tls.cert};\n        ssl_certificate_key ${tls.key};`}
        location / {
            proxy_pass http://127.0.0.1:${upstreamPort};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 60s;
        }
    }
}
`,
  );
  const child = spawn(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(prefix, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not start: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, certificate: tls === undefined ? undefined : await readFile(tls.cert, 'utf8'), stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ host: '127.0.0.1', port }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
}
