import { afterEach, describe, expect, it } from 'vitest';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { MempoolAgent } from './readme-mempool.js';

afterEach(stopAll);

describe("the README's short MempoolAgent", () => {
  it('gossips along a line of three nodes and drops a peer that sends garbage', async () => {
    const agents = [new MempoolAgent(), new MempoolAgent(), new MempoolAgent()];
    const nodes = await Promise.all(agents.map((mempool) => startNode({ channels: [{ id: 0x20 }], agents: { mempool } })));
    await nodes[0]!.sw.dial(nodes[1]!.address);
    const last = await nodes[2]!.sw.dial(nodes[1]!.address);
    await waitFor(() => nodes[1]!.sw.peers.length === 2, 3000, 'line');
    // Node 2's switch sends directly (its agent never sees the tx): the hub and node 0 must get it.
    last.trySend(0x30, encodeMessage({ tx: new Uint8Array([7]) }));
    await waitFor(() => agents[0]!.seen.size === 1 && agents[1]!.seen.size === 1, 3000, 'gossip');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(agents[2]!.seen.size).toBe(0); // nothing echoed back to the sender
    last.trySend(0x30, encodeMessage({ tx: 'garbage' }));
    await waitFor(() => nodes[1]!.sw.peers.length === 1, 3000, 'garbage sender dropped');
    expect(nodes[1]!.sw.peers[0]!.id).toBe(nodes[0]!.sw.nodeId);
  });
});
