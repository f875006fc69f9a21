import { afterEach, describe, expect, it } from 'vitest';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { ProtocolError } from '../../src/errors.js';
import type { Agent } from '../../src/switch/agent.js';
import { Peer } from '../../src/switch/peer.js';
import {
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_ANNOUNCEMENT_BYTES,
  MAX_LINKS_PER_ANNOUNCEMENT,
  MAX_MONIKER_BYTES,
  MAX_TOPOLOGY_HOPS,
  TopologyAgent,
  TopologyCh,
  truncateUtf8,
  type Announcement,
  type TopologyAgentOptions,
} from '../../demo/agents/topology.js';
import { TokenBucket } from '../../demo/agents/token-bucket.js';

afterEach(stopAll);

const id = (n: number): string => n.toString(16).padStart(40, '0');
const ORIGIN = 'ab'.repeat(20);

function announcement(overrides: Partial<Announcement> = {}): Announcement {
  return { origin: ORIGIN, seq: 1, moniker: 'amber-otter', kind: 'page', hops: 0, links: [{ peer: id(1), transport: 'webrtc' }], ...overrides };
}

function malformed(bytes: Uint8Array): string {
  try {
    decodeAnnouncement(bytes, 'cd'.repeat(20));
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('ERR_MALFORMED_MESSAGE');
    expect((error as ProtocolError).peerId).toBe('cd'.repeat(20));
    return (error as Error).message;
  }
  throw new Error('expected a malformed announcement');
}

describe('topology announcements on the wire', () => {
  it('round-trips, and the largest legal announcement fits the channel', () => {
    expect(decodeAnnouncement(encodeAnnouncement(announcement()))).toEqual(announcement());
    const largest = announcement({
      seq: Number.MAX_SAFE_INTEGER,
      moniker: 'm'.repeat(MAX_MONIKER_BYTES),
      hops: MAX_TOPOLOGY_HOPS,
      links: Array.from({ length: MAX_LINKS_PER_ANNOUNCEMENT }, (_, i) => ({ peer: id(i + 1), transport: 'webrtc' as const })),
    });
    const bytes = encodeAnnouncement(largest);
    expect(bytes.length).toBeLessThanOrEqual(MAX_ANNOUNCEMENT_BYTES);
    expect(decodeAnnouncement(bytes)).toEqual(largest);
  });

  it('refuses anything else with ERR_MALFORMED_MESSAGE', () => {
    const wire = (value: Record<string, unknown>): Uint8Array => {
      const { links, ...rest } = announcement();
      return encodeMessage({ ...rest, links: links.map((link) => [link.peer, link.transport]), ...value });
    };
    const { links: _links, ...withoutLinks } = announcement();
    const cases: [string, Uint8Array, RegExp][] = [
      ['not msgpack', Uint8Array.of(0xc1), /./],
      ['an array', encodeMessage([1, 2]), /not a map/],
      ['an extra key', wire({ extra: 1 }), /expected exactly the keys/],
      ['a missing key', encodeMessage(withoutLinks), /expected exactly the keys/],
      ['a bad origin', wire({ origin: 'not-an-id' }), /origin/],
      ['a negative seq', wire({ seq: -1 }), /seq/],
      ['a fractional seq', wire({ seq: 1.5 }), /seq/],
      ['a moniker over 64 bytes', wire({ moniker: 'é'.repeat(33) }), /./],
      ['an unknown kind', wire({ kind: 'robot' }), /kind/],
      ['too many hops', wire({ hops: MAX_TOPOLOGY_HOPS + 1 }), /hops/],
      ['too many links', wire({ links: Array.from({ length: MAX_LINKS_PER_ANNOUNCEMENT + 1 }, (_, i) => [id(i + 1), 'ws']) }), /./],
      ['a link that is no pair', wire({ links: [[id(1)]] }), /link is not/],
      ['a link without a node id', wire({ links: [['x', 'ws']] }), /node id/],
      ['a link to the origin', wire({ links: [[ORIGIN, 'ws']] }), /origin itself/],
      ['two links to one peer', wire({ links: [[id(1), 'ws'], [id(1), 'webrtc']] }), /two links/],
      ['an unknown transport', wire({ links: [[id(1), 'carrier-pigeon']] }), /transport/],
      ['nesting deeper than a link', wire({ links: [[[id(1)], 'ws']] }), /./],
      ['binary anywhere', wire({ moniker: new Uint8Array(4) }), /./],
      ['over the size limit', new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1).fill(0x90), /./],
    ];
    for (const [what, bytes, why] of cases) expect(malformed(bytes), what).toMatch(why);
  });

  it('truncates monikers by UTF-8 bytes without splitting a character', () => {
    expect(truncateUtf8('abc', 3)).toBe('abc');
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(new TextEncoder().encode(truncateUtf8('🦦'.repeat(40), MAX_MONIKER_BYTES)).length).toBe(64);
  });

  it('a token bucket allows its burst, then its rate', () => {
    let now = 0;
    const bucket = new TokenBucket(3, 2, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 500; // one token at 2/s
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
  });
});

