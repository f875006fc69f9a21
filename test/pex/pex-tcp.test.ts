import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { FileStorage } from '../../platforms/node/file-storage.js';
import { loadOrCreateNodeKey } from '../../src/crypto/keys.js';
import type { MeshlinkError } from '../../src/errors.js';
import { waitFor } from '../helpers/wait.js';
import { AddressBook } from '../../src/pex/address-book.js';
import { networkGroupOf } from '../../src/pex/pex-dial-planner.js';
import { fakeAddresses, RogueAgent, response, startPexNode, stopPexNodes, type PexNode } from './pex-helpers.js';

const homes: string[] = [];
afterEach(async () => {
  await stopPexNodes();
  await Promise.all(homes.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * Each node listens in a /16 of its own (127.0.0.0/8 all routes to lo on Linux), so the one-outbound-
 * per-network-group rule sees as many groups as there are nodes, as on the internet.
 */
let nextGroup = 1;
function loopbackInOwnGroup(): string {
  nextGroup = (nextGroup % 250) + 1;
  return `tcp://127.${nextGroup}.0.1:0`;
}

function tcpNode(options: Omit<Parameters<typeof startPexNode>[0], 'transports' | 'listen'> = {}): Promise<PexNode> {
  return startPexNode({ transports: [tcpTransport()], listen: loopbackInOwnGroup(), ...options });
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

  it('a restarted node gets back to its outbound target from its saved book and anchors, with no seed', async () => {
    const home = await mkdtemp(join(tmpdir(), 'meshlink-pex-'));
    homes.push(home);
    const storage = new FileStorage(home);
    const identity = await loadOrCreateNodeKey(storage);
    // Plain listeners: they never dial, so every connection of `first` to them is its own outbound one.
    const others = await Promise.all(Array.from({ length: 5 }, () => tcpNode({ pex: false })));
    const othersIds = new Set(others.map((node) => node.sw.nodeId));
    const target = 3;
    const outboundToOthers = (node: PexNode): string[] =>
      node.sw.peers.filter((peer) => peer.direction === 'outbound' && othersIds.has(peer.id)).map((peer) => peer.address);
    const first = await tcpNode({ identity, pex: { storage, feelerIntervalMs: 0 }, switchOptions: { maxOutbound: target } });
    for (const other of others) first.pex!.book.addAddress(other.address, other.address);
    await waitFor(() => outboundToOthers(first).length >= target, 15_000, 'first run reaches its outbound target');
    const outboundAtStop = outboundToOthers(first);
    await first.sw.stop(); // the agent saves the book, anchors included, on stop

    const saved = new AddressBook({ storage, allowLocal: true });
    await saved.load();
    const anchors = saved.anchors();
    expect(anchors).toHaveLength(2); // DEFAULT_MAX_ANCHORS
    for (const anchor of anchors) expect(outboundAtStop).toContain(anchor);

    const again = await tcpNode({ identity, pex: { storage, feelerIntervalMs: 0 }, switchOptions: { maxOutbound: target } });
    expect(again.pex!.config.seeds).toEqual([]); // nothing to bootstrap from but the saved book
    await waitFor(() => outboundToOthers(again).length >= target, 15_000, 'the restarted node reaches its outbound target');
    expect(again.pex!.stats()).toMatchObject({ anchorDials: 2, seedDials: 0 });
    for (const anchor of anchors) expect(outboundToOthers(again)).toContain(anchor);
  });

  it('a node whose PEX answers all name one /16 fills its outbound slots from other groups: one peer from that /16', async () => {
    // Eight colluders in 127.77.0.0/16 answer every request with each other and three honest nodes.
    const honest = await Promise.all(Array.from({ length: 3 }, () => tcpNode({ pex: false })));
    const answer: string[] = [];
    const colluders = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        startPexNode({
          transports: [tcpTransport()],
          listen: `tcp://127.77.0.${i + 1}:0`,
          pex: false,
          agents: { rogue: new RogueAgent(() => [response(answer)]) },
        }),
      ),
    );
    answer.push(...colluders.map((node) => node.address), ...honest.map((node) => node.address));
    const colluderIds = new Set(colluders.map((node) => node.sw.nodeId));
    const victim = await tcpNode({ pex: { feelerIntervalMs: 0 }, switchOptions: { maxOutbound: 4 } });
    await victim.sw.dial(colluders[0]!.address); // its only way into the network is the attacker's /16
    const outbound = (): PexNode['sw']['peers'] => victim.sw.peers.filter((peer) => peer.direction === 'outbound');
    await waitFor(() => outbound().length >= 4, 15_000, 'the victim reaches its outbound target');
    expect(victim.pex!.book.entries().filter((entry) => colluderIds.has(entry.nodeId))).toHaveLength(8);
    // Several more rounds: the rule holds while the victim keeps topping up.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const peers = outbound();
    expect(peers.filter((peer) => colluderIds.has(peer.id))).toHaveLength(1);
    const groups = peers.map((peer) => networkGroupOf(peer.address));
    expect(new Set(groups).size).toBe(groups.length);
    expect(groups.filter((group) => group === 'ipv4:127.77')).toHaveLength(1);
  });

  it('a node we reached that now only dials us keeps its entry confirmed by connecting (its own key, the address we reached)', async () => {
    // No outbound slots: the node must not dial it itself.
    const node = await tcpNode({ pex: { bookOptions: { firstHandLapseMs: 1000 } }, switchOptions: { maxOutbound: 0 } });
    const reached = await tcpNode({ pex: false });
    const book = node.pex!.book;
    book.addAddress(reached.address, reached.address);
    book.markAttempt(reached.address);
    book.markGood(reached.address);
    // Unconfirmed for longer than the lapse (the day, shortened here): no longer handed out.
    await waitFor(() => book.hasLapsed(reached.address), 5000, 'the entry lapsed');
    await reached.sw.dial(node.address);
    await waitFor(() => node.sw.peers.some((peer) => peer.id === reached.sw.nodeId && peer.direction === 'inbound'), 5000, 'the inbound peer');
    // Before: it stayed lapsed, however often the node connected to us.
    expect(book.hasLapsed(reached.address)).toBe(false);
  });

  it('feeler connections move new addresses to the tried table while the outbound slots are full', async () => {
    const targets = await Promise.all(Array.from({ length: 4 }, () => tcpNode({ pex: false })));
    const node = await tcpNode({ pex: { feelerIntervalMs: 300 }, switchOptions: { maxOutbound: 1 } });
    const book = node.pex!.book;
    for (const target of targets) expect(book.addAddress(target.address, target.address)).toBe(true);
    await waitFor(() => book.entries().every((entry) => entry.bucketType === 'old'), 15_000, 'every address tried');
    expect(node.pex!.stats().feelers).toBeGreaterThanOrEqual(3);
    // Feelers are closed once up: the node is back to its one outbound peer.
    await waitFor(() => node.sw.peers.filter((peer) => peer.direction === 'outbound').length === 1, 5000, 'feelers closed');
  });
});
