/**
 * Child-process entry (run with --expose-gc): one meshlink node that idle peers connect to. Reports its
 * memory after a full GC before and after the peers arrive, and when the last of them has connected.
 */
import { writeHeapSnapshot } from 'node:v8';
import { createNode } from '../platforms/node/index.js';
import { generateNodeKey } from '../src/crypto/keys.js';
import { MemoryStorage } from '../src/storage/storage.js';
import type { Agent } from '../src/switch/agent.js';
import { IDLE_CHANNELS, type FromHub, type MemorySnapshot, type ToHub } from './idle-common.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('idle hub needs --expose-gc');

async function settledMemory(): Promise<MemorySnapshot> {
  // Several passes with turns of the event loop in between, so weak callbacks and finalizers run.
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const usage = process.memoryUsage();
  // MESHLINK_IDLE_HEAP_SNAPSHOTS=<dir>: also a heap snapshot before and after the peers arrive, to
  // compare by constructor (Chrome DevTools' Comparison view) when the figure per peer goes up.
  if (process.env.MESHLINK_IDLE_HEAP_SNAPSHOTS) writeHeapSnapshot(`${process.env.MESHLINK_IDLE_HEAP_SNAPSHOTS}/hub-${Date.now()}.heapsnapshot`);
  return { heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, rss: usage.rss };
}

function send(message: FromHub): void {
  process.send!(message);
}

const agent: Agent = { channels: IDLE_CHANNELS, receive: () => undefined };

// If the bench process goes away (crash, Ctrl-C), do not linger holding sockets.
process.once('disconnect', () => process.exit(0));

process.once('message', (raw) => {
  const { peers } = raw as Extract<ToHub, { kind: 'start' }>;
  void (async () => {
    const sw = await createNode({
      identity: generateNodeKey(),
      storage: new MemoryStorage(),
      network: 'bench-idle',
      // MESHLINK_IDLE_LISTEN=ws://127.0.0.1:0/ measures idle peers over WebSocket instead of TCP.
      listen: [process.env.MESHLINK_IDLE_LISTEN ?? 'tcp://127.0.0.1:0'],
      // Limits raised for the test: the defaults (40 inbound, 64 handshaking) protect a real node.
      maxInbound: peers + 16,
      maxPendingInbound: 256,
      maxPendingInboundPerHost: 256, // every dialer is on 127.0.0.1
      handshakeTimeoutMs: 120 * 1000,
    });
    sw.addAgent('idle', agent);
    await sw.start();
    const before = await settledMemory();
    let allConnectedAtMs: number | undefined;
    sw.addEventListener('peer:connected', () => {
      if (allConnectedAtMs === undefined && sw.peers.length >= peers) {
        allConnectedAtMs = Date.now();
        void (async () => {
          // Let the last handshakes' garbage go before measuring.
          await new Promise((resolve) => setTimeout(resolve, 200));
          const after = await settledMemory();
          send({ kind: 'connected', peerCount: sw.peers.length, allConnectedAtMs: allConnectedAtMs!, before, after });
        })();
      }
    });
    let disconnected = 0;
    sw.addEventListener('peer:disconnected', () => void (disconnected += 1));
    process.on('message', (next) => {
      if ((next as { kind?: string }).kind !== 'stop') return;
      const disconnectedBeforeStop = disconnected;
      void sw.stop().then(() => {
        send({ kind: 'stopped', disconnectedBeforeStop });
        process.disconnect();
      });
    });
    send({ kind: 'ready', address: sw.addresses[0]!, pid: process.pid });
  })();
});