/** Fast settings so that announcing, expiring and forgetting happen within a test. */
const FAST: Omit<TopologyAgentOptions, 'kind'> = { announceIntervalMs: 200, entryTtlMs: 800 };

interface TopologyNode extends TestNode {
  topology: TopologyAgent;
}

async function startTopologyNode(options: Partial<TopologyAgentOptions> = {}): Promise<TopologyNode> {
  const topology = new TopologyAgent({ kind: 'node', ...FAST, ...options });
  const node = await startNode({ agents: { topology }, moniker: options.moniker ?? '' });
  return { ...node, topology };
}

/** A peer that owns the topology channel (pull style, never read) so it can send anything on it. */
async function startRogue(): Promise<TestNode> {
  const rogue: Agent = { channels: [{ id: TopologyCh, sendQueueCapacity: 4096 }] };
  return startNode({ agents: { rogue } });
}

function errorsOf(node: TestNode): { peerId: string; code: string | undefined }[] {
  const errors: { peerId: string; code: string | undefined }[] = [];
  node.sw.on('peer:error', ({ peer, error }) => errors.push({ peerId: peer.id, code: (error as { code?: string }).code }));
  return errors;
}

describe('TopologyAgent', () => {
  it('gossips links along a line A-B-C: C learns A’s links through B, and forgets A after it leaves', async () => {
    const [a, b, c] = await Promise.all([startTopologyNode({ moniker: 'a' }), startTopologyNode({ moniker: 'b', kind: 'relay' }), startTopologyNode({ moniker: 'c' })]);
    await a.sw.dial(b.address);
    await c.sw.dial(b.address);
    const entry = (on: TopologyNode, of: TopologyNode) => on.topology.snapshot().nodes.find((node) => node.id === of.sw.nodeId);
    // B hands C what it knows (A) on connect, before its own next announcement: wait for both.
    await waitFor(() => entry(c, a) !== undefined && entry(a, c) !== undefined && entry(c, b)?.links.length === 2, 5000, 'a and c to learn of each other, and c of b with both links');
    expect(entry(c, a)).toMatchObject({ moniker: 'a', kind: 'node', hops: 2, via: b.sw.nodeId, links: [{ peer: b.sw.nodeId, transport: 'tcp' }] });
    expect(entry(c, b)).toMatchObject({ moniker: 'b', kind: 'relay', hops: 1, via: b.sw.nodeId });
    expect(entry(c, b)!.links.map((link) => link.peer).sort()).toEqual([a.sw.nodeId, c.sw.nodeId].sort());
    expect(c.topology.snapshot().self).toEqual({ id: c.sw.nodeId, moniker: 'c', kind: 'node', links: [{ peer: b.sw.nodeId, transport: 'tcp' }] });

    await a.sw.stop();
    await waitFor(() => entry(c, a) === undefined, 3000, 'a to expire at c');
    // B re-announced without A.
    await waitFor(() => entry(c, b)?.links.length === 1, 3000, 'b’s links without a');
    // The entry stops counting at its deadline; the next sweep (each tick) drops it.
    await waitFor(() => c.topology.stats().expired >= 1, 3000, 'the sweep to drop a');
  });

  it('lists at most maxLinks links in its own announcements', async () => {
    const hub = await startTopologyNode({ maxLinks: 2 });
    const others = await Promise.all([0, 1, 2].map(() => startTopologyNode()));
    for (const other of others) await other.sw.dial(hub.address);
    await waitFor(() => hub.sw.peers.length === 3, 3000, 'three peers');
    expect(hub.topology.ownLinks()).toHaveLength(2);
    const seen = (node: TopologyNode) => node.topology.snapshot().nodes.find((entry) => entry.id === hub.sw.nodeId);
    // The hub's first announcements listed the peers it had then; once all three are up, two of them.
    await waitFor(() => others.every((other) => seen(other)?.links.length === 2), 3000, 'everyone hears the hub with two links');
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const other of others) expect(seen(other)!.links).toHaveLength(2);
  });

  it('costs the sender its connection for a malformed announcement, or one with hops 0 from someone else', async () => {
    const hub = await startTopologyNode();
    const honest = await startTopologyNode();
    const garbage = await startRogue();
    const spoofer = await startRogue();
    const errors = errorsOf(hub);
    await honest.sw.dial(hub.address);
    const viaGarbage = await garbage.sw.dial(hub.address);
    const viaSpoofer = await spoofer.sw.dial(hub.address);
    await waitFor(() => hub.sw.peers.length === 3, 3000, 'three peers');

    expect(viaGarbage.trySend(TopologyCh, encodeMessage({ origin: garbage.sw.nodeId, links: 'lots' }))).toBe(true);
    expect(viaSpoofer.trySend(TopologyCh, encodeAnnouncement(announcement({ origin: honest.sw.nodeId, hops: 0, links: [] })))).toBe(true);
    await waitFor(() => hub.sw.peers.length === 1, 3000, 'the rogues dropped');
    expect(hub.sw.peers[0]!.id).toBe(honest.sw.nodeId);
    expect(errors).toEqual(
      expect.arrayContaining([
        { peerId: garbage.sw.nodeId, code: 'ERR_MALFORMED_MESSAGE' },
        { peerId: spoofer.sw.nodeId, code: 'ERR_SPOOFED_SENDER' },
      ]),
    );
  });

  it('rate-limits each peer, takes one origin at most every 500 ms, and caps the nodes it holds', async () => {
    const hub = await startTopologyNode({ maxNodes: 8, peerBurst: 20, peerRatePerSecond: 5, entryTtlMs: 60_000 });
    const rogue = await startRogue();
    const peer = await rogue.sw.dial(hub.address);
    await waitFor(() => hub.sw.peers.length === 1, 3000, 'connected');
    // Forwarded announcements (hops 1) of 50 made-up origins, plus 10 of one origin in a row.
    for (let i = 0; i < 10; i++) expect(peer.trySend(TopologyCh, encodeAnnouncement(announcement({ seq: i + 1, hops: 1 })))).toBe(true);
    for (let i = 0; i < 50; i++) expect(peer.trySend(TopologyCh, encodeAnnouncement(announcement({ origin: id(1000 + i), hops: 1, links: [] })))).toBe(true);
    await waitFor(() => hub.topology.stats().received === 60, 3000, 'all 60 processed');
    const stats = hub.topology.stats();
    // 20 in the burst (one or two more refilled meanwhile): 1 of the repeated origin (its 9 repeats
    // come too soon), then 7 new origins fill the table, and the next ones find it full.
    expect(stats.accepted).toBe(8);
    expect(stats.refusedFull).toBeGreaterThanOrEqual(3);
    expect(stats.rateLimited).toBeGreaterThanOrEqual(9 + 40 - 3);
    expect(stats.accepted + stats.refusedFull + stats.rateLimited + stats.ignored).toBe(60);
    expect(hub.topology.snapshot().nodes).toHaveLength(8);
    // Over the rate is not malformed: the peer stays.
    expect(hub.sw.peers).toHaveLength(1);
  });

  it('hands a new peer what it knows, and ignores what others say a direct peer said', async () => {
    const [a, b, c] = await Promise.all([startTopologyNode({ moniker: 'a' }), startTopologyNode({ moniker: 'b' }), startTopologyNode({ moniker: 'c' })]);
    await a.sw.dial(b.address);
    const known = (on: TopologyNode, of: TopologyNode) => on.topology.snapshot().nodes.find((node) => node.id === of.sw.nodeId);
    await waitFor(() => known(b, a) !== undefined, 3000, 'b to know a');
    await c.sw.dial(b.address);
    // C hears of A from B at once (hops 2), not only at B's next round.
    await waitFor(() => known(c, a) !== undefined, 3000, 'c to know a');
    expect(known(c, a)!.hops).toBe(2);
    // Once C and A are linked, C takes A's announcements only from A.
    await c.sw.dial(a.address);
    await waitFor(() => known(c, a)?.via === a.sw.nodeId, 3000, 'c to hear a directly');
    const ignoredBefore = c.topology.stats().ignored;
    await waitFor(() => c.topology.stats().ignored > ignoredBefore, 3000, 'a forwarded copy to be ignored');
    expect(known(c, a)).toMatchObject({ via: a.sw.nodeId, hops: 1 });
  });
});

