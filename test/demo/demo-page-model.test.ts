import { describe, expect, it } from 'vitest';
import type { TopologyNode } from '../../demo/agents/topology.js';
import { GONE_VISIBLE_MS, guessKind, MeshModel, type DirectPeer, type GraphInput } from '../../demo/web/graph-model.js';
import { friendlyName } from '../../demo/web/names.js';
import { describeConnection, type ConnectionState } from '../../demo/web/status-text.js';
import { TrafficMeter } from '../../demo/web/traffic.js';
import type { PeerStatus } from '../../src/index.js';

// The demo page's pure parts: the graph it draws, its connection sentences, its traffic counters.

const SELF = '00'.repeat(20);
const RELAY = 'ee'.repeat(20);
const TAB_B = 'bb'.repeat(20);
const TAB_C = 'cc'.repeat(20);
const ALICE = 'a1'.repeat(20);

const relayPeer: DirectPeer = { id: RELAY, moniker: 'relay', transport: 'ws', listenAddresses: [`tcp://${RELAY}@127.0.0.1:1`, `ws://${RELAY}@127.0.0.1:2/`] };
const tabPeer = (id: string): DirectPeer => ({ id, moniker: 'tab', transport: 'webrtc', listenAddresses: [`webrtc://${id}`] });
const entry = (id: string, kind: TopologyNode['kind'], links: TopologyNode['links']): TopologyNode => ({ id, moniker: id.slice(0, 2), kind, hops: 1, ageMs: 0, via: RELAY, links });

function input(overrides: Partial<GraphInput>): GraphInput {
  return { self: { id: SELF, moniker: 'me' }, peers: [], topology: [], relays: [RELAY], now: 1_000_000, ...overrides };
}

describe('the demo graph (MeshModel)', () => {
  it('draws this tab, its peers and what the topology gossip says, with links between live nodes only', () => {
    const model = new MeshModel();
    const graph = model.update(
      input({
        peers: [relayPeer, tabPeer(TAB_B)],
        topology: [
          entry(RELAY, 'relay', [{ peer: SELF, transport: 'ws' }, { peer: TAB_B, transport: 'ws' }, { peer: TAB_C, transport: 'ws' }, { peer: ALICE, transport: 'tcp' }]),
          entry(TAB_C, 'page', [{ peer: RELAY, transport: 'ws' }, { peer: TAB_B, transport: 'webrtc' }]),
          // What another node says about this tab is not taken: this tab knows its own links.
          entry(TAB_B, 'page', [{ peer: SELF, transport: 'tcp' }, { peer: RELAY, transport: 'ws' }]),
        ],
      }),
    );
    expect(graph.nodes.map((n) => [n.id, n.kind, n.state, n.direct])).toEqual([
      [RELAY, 'relay', 'live', true],
      [ALICE, 'node', 'live', false], // never announced, but a live announcement links to it over TCP
      [SELF, 'self', 'live', false],
      [TAB_B, 'page', 'live', true],
      [TAB_C, 'page', 'live', false],
    ]);
    const links = graph.links.map((l) => `${l.a.slice(0, 2)}-${l.b.slice(0, 2)} ${l.transport}`).sort();
    expect(links).toEqual(['00-bb webrtc', '00-ee ws', 'a1-ee tcp', 'bb-cc webrtc', 'bb-ee ws', 'cc-ee ws'].sort());
  });

  it('marks the relay gone when it is neither a peer nor announcing, and keeps it on the graph', () => {
    const model = new MeshModel();
    const now = 1_000_000;
    model.update(input({ now, peers: [relayPeer, tabPeer(TAB_B)], topology: [entry(RELAY, 'relay', [{ peer: TAB_B, transport: 'ws' }])] }));
    // The relay died: gone from this tab's peers and its announcement expired; B's old announcement still names it.
    const after = model.update(input({ now: now + 1000, peers: [tabPeer(TAB_B)], topology: [entry(TAB_B, 'page', [{ peer: RELAY, transport: 'ws' }])] }));
    expect(after.nodes.find((n) => n.id === RELAY)).toMatchObject({ kind: 'relay', state: 'gone' });
    expect(after.links.map((l) => l.transport)).toEqual(['webrtc']);
    // Long after, the configured relay is still shown (gone); other gone nodes are forgotten.
    const later = model.update(input({ now: now + GONE_VISIBLE_MS + 2000, peers: [], topology: [] }));
    expect(later.nodes.map((n) => [n.id, n.state])).toEqual([
      [RELAY, 'gone'],
      [SELF, 'live'],
    ]);
    // And it is live again when it comes back.
    expect(model.update(input({ now: now + GONE_VISIBLE_MS + 3000, peers: [relayPeer] })).nodes.find((n) => n.id === RELAY)?.state).toBe('live');
  });

  it('shows a relay the page was configured with before it ever connected, and guesses kinds from listen addresses', () => {
    expect(new MeshModel().update(input({})).nodes.map((n) => [n.id, n.kind, n.state])).toEqual([
      [RELAY, 'relay', 'gone'],
      [SELF, 'self', 'live'],
    ]);
    expect(guessKind([`ws://${RELAY}@h:1/`])).toBe('relay');
    expect(guessKind([`tcp://${RELAY}@h:1`])).toBe('node');
    expect(guessKind([`webrtc://${RELAY}`])).toBe('page');
  });
});

