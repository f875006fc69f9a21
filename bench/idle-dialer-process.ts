/**
 * Child-process entry: many full meshlink nodes (one Switch each: own key, secure handshake, NodeInfo,
 * MConnection) that each dial the hub once and then stay idle.
 */
import { createNode } from '../platforms/node/index.js';
import { generateNodeKey } from '../src/crypto/keys.js';
import { MemoryStorage } from '../src/storage/storage.js';
import type { Switch } from '../src/switch/switch.js';
import { IDLE_CHANNELS, type FromDialers, type ToDialers } from './idle-common.js';

const switches: Switch[] = [];

function send(message: FromDialers): void {
  process.send!(message);
}

async function dialAll(address: string, peers: number, concurrency: number): Promise<void> {
  // Keys and switches first, so the timed part is connecting only.
  for (let i = 0; i < peers; i++) {
    const sw = await createNode({
      identity: generateNodeKey(),
      storage: new MemoryStorage(),
      network: 'bench-idle',
      handshakeTimeoutMs: 120 * 1000,
      dialTimeoutMs: 60 * 1000,
    });
    sw.addAgent('idle', { channels: IDLE_CHANNELS, receive: () => undefined });
    await sw.start();
    switches.push(sw);
  }
  const startedAtMs = Date.now();
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < switches.length) {
      const sw = switches[next++]!;
      try {
        await sw.dial(address);
        connected += 1;
      } catch (error) {
        failed += 1;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  send({ kind: 'dialled', connected, failed, firstError, startedAtMs });
}

// If the bench process goes away (crash, Ctrl-C), do not linger holding sockets.
process.once('disconnect', () => process.exit(0));

process.on('message', (raw) => {
  const message = raw as ToDialers;
  if (message.kind === 'dial') {
    void dialAll(message.address, message.peers, message.concurrency);
  } else {
    void Promise.all(switches.map((sw) => sw.stop())).then(() => {
      send({ kind: 'stopped' });
      process.disconnect();
    });
  }
});