describe('TopologyAgent passing announcements on', () => {
  it('encodes what it passes on once per announcement, for every peer and every newcomer', async () => {
    const hub = await startTopologyNode({ kind: 'relay', entryTtlMs: 60_000 });
    const listeners = await Promise.all([1, 2, 3].map(() => startTopologyNode()));
    for (const node of listeners) await node.sw.dial(hub.address);
    const rogue = await startRogue();
    const viaRogue = await rogue.sw.dial(hub.address);
    await waitFor(() => hub.sw.peers.length === 4, 3000, 'all connected');
    // What the hub hands its peers on the topology channel, by announcement origin (a newcomer's table
    // goes out before 'peer:connected', so every Peer's trySend is watched).
    const sent = new Map<string, Uint8Array[]>();
    const trySend = Peer.prototype.trySend;
    Peer.prototype.trySend = function (this: Peer, channelId: number, message: Uint8Array): boolean {
      if (channelId === TopologyCh && hub.sw.getPeer(this.id) === this) {
        const { origin } = decodeAnnouncement(message);
        sent.set(origin, [...(sent.get(origin) ?? []), message]);
      }
      return trySend.call(this, channelId, message);
    };
    try {
      const far = id(4242);
      const links = Array.from({ length: MAX_LINKS_PER_ANNOUNCEMENT }, (_, i) => ({ peer: id(i + 1), transport: 'webrtc' as const }));
      expect(viaRogue.trySend(TopologyCh, encodeAnnouncement(announcement({ origin: far, hops: 1, links })))).toBe(true);
      await waitFor(() => (sent.get(far)?.length ?? 0) === 3, 3000, 'the announcement passed on to the 3 other peers');
      // A newcomer is handed the table: the same bytes again.
      const newcomer = await startTopologyNode();
      await newcomer.sw.dial(hub.address);
      await waitFor(() => newcomer.topology.snapshot().nodes.some((node) => node.id === far), 3000, 'the newcomer to learn of it');
      const copies = sent.get(far)!;
      expect(copies).toHaveLength(4);
      expect(decodeAnnouncement(copies[0]!)).toMatchObject({ origin: far, hops: 2, links });
      // Before: encoded anew for each (4 encodes of 1.7 KB for one announcement).
      expect(new Set(copies).size).toBe(1);
    } finally {
      Peer.prototype.trySend = trySend;
    }
  });
});

