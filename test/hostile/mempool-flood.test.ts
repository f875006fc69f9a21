/**
 * The relay program's mempool (demo/agents/mempool.ts) passes every new tx it takes on to every other
 * peer. One authenticated peer flooding it with valid, distinct txs made the relay forward all of them:
 * honest peers' queues filled with the flood and their own txs were dropped on the way (found from
 * outside: a real `meshlink node` with two honest peers exchanging a tx every 100 ms stopped
 * delivering any for 15 s). Each peer now has an allowance of txs and bytes a second; its surplus is
 * dropped, the peer stays. Over real TCP on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_MEMPOOL_PEER_BURST, DEFAULT_MEMPOOL_PEER_RATE_PER_S, MempoolAgent, MempoolCh, decodeTxMessage, encodeTxMessage } from '../../demo/agents/mempool.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const OTHER_CH = [{ id: 0x20, priority: 1 }];
const FLOOD_TXS = 3000;
const HONEST_TXS = 20;

async function withMempool(): Promise<{ node: TestNode; mempool: MempoolAgent; txs: string[] }> {
  const txs: string[] = [];
  const mempool = new MempoolAgent({ onTx: (tx, { from }) => void (from !== undefined && txs.push(new TextDecoder().decode(tx))) });
  const node = await startNode({ channels: OTHER_CH, agents: { mempool } });
  return { node, mempool, txs };
}

it('one peer flooding distinct valid txs gets only its allowance passed on; honest txs all arrive', async () => {
  const relay = await withMempool();
  const a = await withMempool();
  // B reads every tx the relay passes on (as the lab's honest peers, and pages, do): what it gets is what the relay forwards.
  const b = await startNode({ channels: [{ id: MempoolCh, priority: 5 }] });
  const atB = (): string[] => b.agent.messages.map(({ message }) => new TextDecoder().decode(decodeTxMessage(message).tx));
  const attacker = await startNode({ channels: [{ id: MempoolCh, priority: 1, sendQueueCapacity: 4096 }] });
  for (const node of [a.node, b, attacker]) await node.sw.dial(relay.node.address);
  await waitFor(() => relay.node.sw.peers.length === 3, 5000, 'three peers on the relay');
  const started = performance.now();

  const toRelay = attacker.sw.peers[0]!;
  const flood = (async () => {
    for (let i = 0; i < FLOOD_TXS; i++) await toRelay.send(MempoolCh, encodeTxMessage(randomBytes(200)), { timeoutMs: 5000 });
  })();
  for (let i = 0; i < HONEST_TXS; i++) {
    a.mempool.addTx(new TextEncoder().encode(`A/${i}`));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await flood;
  await waitFor(() => atB().filter((tx) => tx.startsWith('A/')).length === HONEST_TXS, 5000, 'every honest tx at B');
  const elapsedS = (performance.now() - started) / 1000;

  const junkAtB = atB().filter((tx) => !tx.startsWith('A/')).length;
  // Before: ~3,000 passed on (everything the relay read), and honest ones dropped from full queues.
  expect(junkAtB, `flood passed on to B in ${elapsedS.toFixed(1)} s`).toBeLessThanOrEqual(DEFAULT_MEMPOOL_PEER_BURST + DEFAULT_MEMPOOL_PEER_RATE_PER_S * (elapsedS + 1));
  expect(relay.mempool.rateLimited).toBeGreaterThan(0);
  expect(relay.node.sw.getPeer(attacker.key.nodeId), 'the flooder stays (its surplus is dropped)').toBeDefined();
});
