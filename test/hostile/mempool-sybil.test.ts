/**
 * Several keys each flooding the relay program's mempool within its own allowance (README "Hostile
 * peers"; bench/mempool-sybil.ts). The relay took each one's 100 txs a second and passed all of them
 * on to the node behind it, whose allowance for the relay (100 a second) then dropped honest txs
 * passing through with the flood. The relay now paces what it passes on to a peer below that peer's
 * allowance and shares the pace round-robin among networks, then among sources in each: the honest
 * source's txs all go through, the flooders lose their excess at the relay. Over real TCP on 127.0.0.1
 * (flooders from another network leave from 127.2.0.1: all of 127/8 is loopback on Linux).
 */
import { afterEach, expect, it } from 'vitest';
import { FORWARD_QUEUE_BYTES, FORWARD_QUEUE_TXS, MAX_TX_BYTES, MempoolAgent, MempoolCh, encodeTxMessage } from '../../demo/agents/mempool.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { tcpFrom } from '../helpers/tcp-from.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const OTHER_CH = [{ id: 0x20, priority: 1 }];
const FLOODERS = 3;
/** Each flooder: 10 txs every 100 ms, the sustained rate of its allowance with the relay. */
const FLOOD_TXS_PER_TICK = 10;
const FLOOD_TICK_MS = 100;
const HONEST_TXS = 40;
const HONEST_INTERVAL_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function withMempool(): Promise<{ node: TestNode; mempool: MempoolAgent; txs: string[] }> {
  const txs: string[] = [];
  const mempool = new MempoolAgent({ onTx: (tx, { from }) => void (from !== undefined && txs.push(new TextDecoder().decode(tx))) });
  const node = await startNode({ channels: OTHER_CH, agents: { mempool } });
  return { node, mempool, txs };
}

/**
 * A flood: `flooders` keys, each sending `perTick` txs of `padBytes` padding every `tickMs`, from the
 * local address `from` (default 127.0.0.1, the honest nodes' network), while the honest node sends
 * `honestTxs` (default HONEST_TXS), one every `honestIntervalMs` (default HONEST_INTERVAL_MS).
 */
interface Flood {
  readonly flooders: number;
  readonly perTick: number;
  readonly tickMs: number;
  readonly padBytes: number;
  readonly from?: string;
  readonly honestTxs?: number;
  readonly honestIntervalMs?: number;
}

async function floodScene(flood: Flood): Promise<{ relay: Awaited<ReturnType<typeof withMempool>>; receiver: Awaited<ReturnType<typeof withMempool>>; flooders: TestNode[]; atReceiver: (prefix: string) => number; most: { txs: number; bytes: number } }> {
  const relay = await withMempool();
  const honest = await withMempool();
  const receiver = await withMempool();
  const transports = flood.from === undefined ? {} : { transports: [tcpFrom(flood.from)], listen: [] };
  const flooders = await Promise.all(Array.from({ length: flood.flooders }, () => startNode({ channels: [{ id: MempoolCh, priority: 1, sendQueueCapacity: 4096 }], ...transports })));
  for (const node of [honest.node, receiver.node, ...flooders]) await node.sw.dial(relay.node.address);
  await waitFor(() => relay.node.sw.peers.length === 2 + flood.flooders, 5000, 'every peer on the relay');

  let running = true;
  const most = { txs: 0, bytes: 0 };
  const sampler = setInterval(() => {
    const now = relay.mempool.forwardPending;
    most.txs = Math.max(most.txs, now.txs);
    most.bytes = Math.max(most.bytes, now.bytes);
  }, 10);
  const floods = flooders.map(async (flooder, f) => {
    const toRelay = flooder.sw.peers[0]!;
    for (let tick = 0; running; tick++) {
      const began = performance.now();
      for (let i = 0; i < flood.perTick; i++) {
        await toRelay.send(MempoolCh, encodeTxMessage(new TextEncoder().encode(`flood/${f}/${tick}/${i}/${'x'.repeat(flood.padBytes)}`)), { timeoutMs: 5000 });
      }
      await sleep(Math.max(0, flood.tickMs - (performance.now() - began)));
    }
  });
  // The receiver's burst for the relay spent first, so honest txs meet the flood at its sustained rate.
  await sleep(1000);
  const honestTxs = flood.honestTxs ?? HONEST_TXS;
  for (let i = 0; i < honestTxs; i++) {
    honest.mempool.addTx(new TextEncoder().encode(`honest/${i}`));
    await sleep(flood.honestIntervalMs ?? HONEST_INTERVAL_MS);
  }
  await sleep(500);
  running = false;
  await Promise.all(floods);
  const atReceiver = (prefix: string): number => receiver.txs.filter((tx) => tx.startsWith(prefix)).length;
  try {
    await waitFor(() => atReceiver('honest/') === honestTxs, 5000, 'every honest tx at the receiver');
  } catch {
    // Reported by the caller's expectations.
  } finally {
    clearInterval(sampler);
  }
  return { relay, receiver, flooders, atReceiver, most };
}