describe('TopologyAgent at the hop limit', () => {
  // Regression (churn lab: 8 links dropped with ERR_MALFORMED_MESSAGE between restarted nodes): an entry
  // that arrived with hops MAX_TOPOLOGY_HOPS is kept but not forwarded; handing the table to a newcomer
  // sent it on anyway with hops + 1, which the newcomer's decoder refuses, dropping an honest peer.
  it('hands a newcomer only the entries that may travel one more link', async () => {
    const hub = await startTopologyNode({ entryTtlMs: 60_000 });
    const rogue = await startRogue();
    const viaRogue = await rogue.sw.dial(hub.address);
    const far = id(2000);
    const near = id(2001);
    expect(viaRogue.trySend(TopologyCh, encodeAnnouncement(announcement({ origin: far, hops: MAX_TOPOLOGY_HOPS, links: [] })))).toBe(true);
    expect(viaRogue.trySend(TopologyCh, encodeAnnouncement(announcement({ origin: near, hops: MAX_TOPOLOGY_HOPS - 1, links: [] })))).toBe(true);
    await waitFor(() => hub.topology.stats().accepted === 2, 3000, 'the hub to take both');

    const newcomer = await startTopologyNode();
    const errors = errorsOf(newcomer);
    await newcomer.sw.dial(hub.address);
    const knows = (origin: string): boolean => newcomer.topology.snapshot().nodes.some((node) => node.id === origin);
    await waitFor(() => knows(near), 3000, 'the newcomer to hear of the near origin');
    // Long enough for the far one to have arrived had it been sent.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(knows(far)).toBe(false);
    expect(errors).toEqual([]);
    expect(newcomer.sw.peers.map((peer) => peer.id)).toEqual([hub.sw.nodeId]);
  });
});

