import type { LinkTransport, NodeKind, TopologyNode } from '../agents/topology.js';

/**
 * The graph the page draws, built from what this node knows: its own peers (first-hand) and the
 * topology gossip (what other nodes say about their links). Pure, so it is tested without a browser.
 *
 * A node is live when it is this node, a direct peer, a node whose own announcement is current, or a
 * node that never announced (no topology agent) but that a current announcement links to. A node seen
 * before and not live now is gone: it stays on the graph, greyed, for GONE_VISIBLE_MS (relays the page
 * was told about stay for good), so that a relay going down is visible. Links are drawn between live
 * nodes only; this node's own links come from its peers, never from what others say about it.
 */

export type GraphKind = 'self' | NodeKind;
export type GraphState = 'live' | 'gone';

export interface GraphNode {
  id: string;
  moniker: string;
  kind: GraphKind;
  state: GraphState;
  /** A peer of this node. */
  direct: boolean;
}

export interface GraphLink {
  /** The smaller id of the two. */
  a: string;
  b: string;
  transport: LinkTransport;
}

export interface Graph {
  nodes: GraphNode[];
  links: GraphLink[];
}

export interface DirectPeer {
  id: string;
  moniker: string;
  transport: string;
  /** The peer's listen addresses (from its NodeInfo), to guess its kind before it announces. */
  listenAddresses: readonly string[];
}

export interface GraphInput {
  self: { id: string; moniker: string };
  peers: readonly DirectPeer[];
  /** Current entries of the topology table. */
  topology: readonly TopologyNode[];
  /** Relays this page was configured with: shown even while unreachable. */
  relays: readonly string[];
  now: number;
}

/** How long a node that went away stays on the graph, greyed. */
export const GONE_VISIBLE_MS = 60 * 1000;
/** Nodes remembered (live and gone); the oldest-seen are forgotten first. */
export const MAX_REMEMBERED_NODES = 256;
/** Nodes drawn, at most: this node, its peers and relays first. */
export const MAX_DRAWN_NODES = 96;
/**
 * Links drawn, at most: this node's own, then the others' in turns. Each is an SVG path that fades in
 * and out with a timer: announcements of made-up nodes linking to each other (up to 64 × 32, changed at
 * every announcement) made each render add and remove thousands.
 */
export const MAX_DRAWN_LINKS = 3 * MAX_DRAWN_NODES;
/**
 * Nodes known only because an announcement links to them (they never announced: a Node node without the
 * topology agent), at most, the first ones met. Links are a peer's word: one peer's announcements named
 * 32 made-up ids each, and as many of those as it liked took every place of the memory above, this
 * node, its peers and every real node included, so the page drew the made-up ones alone.
 */
export const MAX_LINKED_ONLY_NODES = 32;

const KIND_ORDER: Readonly<Record<GraphKind, number>> = { relay: 0, node: 1, self: 2, page: 3 };

interface Memory {
  moniker: string;
  kind: GraphKind;
  lastLiveAt: number;
  /** It ran the topology agent at some point: its liveness is its own announcement's. */
  announces: boolean;
}

export function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** A peer's kind before it says: WebSocket listeners serve pages (relays), TCP-only ones are nodes. */
export function guessKind(listenAddresses: readonly string[]): NodeKind {
  if (listenAddresses.some((address) => address.startsWith('ws://') || address.startsWith('wss://'))) return 'relay';
  if (listenAddresses.some((address) => address.startsWith('tcp://'))) return 'node';
  return 'page';
}

const KNOWN_TRANSPORTS: readonly string[] = ['tcp', 'ws', 'wss', 'webrtc', 'memory'];

export class MeshModel {
  private readonly memory = new Map<string, Memory>();

