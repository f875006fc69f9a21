import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { FileStorage } from '../../platforms/node/file-storage.js';
import { loadOrCreateNodeKey } from '../../src/crypto/keys.js';
import type { MeshlinkError } from '../../src/errors.js';
import { waitFor } from '../helpers/wait.js';
import { fakeAddresses, RogueAgent, response, startPexNode, stopPexNodes, type PexNode } from './pex-helpers.js';

const homes: string[] = [];
afterEach(async () => {
  await stopPexNodes();
  await Promise.all(homes.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const LOOPBACK = 'tcp://127.0.0.1:0';

function tcpNode(options: Omit<Parameters<typeof startPexNode>[0], 'transports' | 'listen'> = {}): Promise<PexNode> {
  return startPexNode({ transports: [tcpTransport()], listen: LOOPBACK, ...options });
}

/** Every node reachable from every other through peer links among `nodes` only. */
function isConnectedMesh(nodes: readonly PexNode[]): boolean {
  const ids = new Set(nodes.map((node) => node.sw.nodeId));
  const byId = new Map(nodes.map((node) => [node.sw.nodeId, node]));
  const seen = new Set([nodes[0]!.sw.nodeId]);
  const queue = [nodes[0]!];
  while (queue.length > 0) {
    for (const peer of queue.pop()!.sw.peers) {
      if (!ids.has(peer.id) || seen.has(peer.id)) continue;
      seen.add(peer.id);
      queue.push(byId.get(peer.id)!);
    }
  }
  return seen.size === nodes.length;
}

describe('PEX over real TCP', () => {
  it('10 nodes that know only one seed form a connected mesh', async () => {
    const seed = await tcpNode({ pex: { seedMode: true }, switchOptions: { maxInbound: 50 } });
    const nodes = await Promise.all(Array.from({ length: 10 }, () => tcpNode({ pex: { seeds: [seed.address] }, switchOptions: { maxOutbound: 4 } })));
    await waitFor(() => isConnectedMesh(nodes), 15_000, 'a connected mesh');
    // …and not a fragile one: every node ends up with several peers.
    await waitFor(() => nodes.every((node) => node.sw.peers.length >= 3), 10_000, 'three peers each');
    for (const node of nodes) expect(node.pex!.book.size()).toBeGreaterThanOrEqual(4);
    // The seed keeps nobody: every connection to it is short-lived.
    await waitFor(() => seed.sw.peers.every((peer) => Date.now() - peer.connectedAt < 2000), 3000, 'seed holds no long-term peer');
  });

  it('a node restarted with its home reconnects from its saved book after the seed is gone', async () => {
    const home = await mkdtemp(join(tmpdir(), 'meshlink-pex-'));
    homes.push(home);
    const storage = new FileStorage(home);
    const identity = await loadOrCreateNodeKey(storage);
    const seed = await tcpNode({ pex: { seedMode: true } });
    const others = await Promise.all(Array.from({ length: 3 }, () => tcpNode({ pex: { seeds: [seed.address] } })));
    const first = await tcpNode({ identity, pex: { seeds: [seed.address], storage } });
    const othersIds = new Set(others.map((node) => node.sw.nodeId));
    const met = (): PexNode['sw']['peers'] => first.sw.peers.filter((peer) => othersIds.has(peer.id));
    await waitFor(() => met().length >= 2 && met().some((peer) => peer.direction === 'outbound'), 10_000, 'first run dials the others');
    await first.sw.stop(); // the agent saves the book on stop
    await seed.sw.stop();
    const again = await tcpNode({ identity, pex: { seeds: [seed.address], storage } });
    expect(again.pex!.book.size()).toBeGreaterThanOrEqual(2);
    expect(again.pex!.book.entries().some((entry) => entry.bucketType === 'old')).toBe(true);
    await waitFor(() => again.sw.peers.some((peer) => othersIds.has(peer.id)), 10_000, 'reconnect from the saved book');
  });

  it('a flood of 10,000 addresses in responses leaves the book bounded and the flooder banned', async () => {
    // 40 responses of 250 to one request: the first is accepted, the second is unsolicited.
    const flood = fakeAddresses(10_000);
    const rogueAgent = new RogueAgent(() => Array.from({ length: 40 }, (_, i) => response(flood.slice(i * 250, (i + 1) * 250))));
    const rogue = await tcpNode({ pex: false, agents: { rogue: rogueAgent } });
    const honest = await tcpNode();
    const errors: MeshlinkError[] = [];
    honest.sw.on('peer:error', ({ error }) => errors.push(error as MeshlinkError));
    await honest.sw.dial(rogue.address);
    await waitFor(() => errors.length > 0 && honest.sw.peers.length === 0, 5000, 'flooder stopped');
    expect(errors[0]).toMatchObject({ code: 'ERR_PEX_UNSOLICITED_RESPONSE', peerId: rogue.sw.nodeId });
    expect(honest.sw.bans.isBanned(rogue.sw.nodeId)).toBe(true);
    expect(honest.pex!.book.size()).toBeLessThanOrEqual(251);
    expect(honest.pex!.stats().addressesReceived).toBe(250);
    await expect(honest.sw.dial(rogue.address)).rejects.toMatchObject({ code: 'ERR_BANNED' });
  });

  it('one oversized response (10,000 addresses, over the channel cap) gets the sender stopped and banned', async () => {
    const rogueAgent = new RogueAgent(() => [response(fakeAddresses(10_000))]);
    const rogue = await tcpNode({ pex: false, agents: { rogue: rogueAgent } });
    const honest = await tcpNode();
    const misbehaviours: string[] = [];
    honest.pex!.on('misbehaviour', ({ error }) => misbehaviours.push(error.code));
    await honest.sw.dial(rogue.address);
    await waitFor(() => misbehaviours.length > 0 && honest.sw.peers.length === 0, 5000, 'flooder stopped');
    expect(misbehaviours).toEqual(['ERR_MESSAGE_TOO_LARGE']);
    expect(honest.sw.bans.isBanned(rogue.sw.nodeId)).toBe(true);
    expect(honest.pex!.book.size()).toBe(0);
  });

  it('a seed-mode node hands out addresses and disconnects its inbound peers', async () => {
    const seed = await tcpNode({ pex: { seedMode: true, seedPeerMaxLifetimeMs: 800 } });
    const known = await tcpNode({ pex: { seeds: [seed.address] } });
    await waitFor(() => seed.pex!.book.has(known.sw.nodeId), 5000, 'seed learns a node');
    const disconnected: string[] = [];
    seed.sw.on('peer:disconnected', ({ peer }) => disconnected.push(peer.id));
    const newcomer = await tcpNode({ pex: { seeds: [seed.address] } });
    await waitFor(() => newcomer.pex!.book.has(known.sw.nodeId), 5000, 'newcomer learns from the seed');
    expect(newcomer.pex!.stats().responsesReceived).toBeGreaterThanOrEqual(1);
    await waitFor(() => disconnected.includes(newcomer.sw.nodeId), 2000, 'seed hangs up on the newcomer');
    // A peer that never asks is let go too, after seedPeerMaxLifetimeMs.
    const silent = await tcpNode({ pex: false, agents: { rogue: new RogueAgent() } });
    await silent.sw.dial(seed.address);
    await waitFor(() => disconnected.includes(silent.sw.nodeId), 3000, 'seed hangs up on a silent peer');
    expect(seed.sw.bans.isBanned(newcomer.sw.nodeId)).toBe(false);
  });
});
