/**
 * The demo's topology gossip (demo/agents/topology.ts) holds each peer to an allowance: 64
 * announcements a second after a burst of 128, the rest dropped. A relay passes on every announcement
 * it takes, so peers each within their allowance (made-up origins, renewed as often as an origin
 * may be) had it pass on more than the next node takes from it: that node dropped the surplus unread,
 * honest nodes' announcements among it, and they went missing from its graph. What a node passes on to
 * a peer is now paced below that peer's allowance and shared among the sources (as the chat's and the
 * mempool's). Over real TCP on 127.0.0.1.
 */
import { afterEach, expect, it } from 'vitest';
import { decodeAnnouncement, encodeAnnouncement, MIN_ORIGIN_INTERVAL_MS, TopologyAgent, TopologyCh } from '../../demo/agents/topology.js';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { sleep } from './harness.js';

afterEach(stopAll);

const FLOODERS = 3;
/** Made-up origins per flooder, each renewed every ROUND_MS: 36 a second each, within its allowance of 64. */
const ORIGINS_PER_FLOODER = 20;
const ROUND_MS = MIN_ORIGIN_INTERVAL_MS + 50;
const FLOOD_MS = 10_000;
/** Twice the floor between two announcements of one origin: jitter on a loaded machine must not make two look too close. */
const AUTHOR_INTERVAL_MS = 2 * MIN_ORIGIN_INTERVAL_MS;

const madeUp = (flooder: number, n: number): string => ((flooder + 1) * 0x10000 + n).toString(16).padStart(40, '0');

it('peers flooding a relay with announcements within their allowance do not get honest ones dropped at the node behind it', async () => {
  const relay = new TopologyAgent({ kind: 'relay' });
  const relayNode = await startNode({ channels: [], agents: { topology: relay } });
  const author = await startNode({ channels: [], agents: { topology: new TopologyAgent({ kind: 'node', announceIntervalMs: AUTHOR_INTERVAL_MS }) } });
  const reader = new TopologyAgent({ kind: 'page' });
  // Counts the author's announcements the reader dropped as over the relay's allowance.
  let authorDropped = 0;
  let authorArrived = 0;
  const receive = reader.receive.bind(reader);
  reader.receive = (channelId: number, peer: Peer, message: Uint8Array): void => {
    const before = reader.stats().rateLimited;
    receive(channelId, peer, message);
    if (decodeAnnouncement(message).origin !== author.sw.nodeId) return;
    authorArrived++;
    if (reader.stats().rateLimited > before) authorDropped++;
  };
  const readerNode = await startNode({ channels: [], agents: { topology: reader } });
  await author.sw.dial(relayNode.address);
  await readerNode.sw.dial(relayNode.address);
  await waitFor(() => reader.snapshot().nodes.some((node) => node.id === author.sw.nodeId), 5000, 'the author on the reader\'s graph');

  const flooders = await Promise.all(Array.from({ length: FLOODERS }, async (_, f) => {
    const agent: Agent = { channels: [{ id: TopologyCh, sendQueueCapacity: 4096 }] };
    const node = await startNode({ agents: { flood: agent } });
    const toRelay = await node.sw.dial(relayNode.address);
    return { f, toRelay };
  }));
  const started = performance.now();
  // Spread evenly over each round, so the relay's allowance at the reader stays spent (in bursts, it refilled between them).
  for (let tick = 0; performance.now() - started < FLOOD_MS; tick++) {
    const [seq, n] = [Math.floor(tick / ORIGINS_PER_FLOODER) + 1, tick % ORIGINS_PER_FLOODER];
    for (const { f, toRelay } of flooders) {
      toRelay.trySend(TopologyCh, encodeAnnouncement({ origin: madeUp(f, n), seq, moniker: `ghost-${n}`, kind: 'page', hops: 1, links: [] }));
    }
    await sleep(ROUND_MS / ORIGINS_PER_FLOODER);
  }

  // Before: the relay passed on ~109 a second, the reader took 64, and dropped a third of the author's.
  expect(authorArrived).toBeGreaterThanOrEqual(5);
  expect(authorDropped, `of the author's ${authorArrived} announcements at the reader (it dropped ${reader.stats().rateLimited} in all)`).toBe(0);
  expect(relay.stats().accepted, 'the flood was taken by the relay').toBeGreaterThan(FLOOD_MS / 1000 * FLOODERS * 20);
}, 30_000);
