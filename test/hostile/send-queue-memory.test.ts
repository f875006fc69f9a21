/**
 * A peer that stops reading while others make the relay program's mempool pass txs on to it (README
 * "Hostile peers", memory worst case): what our send queue toward it may hold. Real TCP on 127.0.0.1;
 * the non-reader sits behind a proxy that stops reading from us, so our socket and then our queue fill.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MempoolAgent, MempoolCh, encodeTxMessage } from '../../demo/agents/mempool.js';
import { DEFAULT_SEND_QUEUE_CAPACITY_BYTES } from '../../src/conn/constants.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { guardProcessFaults, startProxy, type TcpProxy } from './raw-peer.js';

guardProcessFaults();

const TX_BYTES = 64 * 1024;
const TXS = 400;
const mempoolChannel = (recvMessageCapacity: number) => [{ id: MempoolCh, sendQueueCapacity: 4096, recvMessageCapacity }];

let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await stopAll();
});

async function connect(node: TestNode, victim: TestNode, port = Number(victim.address.split(':').pop())): Promise<void> {
  await node.sw.dial(`tcp://${victim.sw.nodeId}@127.0.0.1:${port}`);
  await waitFor(() => victim.sw.getPeer(node.sw.nodeId) !== undefined, 3000, 'victim sees the peer');
}

describe('send queue toward a peer that does not read', () => {
  it('holds at most 1 MiB of passed-on 64 KiB txs for it (before: 1,024 of them, 64 MiB a peer), and honest txs still get through', { timeout: 30_000 }, async () => {
    // The relay's mempool, with its per-peer allowance lifted so one feeder stands for many.
    const mempool = new MempoolAgent({ peerBurst: 1e6, peerRatePerSecond: 1e6, peerBurstBytes: 2 ** 30, peerBytesPerSecond: 2 ** 30 });
    const victim = await startNode({ channels: [], agents: { mempool } });
    // The feeder declares a 1-byte capacity, so nothing is passed back to it.
    const feeder = await startNode({ listen: [], channels: mempoolChannel(1) });
    const [a, b] = [await startNode({ listen: [], channels: mempoolChannel(1024) }), await startNode({ listen: [], channels: mempoolChannel(1024) })];
    for (const node of [feeder, a, b]) await connect(node, victim);
    proxy = await startProxy(Number(victim.address.split(':').pop()));
    const sink = await startNode({ listen: [], channels: mempoolChannel(TX_BYTES + 64) });
    await connect(sink, victim, proxy.port);
    // The sink stops reading: our socket toward it fills, then our queue.
    proxy.pipes[0]!.server.pause();

    const toVictim = feeder.sw.getPeer(victim.sw.nodeId)!;
    for (let i = 0; i < TXS; i++) expect(await toVictim.send(MempoolCh, encodeTxMessage(randomBytes(TX_BYTES)), { timeoutMs: 5000 })).toBe(true);
    await waitFor(() => mempool.size >= TXS, 10_000, 'the victim took every tx');
    const honestTx = encodeTxMessage(new TextEncoder().encode('honest'));
    expect(a.sw.getPeer(victim.sw.nodeId)!.trySend(MempoolCh, honestTx)).toBe(true);
    await waitFor(() => b.agent.messages.some((m) => m.message.length === honestTx.length), 5000, 'the honest tx arrives');

    const queue = victim.sw.getPeer(sink.sw.nodeId)!.status().channels.find((c) => c.id === MempoolCh)!;
    expect(queue.sendQueueBytes).toBeLessThanOrEqual(DEFAULT_SEND_QUEUE_CAPACITY_BYTES);
    expect(queue.sendQueueLength).toBeLessThanOrEqual(16);

    // Reading again, the sink gets what was queued for it, and the queue empties.
    proxy.pipes[0]!.server.resume();
    await waitFor(() => victim.sw.getPeer(sink.sw.nodeId)!.status().channels.find((c) => c.id === MempoolCh)!.sendQueueLength === 0, 10_000, 'queue drained');
    await waitFor(() => sink.agent.messages.length > 0, 5000, 'the sink gets txs');
  });
});