  update(input: GraphInput): Graph {
    const { self, peers, topology, relays, now } = input;
    const announced = new Map(topology.map((node) => [node.id, node]));
    const live = new Map<string, { moniker: string; kind: GraphKind; direct: boolean }>();
    live.set(self.id, { moniker: self.moniker, kind: 'self', direct: false });
    for (const peer of peers) {
      const entry = announced.get(peer.id);
      // First-hand facts (its announcement, else its listen addresses) over an earlier guess.
      live.set(peer.id, { moniker: entry?.moniker ?? peer.moniker, kind: entry?.kind ?? guessKind(peer.listenAddresses), direct: true });
    }
    for (const node of topology) if (!live.has(node.id)) live.set(node.id, { moniker: node.moniker, kind: node.kind, direct: false });
    const linkedOnly = new Map<string, { moniker: string; kind: GraphKind; direct: boolean }>();
    for (const node of topology) {
      for (const link of node.links) {
        if (linkedOnly.size >= MAX_LINKED_ONLY_NODES) break;
        if (live.has(link.peer) || linkedOnly.has(link.peer) || this.memory.get(link.peer)?.announces === true) continue;
        const memory = this.memory.get(link.peer);
        // Pages reach others over WebRTC or WebSocket; Node nodes link over TCP.
        linkedOnly.set(link.peer, { moniker: memory?.moniker ?? '', kind: memory?.kind ?? (link.transport === 'tcp' ? 'node' : 'page'), direct: false });
      }
    }

    // Linked-only nodes first, so that this node, its peers and the announced ones are remembered last.
    for (const [id, node] of [...linkedOnly, ...live]) {
      this.remember(id, { moniker: node.moniker, kind: node.kind, lastLiveAt: now, announces: announced.has(id) || this.memory.get(id)?.announces === true });
    }
    for (const [id, node] of linkedOnly) live.set(id, node);
    for (const id of relays) {
      if (!this.memory.has(id)) this.remember(id, { moniker: '', kind: 'relay', lastLiveAt: now, announces: false });
    }

    const nodes: GraphNode[] = [];
    for (const [id, memory] of this.memory) {
      const node = live.get(id);
      if (node !== undefined) nodes.push({ id, moniker: node.moniker, kind: node.kind, state: 'live', direct: node.direct });
      else if (relays.includes(id) || now - memory.lastLiveAt <= GONE_VISIBLE_MS) nodes.push({ id, moniker: memory.moniker, kind: memory.kind, state: 'gone', direct: false });
      else this.memory.delete(id);
    }
    const priority = (node: GraphNode): number => drawPriority(node) + (linkedOnly.has(node.id) ? 0.5 : 0);
    nodes.sort((x, y) => priority(x) - priority(y) || KIND_ORDER[x.kind] - KIND_ORDER[y.kind] || (x.id < y.id ? -1 : 1));
    const drawn = nodes.slice(0, MAX_DRAWN_NODES);
    const drawnIds = new Set(drawn.map((node) => node.id));

    const links = new Map<string, GraphLink>();
    const addLink = (from: string, to: string, transport: string): void => {
      const key = linkKey(from, to);
      if (from === to || links.has(key) || !KNOWN_TRANSPORTS.includes(transport)) return;
      if (!live.has(from) || !live.has(to) || !drawnIds.has(from) || !drawnIds.has(to)) return;
      links.set(key, { a: from < to ? from : to, b: from < to ? to : from, transport: transport as LinkTransport });
    };
    for (const peer of peers) addLink(self.id, peer.id, peer.transport);
    // What others say, in turns (each announcement's first link, then each one's second, …) up to the
    // cap: a node that announces many links gets no more of the drawing than one with few.
    const longest = Math.max(0, ...topology.map((node) => node.links.length));
    for (let i = 0; i < longest && links.size < MAX_DRAWN_LINKS; i++) {
      for (const node of topology) {
        const link = node.links[i];
        if (link !== undefined && link.peer !== self.id && links.size < MAX_DRAWN_LINKS) addLink(node.id, link.peer, link.transport);
      }
    }
    // Stable order (by kind, then id) so that every tab draws the same picture.
    drawn.sort((x, y) => KIND_ORDER[x.kind === 'self' ? 'page' : x.kind] - KIND_ORDER[y.kind === 'self' ? 'page' : y.kind] || (x.id < y.id ? -1 : 1));
    return { nodes: drawn, links: [...links.values()].sort((x, y) => (linkKey(x.a, x.b) < linkKey(y.a, y.b) ? -1 : 1)) };
  }

  private remember(id: string, memory: Memory): void {
    this.memory.delete(id);
    this.memory.set(id, memory);
    while (this.memory.size > MAX_REMEMBERED_NODES) {
      const oldest = this.memory.keys().next();
      if (oldest.done === true) break;
      this.memory.delete(oldest.value);
    }
  }
}

/**
 * Who is drawn first when there are too many: this node, its peers, relays, live before gone (and, in
 * update(), a node that announced itself before one only linked to, at the same rank).
 */
function drawPriority(node: GraphNode): number {
  if (node.kind === 'self') return 0;
  if (node.direct) return 1;
  if (node.kind === 'relay') return node.state === 'live' ? 2 : 3;
  return node.state === 'live' ? 4 : 5;
}
