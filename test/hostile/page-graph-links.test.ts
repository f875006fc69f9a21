/**
 * The demo page's graph (MeshModel) draws, besides the announced nodes, the nodes an announcement links
 * to that never announced themselves (a Node node without the topology agent). Links are a peer's word:
 * announcements listing 32 made-up ids each took every place of the model's memory (256), so the page
 * drew 96 made-up nodes, no link, and neither itself nor any real node. Pure: the model alone.
 */
import { describe, expect, it } from 'vitest';
import type { TopologyNode } from '../../demo/agents/topology.js';
import { MAX_DRAWN_LINKS, MAX_LINKED_ONLY_NODES, MeshModel } from '../../demo/web/graph-model.js';

const SELF = '00'.repeat(20);
const RELAY = 'ee'.repeat(20);
const TAB = 'bb'.repeat(20);
const REAL = 'fa'.repeat(20);
const hex = (n: number): string => n.toString(16).padStart(40, '0');

describe('announcements linking to made-up nodes, on the demo page’s graph', () => {
  it('add at most 32 linked-only nodes, drawn after this tab, its peers and every announced node', () => {
    const ghostLinks = (o: number): TopologyNode['links'] => Array.from({ length: 32 }, (_, l) => ({ peer: hex(o * 32 + l + 1), transport: 'webrtc' }));
    const topology: TopologyNode[] = [
      // A share of the table: 60 made-up origins, each linking to 32 more made-up ids (1,920).
      ...Array.from({ length: 60 }, (_, o): TopologyNode => ({ id: hex(0x100000 + o), moniker: '', kind: 'page', hops: 2, ageMs: 0, via: RELAY, links: ghostLinks(o) })),
      { id: REAL, moniker: 'real', kind: 'page', hops: 2, ageMs: 0, via: RELAY, links: [{ peer: RELAY, transport: 'ws' }] },
    ];
    const model = new MeshModel();
    const peers = [
      { id: RELAY, moniker: 'relay', transport: 'ws', listenAddresses: [] },
      { id: TAB, moniker: 'tab', transport: 'webrtc', listenAddresses: [] },
    ];
    for (let now = 1e6; now < 1e6 + 3000; now += 1000) {
      const graph = model.update({ self: { id: SELF, moniker: 'me' }, peers, topology, relays: [RELAY], now });
      const ids = new Set(graph.nodes.map((node) => node.id));
      // Before: 96 made-up nodes, 0 links, and neither this tab, its tab peer nor the real node.
      for (const id of [SELF, RELAY, TAB, REAL]) expect(ids.has(id), id).toBe(true);
      const linkedOnly = graph.nodes.filter((node) => node.id !== SELF && Number.parseInt(node.id, 16) <= 60 * 32);
      expect(linkedOnly.length).toBeLessThanOrEqual(MAX_LINKED_ONLY_NODES);
      expect(graph.links.map((link) => `${link.a}-${link.b}`)).toEqual(expect.arrayContaining([`${SELF}-${RELAY}`, `${SELF}-${TAB}`, `${RELAY}-${REAL}`]));
    }
  });

  it('draws at most 288 links, this tab’s own first and the others’ in turns', () => {
    // 63 announced made-up origins, each linking to the next 32 of them.
    const ghosts = Array.from({ length: 63 }, (_, o) => hex(0x100000 + o));
    const topology: TopologyNode[] = ghosts.map((id, o): TopologyNode => ({
      id,
      moniker: '',
      kind: 'page',
      hops: 2,
      ageMs: 0,
      via: RELAY,
      links: Array.from({ length: 32 }, (_, l) => ({ peer: ghosts[(o + l + 1) % ghosts.length]!, transport: 'webrtc' })),
    }));
    topology.push({ id: REAL, moniker: 'real', kind: 'page', hops: 2, ageMs: 0, via: RELAY, links: [{ peer: RELAY, transport: 'ws' }] });
    const graph = new MeshModel().update({ self: { id: SELF, moniker: 'me' }, peers: [{ id: RELAY, moniker: 'relay', transport: 'ws', listenAddresses: [] }], topology, relays: [RELAY], now: 1e6 });
    // Before: 1,955 links, each an SVG path and its fade timers, made anew at every render once the
    // made-up links change (each origin may announce every 500 ms).
    expect(graph.links.length).toBeLessThanOrEqual(MAX_DRAWN_LINKS);
    expect(graph.links.map((link) => `${link.a}-${link.b}`)).toEqual(expect.arrayContaining([`${SELF}-${RELAY}`, `${RELAY}-${REAL}`]));
  });
});