it('3 keys flooding within their allowances: every honest tx reaches the node behind the relay, the flood loses its excess at the relay', { timeout: 30_000 }, async () => {
  const { relay, receiver, flooders, atReceiver, most } = await floodScene({ flooders: FLOODERS, perTick: FLOOD_TXS_PER_TICK, tickMs: FLOOD_TICK_MS, padBytes: 180 });

  // Before: 5–11 of the 40 honest txs lost, as the receiver dropped 520–570 of what the relay passed on.
  expect(atReceiver('honest/')).toBe(HONEST_TXS);
  expect(receiver.mempool.rateLimited, 'the relay never went past the receiver\'s allowance for it').toBe(0);
  expect(relay.mempool.forwardDropped, 'the flooders\' excess, dropped at the relay').toBeGreaterThan(0);
  expect(atReceiver('flood/')).toBeLessThan(relay.txs.filter((tx) => tx.startsWith('flood/')).length);
  for (const flooder of flooders) expect(relay.node.sw.getPeer(flooder.key.nodeId), 'flooders stay (their surplus is dropped)').toBeDefined();
  // Bounded: at most FORWARD_QUEUE_TXS (and ~1 MiB) wait for each of the relay's peers, and all go.
  const peers = relay.node.sw.peers.length;
  expect(most.txs).toBeGreaterThan(0);
  expect(most.txs).toBeLessThanOrEqual(FORWARD_QUEUE_TXS * peers);
  expect(most.bytes).toBeLessThanOrEqual(FORWARD_QUEUE_BYTES * peers);
  await waitFor(() => relay.mempool.forwardPending.txs === 0, 5000, 'the relay\'s queues drained');
});

it('2 keys flooding the largest txs within their byte allowances: the relay shares its pace by bytes, so every honest tx still goes through', { timeout: 30_000 }, async () => {
  // 3 txs of ~64 KiB every 200 ms: ~0.94 MiB/s each, within the relay's 1 MiB/s for a peer.
  const { relay, receiver, atReceiver } = await floodScene({ flooders: 2, perTick: 3, tickMs: 200, padBytes: MAX_TX_BYTES - 100 });

  // Before (the pace shared by items): a turn of two 64 KiB txs for each honest one of 20 B left the
  // honest source ~7 turns a second of the pace for its 20 txs: 30 of the 40 arrived (twice).
  expect(atReceiver('honest/')).toBe(HONEST_TXS);
  expect(receiver.mempool.rateLimited, 'the relay never went past the receiver\'s allowance for it').toBe(0);
  expect(relay.mempool.forwardDropped, 'the flooders\' excess, dropped at the relay').toBeGreaterThan(0);
});

it('16 keys flooding from one network: the relay shares its pace by network first, so the honest source from another network keeps its txs', { timeout: 60_000 }, async () => {
  // The flooders' sockets leave from 127.2.0.1 (network ipv4:127.2), the honest nodes' from 127.0.0.1.
  const { relay, receiver, flooders, atReceiver } = await floodScene({ flooders: 16, perTick: FLOOD_TXS_PER_TICK, tickMs: FLOOD_TICK_MS, padBytes: 180, from: '127.2.0.1', honestTxs: 80, honestIntervalMs: 100 });

  // Before (a share per source): 50 of the 80 arrived, the honest source's 1/17 of the pace being ~5 txs a
  // second against its 10. Now its network has half the pace: 80 of 80.
  expect(atReceiver('honest/')).toBeGreaterThanOrEqual(76);
  expect(receiver.mempool.rateLimited, 'the relay never went past the receiver\'s allowance for it').toBe(0);
  expect(relay.mempool.forwardDropped, 'the flooders\' excess, dropped at the relay').toBeGreaterThan(0);
  for (const flooder of flooders) expect(relay.node.sw.getPeer(flooder.key.nodeId), 'flooders stay (their surplus is dropped)').toBeDefined();
});
