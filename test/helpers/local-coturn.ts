/**
 * A coturn (Debian's `turnserver`) on this machine's own address, for WebRTC peers of one machine to
 * link through TURN: its relayed candidates are that address on ports of the OS's ephemeral range (a
 * node keeps a candidate at its own address only there: OwnMachine), and loopback ones would be dropped.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ownMachine } from '../../platforms/node/own-machine.js';

export interface LocalCoturn {
  /** `turn:<address>:<port>?transport=udp` with this run's credentials. */
  readonly turn: { urls: string; username: string; credential: string };
  /** The ports of its relayed addresses (allocations). */
  readonly relayPorts: { readonly min: number; readonly max: number };
  /** coturn's log so far (its last 32 KB). */
  log(): string;
  stop(): void;
}

const RELAY_PORTS = 400;
const START_TIMEOUT_MS = 10_000;

/** A UDP port on `address` free a moment ago (bound, then closed). */
async function freeUdpPort(address: string): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/** Whether a STUN Binding request to `address:port` is answered within `ms`. */
async function answersStun(address: string, port: number, ms: number): Promise<boolean> {
  const socket = createSocket('udp4');
  const request = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), randomBytes(12)]);
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      socket.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.send(request, port, address);
    });
  } finally {
    socket.close();
  }
}

/** Starts coturn on `address` and waits until it answers STUN. */
export async function startLocalCoturn(address: string): Promise<LocalCoturn> {
  const { min, max } = ownMachine()!.ephemeralPorts;
  // Room above the range for ports a test names at this address that no allocation has.
  const lowest = min + Math.floor(Math.random() * (max - min - 2 * RELAY_PORTS));
  const port = await freeUdpPort(address);
  const username = `t${randomBytes(4).toString('hex')}`;
  const credential = randomBytes(12).toString('hex');
  const dir = mkdtempSync(path.join(tmpdir(), 'meshlink-coturn-'));
  const config = path.join(dir, 'turnserver.conf');
  writeFileSync(
    config,
    [
      `listening-ip=${address}`,
      `relay-ip=${address}`,
      `listening-port=${port}`,
      `min-port=${lowest}`,
      `max-port=${lowest + RELAY_PORTS - 1}`,
      'lt-cred-mech',
      `user=${username}:${credential}`,
      'realm=meshlink.test',
      'fingerprint',
      'no-tcp',
      'no-tls',
      'no-dtls',
      'no-cli',
      'no-rfc5780',
      'no-software-attribute',
      `pidfile=${path.join(dir, 'turnserver.pid')}`,
      'log-file=stdout',
      'simple-log',
      '',
    ].join('\n'),
  );
  const child = spawn('turnserver', ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-32_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  child.once('exit', () => (exited = true));
  const stop = (): void => {
    if (!exited) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answersStun(address, port, 200))) {
    if (exited || Date.now() > deadline) {
      stop();
      throw new Error(`coturn did not answer STUN at ${address}:${port} within ${START_TIMEOUT_MS} ms:\n${log}`);
    }
  }
  return {
    turn: { urls: `turn:${address}:${port}?transport=udp`, username, credential },
    relayPorts: { min: lowest, max: lowest + RELAY_PORTS - 1 },
    log: () => log,
    stop,
  };
}