describe('the demo page’s connection sentences', () => {
  const base: ConnectionState = { phase: 'running', relayConnected: true, directPeers: 3, farNodes: 0, everConnected: true, retryInMs: undefined };
  it('says what the tab is connected to, and when it retries', () => {
    expect(describeConnection({ ...base, phase: 'starting' })).toBe('Starting this tab’s node…');
    expect(describeConnection(base)).toBe('Connected to the relay and 3 peers directly.');
    expect(describeConnection({ ...base, directPeers: 1, farNodes: 2 })).toBe('Connected to the relay and 1 peer directly (2 more nodes known through them).');
    expect(describeConnection({ ...base, directPeers: 0 })).toMatch(/^Connected to the relay; no other peers yet/);
    expect(describeConnection({ ...base, relayConnected: false, retryInMs: 3400 })).toBe('Relay down: 3 direct peers still connected, retrying in 4 s.');
    expect(describeConnection({ ...base, relayConnected: false, directPeers: 1, retryInMs: 100 })).toBe('Relay down: 1 direct peer still connected, reconnecting now.');
    expect(describeConnection({ ...base, relayConnected: false, directPeers: 0, retryInMs: 2000 })).toBe('Relay down and no direct peers: retrying in 2 s.');
    expect(describeConnection({ ...base, relayConnected: false, directPeers: 0, everConnected: false })).toBe('Connecting to the relay…');
    expect(describeConnection({ ...base, phase: 'failed', problem: 'the relay did not answer' })).toBe('This tab’s node could not start: the relay did not answer.');
  });

  it('names a node after its id, the same way every time', () => {
    expect(friendlyName(SELF)).toMatch(/^[a-z]+-[a-z]+$/);
    expect(friendlyName(TAB_B)).toBe(friendlyName(TAB_B));
    expect(friendlyName(TAB_B)).not.toBe(friendlyName(TAB_C));
  });
});

describe('the demo page’s traffic meter', () => {
  const status = (id: string, messages: number, bytes: number): PeerStatus =>
    ({
      id,
      sentBytes: bytes,
      receivedBytes: 2 * bytes,
      channels: [{ id: 0x32, name: 'chat', priority: 1, sendQueueLength: 0, sendQueueCapacity: 1, sentMessages: messages, sentBytes: bytes, receivedMessages: 2 * messages, receivedBytes: 2 * bytes }],
    }) as unknown as PeerStatus;

  it('keeps the counts of peers that left, and turns totals into rates per second', () => {
    const meter = new TrafficMeter();
    meter.sample([status('a', 10, 1000)], 0);
    const rates = meter.sample([status('a', 30, 3000), status('b', 5, 500)], 2000);
    expect(rates).toMatchObject({ messagesOut: (30 + 5 - 10) / 2, messagesIn: (60 + 10 - 20) / 2, bytesOut: (3000 + 500 - 1000) / 2, bytesIn: (6000 + 1000 - 2000) / 2 });
    meter.retire('a@1', status('a', 30, 3000));
    meter.retire('a@1', status('a', 30, 3000)); // once only
    const { all, channels } = meter.totals([status('b', 5, 500)]);
    expect(all).toEqual({ sentMessages: 35, receivedMessages: 70, sentBytes: 3500, receivedBytes: 7000 });
    expect(channels).toEqual([{ id: 0x32, name: 'chat', sentMessages: 35, receivedMessages: 70, sentBytes: 3500, receivedBytes: 7000 }]);
    for (let i = 0; i < 100; i++) meter.sample([], 3000 + i * 1000);
    expect(meter.history()).toHaveLength(60);
  });

  it('remembers a bounded number of connections that left: peers with fresh keys coming and going cannot grow it', () => {
    const meter = new TrafficMeter();
    for (let i = 0; i < 20_000; i++) meter.retire(`${i.toString(16).padStart(40, '0')}@${i}`, status('x', 1, 10));
    const remembered = (meter as unknown as { retiredPeers: { size: number } }).retiredPeers.size;
    expect(remembered, 'connections remembered').toBeLessThanOrEqual(1024);
    expect(meter.totals([]).all.sentMessages).toBe(20_000);
  });
});
