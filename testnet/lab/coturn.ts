import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { IceServer } from '../../platforms/node/index.js';
import type { LabHost } from './network.js';
import { runIn } from './shell.js';

export const TURN_PORT = 3478;
/** How long coturn may take to listen before the lab gives up. */
const COTURN_START_TIMEOUT_MS = 10 * 1000;
const COTURN_POLL_MS = 100;
/** Relay ports coturn hands out; a lab needs a few per WebRTC link. */
const RELAY_PORT_RANGE = [49152, 59999] as const;

/** A coturn (Debian's `turnserver`) serving STUN and TURN on a lab host, with credentials it generated. */
export interface Coturn {
  readonly host: LabHost;
  readonly username: string;
  readonly credential: string;
  /** `stun:<ip>:3478`, as an ICE server. */
  readonly stun: IceServer;
  /** `turn:<ip>:3478?transport=udp` with the generated credentials. */
  readonly turn: IceServer;
  /** coturn's log so far (bounded), for failure messages. */
  readonly log: () => string;
  stop(): void;
}

/**
 * Starts coturn in `host`'s namespace (a public host) with long-term credentials made up for this run,
 * and waits until it listens on UDP 3478. Killed with `stop()` (or with the lab's namespaces).
 */
export async function startCoturn(host: LabHost): Promise<Coturn> {
  const username = `lab${randomBytes(4).toString('hex')}`;
  const credential = randomBytes(12).toString('hex');
  const dir = path.join(tmpdir(), `meshlink-coturn-${process.pid}-${host.index}`);
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'turnserver.conf');
  writeFileSync(config, [
    `listening-ip=${host.ip}`,
    `relay-ip=${host.ip}`,
    `listening-port=${TURN_PORT}`,
    `min-port=${RELAY_PORT_RANGE[0]}`,
    `max-port=${RELAY_PORT_RANGE[1]}`,
    'lt-cred-mech',
    `user=${username}:${credential}`,
    'realm=meshlink.lab',
    'fingerprint',
    'no-tls',
    'no-dtls',
    'no-cli',
    // No relaying to private addresses (coturn's own advice for any deployment). Peers signal their host
    // candidates (192.168.x here), ICE checks them through TURN too, and this host has no route there:
    // the send fails with ENETUNREACH and coturn then closes the whole allocation ("closed (2nd stage),
    // reason: general"), also the one carrying the link, about a second after ICE connected: the lab's
    // "secure handshake stalls over TURN". Refused at CreatePermission (403), those checks never leave.
    'denied-peer-ip=10.0.0.0-10.255.255.255',
    'denied-peer-ip=172.16.0.0-172.31.255.255',
    'denied-peer-ip=192.168.0.0-192.168.255.255',
    'no-software-attribute',
    `pidfile=${path.join(dir, 'turnserver.pid')}`,
    'log-file=stdout',
    'simple-log',
    '',
  ].join('\n'));
  const child: ChildProcess = spawn('ip', ['netns', 'exec', host.namespace, 'turnserver', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-16_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + COTURN_START_TIMEOUT_MS;
  for (;;) {
    const sockets = await runIn(host.namespace, 'ss', ['-Hlun']).catch(() => '');
    if (sockets.includes(`${host.ip}:${TURN_PORT}`)) break;
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`coturn did not listen on ${host.ip}:${TURN_PORT} within ${COTURN_START_TIMEOUT_MS} ms:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, COTURN_POLL_MS));
  }
  return {
    host,
    username,
    credential,
    stun: { urls: `stun:${host.ip}:${TURN_PORT}` },
    turn: { urls: `turn:${host.ip}:${TURN_PORT}?transport=udp`, username, credential },
    log: () => log,
    stop: () => {
      if (!exited) child.kill('SIGTERM');
    },
  };
}