describe('TopologyAgent and peers that went away', () => {
  it('keeps what a former direct peer said, even forwarded later, only for a short grace', async () => {
    // entryTtlMs 60 s; the grace after losing a direct peer is two announcement intervals plus 500 ms.
    const hub = await startTopologyNode({ announceIntervalMs: 500, entryTtlMs: 60_000 });
    const leaver = await startTopologyNode({ moniker: 'leaver' });
    const rogue = await startRogue();
    await leaver.sw.dial(hub.address);
    const viaRogue = await rogue.sw.dial(hub.address);
    const known = (id: string): boolean => hub.topology.snapshot().nodes.some((node) => node.id === id);
    await waitFor(() => known(leaver.sw.nodeId), 3000, 'the hub to hear the leaver');
    await leaver.sw.stop();
    await waitFor(() => hub.sw.peers.length === 1, 3000, 'the leaver gone');
    // A neighbour forwards a newer announcement of the leaver, and one of a node that was never our
    // peer (after the 500 ms one origin must wait between announcements).
    await new Promise((resolve) => setTimeout(resolve, 600));
    const far = 'fa'.repeat(20);
    const accepted = hub.topology.stats().accepted;
    expect(viaRogue.trySend(TopologyCh, encodeAnnouncement(announcement({ origin: leaver.sw.nodeId, seq: Date.now() + 60_000, hops: 1 })))).toBe(true);
    expect(viaRogue.trySend(TopologyCh, encodeAnnouncement(announcement({ origin: far, hops: 1 })))).toBe(true);
    await waitFor(() => hub.topology.stats().accepted === accepted + 2, 3000, 'both to be accepted');
    const acceptedAt = Date.now();
    expect(known(leaver.sw.nodeId)).toBe(true);
    // The grace is 1.5 s; the bound tells it from the 60 s entry lifetime, with room for a loaded CI
    // machine (2.9 s measured there).
    await waitFor(() => !known(leaver.sw.nodeId), 20_000, 'the leaver to expire');
    expect(Date.now() - acceptedAt).toBeLessThan(20_000);
    expect(known(far)).toBe(true);
  });
});

describe('TopologyAgent and a forged sequence number', () => {
  it('one forwarded announcement with a huge seq hides an origin for one entry lifetime, not for good', async () => {
    // origin - hub - watcher - rogue: the rogue forwards the watcher a forged announcement of the origin.
    const [origin, hub, watcher] = await Promise.all([startTopologyNode({ moniker: 'origin' }), startTopologyNode({ moniker: 'hub' }), startTopologyNode({ moniker: 'watcher' })]);
    const rogue = await startRogue();
    await origin.sw.dial(hub.address);
    await watcher.sw.dial(hub.address);
    const viaRogue = await rogue.sw.dial(watcher.address);
    await waitFor(() => watcher.topology.snapshot().nodes.some((node) => node.id === origin.sw.nodeId && node.links.length > 0), 3000, 'the watcher to hear of the origin through the hub');
    const originLinks = (): number => watcher.topology.snapshot().nodes.find((node) => node.id === origin.sw.nodeId)?.links.length ?? 0;
    // Sent until it lands: one origin's announcements are taken at most once per 500 ms, the real ones come every 200 ms.
    const forgery = encodeAnnouncement(announcement({ origin: origin.sw.nodeId, seq: Number.MAX_SAFE_INTEGER, links: [], hops: 1 }));
    await waitFor(() => originLinks() === 0 || (viaRogue.trySend(TopologyCh, forgery) && false), 3000, 'the forgery (the origin without links) to be accepted');
    // The watcher passed it on to the hub, which from then on took the watcher to have the origin's
    // announcement "number 2^53 − 1" and sent it none of the origin's real ones (before: for good).
    await waitFor(() => originLinks() > 0, 4 * FAST.entryTtlMs!, 'the origin back on the watcher with its real links');
  });
});
