/**
 * The page draws its graph from the topology table, at most 64 origins. Announcements are not signed:
 * a peer may pass on announcements of origins it made up. One peer filling the table with 64 of them,
 * renewed within their 7 s lifetime, kept every real node out of it (`refusedFull`) and off the page's
 * graph for as long as it liked. Real TCP; the page's TopologyAgent on its defaults.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_NODES, encodeAnnouncement, TopologyAgent, TopologyCh } from '../../demo/agents/topology.js';
import type { Agent } from '../../src/switch/agent.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const madeUp = (n: number): string => (0xee00 + n).toString(16).padStart(40, '0');

describe('one peer filling a page’s topology table with made-up origins', () => {
  it('holds no more than its share: the nodes other peers bring still get in', async () => {
    const topology = new TopologyAgent({ kind: 'page' });
    const page = await startNode({ agents: { topology } });
    const rogueAgent: Agent = { channels: [{ id: TopologyCh, sendQueueCapacity: 4096 }] };
    const rogue = await startNode({ agents: { rogue: rogueAgent } });
    const toPage = await rogue.sw.dial(page.address);
    await waitFor(() => page.sw.peers.length === 1, 3000, 'the rogue connected');
    for (let i = 0; i < DEFAULT_MAX_NODES; i++) {
      toPage.trySend(TopologyCh, encodeAnnouncement({ origin: madeUp(i), seq: 1, moniker: `ghost-${i}`, kind: 'page', hops: 1, links: [] }));
    }
    await waitFor(() => topology.snapshot().nodes.length === DEFAULT_MAX_NODES, 3000, 'the table full of made-up origins');

    // Three honest nodes, each announcing itself to the page.
    const honest = await Promise.all([0, 1, 2].map(() => startNode({ agents: { topology: new TopologyAgent({ kind: 'node', announceIntervalMs: 200 }) } })));
    for (const node of honest) await node.sw.dial(page.address);
    const ids = honest.map((node) => node.sw.nodeId);
    // Before: refusedFull for each, none on the graph while the made-up entries lived (and were renewed).
    await waitFor(() => ids.every((id) => topology.snapshot().nodes.some((node) => node.id === id)), 3000, 'the honest nodes in the table');
    expect(topology.snapshot().nodes).toHaveLength(DEFAULT_MAX_NODES);
    expect(topology.stats().evicted).toBe(3);
    expect(topology.stats().refusedFull).toBe(0);
  });
});
