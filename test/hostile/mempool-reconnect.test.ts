/**
 * A flooder reconnecting to the relay program's mempool with a fresh key each time (keys are free).
 * Each connection got a fresh allowance, its full burst (200 txs) taken and passed on to every other
 * peer: 140 connections in 10 s had 28,000 txs passed on. A new peer from a network whose peers left
 * recently now starts with what they left of their allowance (demo/agents/mempool-allowance.ts); a
 * peer from another network starts full, as before. Over real TCP: the relay listens on 127.0.0.1,
 * the flooder's sockets leave from 127.2.0.1 (another /16: all of 127/8 is loopback on Linux).
 */
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_MEMPOOL_PEER_BURST, DEFAULT_MEMPOOL_PEER_RATE_PER_S, MempoolAgent, MempoolCh, encodeTxMessage } from '../../demo/agents/mempool.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { tcpFrom } from '../helpers/tcp-from.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const CONNECTIONS = 6;
/** Txs each connection sends at once: more than a full burst. */
const TXS_PER_CONNECTION = 300;
const FLOODER_CH = [{ id: MempoolCh, priority: 1, sendQueueCapacity: 4096 }];

it('a flooder reconnecting with fresh keys from one network gets one burst, not one per key; another network still gets its own', { timeout: 60_000 }, async () => {
  const txs: string[] = [];
  const mempool = new MempoolAgent({ onTx: (tx, { from }) => void (from !== undefined && txs.push(new TextDecoder().decode(tx))) });
  const relay = await startNode({ channels: [{ id: 0x20, priority: 1 }], agents: { mempool } });
  const handled = (): number => txs.length + mempool.rateLimited;

  const began = performance.now();
  for (let c = 0; c < CONNECTIONS; c++) {
    const flooder = await startNode({ channels: FLOODER_CH, transports: [tcpFrom('127.2.0.1')], listen: [] });
    await flooder.sw.dial(relay.address);
    const toRelay = flooder.sw.peers[0]!;
    const before = handled();
    for (let i = 0; i < TXS_PER_CONNECTION; i++) await toRelay.send(MempoolCh, encodeTxMessage(new TextEncoder().encode(`flood/${c}/${i}`)), { timeoutMs: 5000 });
    await waitFor(() => handled() === before + TXS_PER_CONNECTION, 5000, 'the relay to read the flood');
    await flooder.sw.stop();
    await waitFor(() => relay.sw.getPeer(flooder.key.nodeId) === undefined, 5000, 'the relay to see the flooder go');
  }
  const elapsedS = (performance.now() - began) / 1000;
  const flood = txs.filter((tx) => tx.startsWith('flood/')).length;

  // Before: 1,208 of the 1,800 taken in 0.3 s, a full burst of 200 for each key. Now 216–233.
  expect(flood, `taken in ${elapsedS.toFixed(1)} s`).toBeLessThanOrEqual(DEFAULT_MEMPOOL_PEER_BURST + DEFAULT_MEMPOOL_PEER_RATE_PER_S * elapsedS + 10);
  expect(mempool.rateLimited).toBeGreaterThan(0);

  // A new peer from another network (127.0.0.1) starts with a full allowance: a burst of 150 all taken.
  const honest = await startNode({ channels: FLOODER_CH });
  await honest.sw.dial(relay.address);
  for (let i = 0; i < 150; i++) await honest.sw.peers[0]!.send(MempoolCh, encodeTxMessage(new TextEncoder().encode(`honest/${i}`)), { timeoutMs: 5000 });
  await waitFor(() => txs.filter((tx) => tx.startsWith('honest/')).length === 150, 5000, 'every honest tx taken');
});
