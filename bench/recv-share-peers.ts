/**
 * Child-process entry of bench/recv-share.ts: `count` nodes of one kind, each with a fresh key, dialling
 * the victim over TCP, so their CPU is not the victim's. Honest nodes send a timestamped message every
 * `tickMs` on the push and the pull channel; flooders send tiny messages on `channel` as fast as their
 * connection takes them. Driven over IPC: `start`, `stop` (answers with what was sent), `exit`.
 */
import { generateNodeKey } from '../src/crypto/keys.js';
import { Switch } from '../src/switch/switch.js';
import { encodeMessage } from '../src/wire/codec.js';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { tcpTransport } from '../platforms/node/tcp.js';
import { PULL_CH, PUSH_CH, SHARE_NETWORK, shareChannels, sleep, wallNow, type FromPeers, type PeersRole, type ToPeers } from './recv-share-common.js';

async function main(): Promise<void> {
  const [role, victimAddress, countText, channelText, tickText, floodBytesText] = process.argv.slice(2) as [PeersRole, string, string, string, string, string];
  const count = Number(countText);
  const channel = Number(channelText);
  const tickMs = Number(tickText);
  const switches: Switch[] = [];
  for (let i = 0; i < count; i++) {
    const sw = new Switch({ identity: generateNodeKey(), network: SHARE_NETWORK, transports: [tcpTransport()], listen: [], aead: nodeChaCha20Poly1305, stopTimeoutMs: 1000, handshakeTimeoutMs: 10_000 });
    sw.addAgent('share', { channels: shareChannels(), receive: () => undefined });
    await sw.start();
    const peer = await sw.dial(victimAddress);
    switches.push(sw);
    void peer;
  }
  process.send!({ ready: switches.map((sw) => sw.nodeId) } satisfies FromPeers);

  let running = false;
  let sent = 0;
  let loops: Promise<void>[] = [];
  const pad = new Uint8Array(64);
  const honestLoop = async (sw: Switch): Promise<void> => {
    const peer = sw.peers[0]!;
    for (let seq = 0; running; seq++) {
      for (const ch of [PUSH_CH, PULL_CH]) {
        // Not awaited: a message waits in the queue when the victim reads slowly; its delay shows it.
        void peer.send(ch, encodeMessage({ k: 'honest', s: seq, t: wallNow(), pad }), { timeoutMs: 5_000 }).then((ok) => void (ok && sent++));
      }
      await sleep(tickMs);
    }
  };
  const tiny = encodeMessage({ k: 'f', pad: new Uint8Array(Number(floodBytesText)) });
  const floodLoop = async (sw: Switch): Promise<void> => {
    const peer = sw.peers[0]!;
    while (running && peer.isConnected) {
      let batch = 0;
      while (batch < 1024 && peer.connection.trySend(channel, tiny)) batch++;
      sent += batch;
      // The queue is full: let the connection write and the other flooders of this process run.
      await new Promise((resolve) => setImmediate(resolve));
      if (batch === 0) await sleep(1);
    }
  };
  process.on('message', (raw) => {
    const message = raw as ToPeers;
    if (message.cmd === 'start') {
      running = true;
      loops = switches.map((sw) => (role === 'honest' ? honestLoop(sw) : floodLoop(sw)));
    } else if (message.cmd === 'stop') {
      running = false;
      void Promise.all(loops).then(() => process.send!({ sent } satisfies FromPeers));
    } else {
      void Promise.all(switches.map((sw) => sw.stop())).then(() => {
        process.send!({ exited: true } satisfies FromPeers);
        process.exit(0);
      });
    }
  });
  process.once('disconnect', () => process.exit(0));
}

main().catch((error: unknown) => {
  process.send!({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies FromPeers);
  process.exit(1);
});
