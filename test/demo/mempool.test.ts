import { afterEach, describe, expect, it } from 'vitest';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { encodeMessage } from '../../src/wire/codec.js';
import type { Agent } from '../../src/switch/agent.js';
import { MempoolAgent, MempoolCh, decodeTxMessage, encodeTxMessage, txHash, MAX_TX_BYTES } from '../../demo/agents/mempool.js';
import { LruSet } from '../../demo/agents/lru-set.js';

afterEach(stopAll);

interface MempoolNode extends TestNode {
  mempool: MempoolAgent;
  received: string[];
}

// The helper's recording agent would claim 0x30 too; give it another channel.
const OTHER_CHANNELS = [{ id: 0x20 }];

async function startMempoolNode(): Promise<MempoolNode> {
  const received: string[] = [];
  const mempool = new MempoolAgent({ onTx: (tx) => received.push(new TextDecoder().decode(tx)) });
  const node = await startNode({ channels: OTHER_CHANNELS, agents: { mempool } });
  return { ...node, mempool, received };
}

function mempoolMessagesReceived(node: TestNode): number {
  let total = 0;
  for (const peer of node.sw.status().peers) total += peer.channels.find((c) => c.id === MempoolCh)?.receivedMessages ?? 0;
  return total;
}

describe('MempoolAgent (the seed example)', () => {
  it('gossips a tx along a line A-B-C-D-E-F; every node gets it exactly once and nothing is echoed back', async () => {
    const nodes = await Promise.all(Array.from({ length: 6 }, () => startMempoolNode()));
    for (let i = 0; i < nodes.length - 1; i++) await nodes[i]!.sw.dial(nodes[i + 1]!.address);
    await waitFor(() => nodes.every((n, i) => n.sw.peers.length === (i === 0 || i === 5 ? 1 : 2)), 3000, 'line topology');

    expect(nodes[0]!.mempool.addTx(new TextEncoder().encode('tx-1'))).toBe(true);
    await waitFor(() => nodes[5]!.received.length === 1, 3000, 'tx reaches F');
    // Give duplicates or echoes time to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const node of nodes) expect(node.received).toEqual(['tx-1']);
    // A originated it and hears nothing back; each other node hears it once, from its left neighbour.
    expect(nodes.map(mempoolMessagesReceived)).toEqual([0, 1, 1, 1, 1, 1]);
    // Originating a tx the pool already has sends nothing.
    expect(nodes[3]!.mempool.addTx(new TextEncoder().encode('tx-1'))).toBe(false);
  });

  it('stops only the peer that sends a malformed TxMessage', async () => {
    const hub = await startMempoolNode();
    const honest = await startMempoolNode();
    // Rogues own the channel (pull style, never read) so they can send anything on it.
    const rogueAgent = (): Agent => ({ channels: [{ id: MempoolCh }] });
    const garbage = await startNode({ channels: OTHER_CHANNELS, agents: { rogue: rogueAgent() } });
    const wrongShape = await startNode({ channels: OTHER_CHANNELS, agents: { rogue: rogueAgent() } });
    const errors: { peerId: string; code: string | undefined }[] = [];
    hub.sw.on('peer:error', ({ peer, error }) => errors.push({ peerId: peer.id, code: (error as { code?: string }).code }));

    await honest.sw.dial(hub.address);
    const viaGarbage = await garbage.sw.dial(hub.address);
    const viaWrongShape = await wrongShape.sw.dial(hub.address);
    await waitFor(() => hub.sw.peers.length === 3, 3000, 'three peers');

    expect(viaGarbage.trySend(MempoolCh, new Uint8Array([0xc1]))).toBe(true); // 0xc1: never used in msgpack
    expect(viaWrongShape.trySend(MempoolCh, encodeMessage({ tx: 'not bytes' }))).toBe(true);
    await waitFor(() => hub.sw.peers.length === 1, 3000, 'rogues dropped');
    expect(hub.sw.peers[0]!.id).toBe(honest.sw.nodeId);
    expect(errors.map((e) => e.code)).toEqual(['ERR_MALFORMED_MESSAGE', 'ERR_MALFORMED_MESSAGE']);
    expect(new Set(errors.map((e) => e.peerId))).toEqual(new Set([garbage.sw.nodeId, wrongShape.sw.nodeId]));

    // The honest peer still gossips, both ways.
    hub.mempool.addTx(new TextEncoder().encode('from-hub'));
    honest.mempool.addTx(new TextEncoder().encode('from-honest'));
    await waitFor(() => honest.received.length === 2 && hub.received.length === 2, 3000, 'gossip after the rogues left');
  });

  it('start and stop are idempotent, and the gossip loop ends with the switch', async () => {
    const node = await startMempoolNode();
    node.mempool.start(node.sw);
    node.mempool.stop();
    node.mempool.stop();
    await node.sw.stop();
    await node.mempool.done;
    expect(() => node.mempool.addTx(new Uint8Array([1]))).toThrow(/not running/);
  });
});

describe('TxMessage codec', () => {
  it('round-trips and rejects every other shape', () => {
    const tx = new Uint8Array([1, 2, 3]);
    expect(decodeTxMessage(encodeTxMessage(tx)).tx).toEqual(tx);
    for (const bad of [{}, { tx: 1 }, { tx: new Uint8Array(0) }, { tx, extra: 1 }, [tx], tx, 'tx', null, { tx: new Uint8Array(MAX_TX_BYTES + 1) }]) {
      expect(() => decodeTxMessage(encodeMessage(bad))).toThrowError(expect.objectContaining({ code: 'ERR_MALFORMED_MESSAGE' }));
    }
    expect(txHash(tx)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('LruSet forgets the oldest entry beyond its capacity', () => {
    const set = new LruSet<string>(2);
    expect(set.add('a')).toBe(true);
    set.add('b');
    expect(set.add('a')).toBe(false); // refreshes 'a': 'b' is now the oldest
    set.add('c');
    expect([set.has('a'), set.has('b'), set.has('c'), set.size]).toEqual([true, false, true, 2]);
  });
});
