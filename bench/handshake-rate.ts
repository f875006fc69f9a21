/**
 * `npx tsx bench/handshake-rate.ts [seconds] [--json]` — how many handshakes a node answers a second
 * when strangers flood it, with each handshake crypto. Each stranger replays one stored hello from
 * its own loopback address (50 at a time, as a flood costs the attacker nothing) and hangs up once
 * our hello and signed auth frame have come back: that answer cost the node a key pair, an X25519
 * agreement and a signature. Both ends run in this process, so the CPU per attempt includes the
 * strangers' socket work, the same for every row.
 */
import net from 'node:net';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { nodeHandshakeCrypto } from '../platforms/node/handshake-crypto.js';
import { tcpTransport } from '../platforms/node/tcp.js';
import { AEAD_TAG_BYTES, AUTH_MESSAGE_BYTES, FRAME_HEADER_BYTES, HELLO_BYTES } from '../src/crypto/constants.js';
import { createEphemeralKey, encodeHello } from '../src/crypto/handshake.js';
import { nobleHandshakeCrypto, type HandshakeCrypto } from '../src/crypto/handshake-crypto.js';
import { generateNodeKey } from '../src/crypto/keys.js';
import { Switch } from '../src/switch/switch.js';
import { round } from './common.js';

const STRANGERS = 50;
/** Our hello, then frame #0 (the signed auth message): the whole answer to a replayed hello. */
const ANSWER_BYTES = HELLO_BYTES + FRAME_HEADER_BYTES + AUTH_MESSAGE_BYTES + AEAD_TAG_BYTES;

const seconds = Number(process.argv.slice(2).find((arg) => !arg.startsWith('--')) ?? 5);
const json = process.argv.includes('--json');
const storedHello = encodeHello(createEphemeralKey().publicKey);

interface Row {
  crypto: string;
  answeredPerSecond: number;
  cpuMicrosecondsPerAnswer: number;
  attempts: number;
}

async function measure(name: string, handshakeCrypto: HandshakeCrypto): Promise<Row> {
  const sw = new Switch({
    identity: generateNodeKey(),
    network: 'bench',
    transports: [tcpTransport()],
    listen: ['tcp://127.0.0.1:0'],
    aead: nodeChaCha20Poly1305,
    handshakeCrypto,
  });
  await sw.start();
  const port = Number(/:(\d+)$/.exec(sw.addresses[0]!)![1]);
  let answered = 0;
  let attempts = 0;
  let running = true;
  const stranger = (index: number): Promise<void> =>
    new Promise((resolve) => {
      attempts++;
      let received = 0;
      const socket = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.1.${index + 1}` });
      socket.on('connect', () => socket.write(storedHello));
      socket.on('data', (chunk) => {
        received += chunk.length;
        if (received >= ANSWER_BYTES) {
          answered++;
          socket.destroy();
        }
      });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => resolve());
    });
  const loop = async (index: number): Promise<void> => {
    while (running) await stranger(index);
  };
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const loops = Array.from({ length: STRANGERS }, (_, i) => loop(i));
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  running = false;
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await Promise.all(loops);
  await sw.stop();
  return {
    crypto: name,
    answeredPerSecond: round(answered / elapsedSeconds, 0),
    cpuMicrosecondsPerAnswer: round((cpu.user + cpu.system) / Math.max(1, answered), 0),
    attempts,
  };
}

const rows = [await measure('noble (pure JS, browsers)', nobleHandshakeCrypto), await measure('node (OpenSSL, Node default)', nodeHandshakeCrypto)];
if (json) process.stdout.write(`${JSON.stringify({ seconds, strangers: STRANGERS, rows }, null, 2)}\n`);
else for (const row of rows) console.log(`${row.crypto.padEnd(30)} ${String(row.answeredPerSecond).padStart(6)} answered/s  ${row.cpuMicrosecondsPerAnswer} µs CPU each`);
