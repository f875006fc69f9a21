import type { Graph, GraphKind, GraphNode } from './graph-model.js';
import { linkKey } from './graph-model.js';

/**
 * Draws the mesh as plain SVG: relays in the middle, pages and Node nodes around them, links
 * coloured (and dashed) by transport. Elements are keyed by node id and link, so a link that opens
 * fades in and one that closes fades out (CSS transitions on opacity, see index.html), and nothing
 * else on the graph flickers. The order of the nodes comes from the model, so every tab draws the
 * same picture, each with itself highlighted.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 560;
const HEIGHT = 400;
const CENTER_X = WIDTH / 2;
const CENTER_Y = HEIGHT / 2 - 6;
const INNER_RADIUS = 72;
const OUTER_RADIUS = 160;
/** Matches the CSS transition of `.leaving`. */
const FADE_MS = 700;
const ENTER_DELAY_MS = 30;

interface Point {
  x: number;
  y: number;
}

function element<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function ring(count: number, radius: number, offset: number): Point[] {
  if (count === 1 && radius === INNER_RADIUS) return [{ x: CENTER_X, y: CENTER_Y }];
  return Array.from({ length: count }, (_, i) => {
    const angle = -Math.PI / 2 + offset + (2 * Math.PI * i) / count;
    return { x: CENTER_X + radius * Math.cos(angle), y: CENTER_Y + radius * Math.sin(angle) };
  });
}

/**
 * Relays in the middle (one: the centre; several: a small ring), everyone else on the outer ring,
 * Node nodes first: links to a relay then run along radii and never cross another node.
 */
export function layout(nodes: readonly GraphNode[]): Map<string, Point> {
  const inner = nodes.filter((node) => node.kind === 'relay');
  const outer = nodes.filter((node) => node.kind !== 'relay');
  const positions = new Map<string, Point>();
  // With no relay in the middle the pages take the inner ring's place as well.
  const outerRadius = inner.length === 0 ? OUTER_RADIUS - 20 : OUTER_RADIUS;
  ring(inner.length, INNER_RADIUS, inner.length > 1 ? Math.PI / inner.length : 0).forEach((point, i) => positions.set(inner[i]!.id, point));
  ring(outer.length, outerRadius, outer.length > 1 ? Math.PI / outer.length : 0).forEach((point, i) => positions.set(outer[i]!.id, point));
  return positions;
}

const KIND_WORDS: Readonly<Record<GraphKind, string>> = { self: 'this tab', page: 'tab', relay: 'relay', node: 'Node node' };

export class GraphView {
  private readonly linkLayer: SVGGElement;
  private readonly nodeLayer: SVGGElement;
  private readonly links = new Map<string, SVGPathElement>();
  private readonly nodes = new Map<string, SVGGElement>();

  constructor(svg: SVGSVGElement) {
    svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    this.linkLayer = element('g', { class: 'links' });
    this.nodeLayer = element('g', { class: 'nodes' });
    svg.append(this.linkLayer, this.nodeLayer);
  }

  render(graph: Graph): void {
    const positions = layout(graph.nodes);
    const liveNodes = new Set<string>();
    for (const node of graph.nodes) {
      const at = positions.get(node.id)!;
      liveNodes.add(node.id);
      let group = this.nodes.get(node.id);
      if (group === undefined) {
        group = this.createNode(node);
        this.nodes.set(node.id, group);
        this.nodeLayer.append(group);
        enter(group);
      }
      group.classList.remove('leaving');
      if (group.dataset['kind'] !== node.kind) this.reshape(group, node.kind);
      this.updateNode(group, node, at);
    }
    for (const [id, group] of this.nodes) if (!liveNodes.has(id)) this.leave(group, () => this.nodes.get(id) === group && this.nodes.delete(id));

    const liveLinks = new Set<string>();
    for (const link of graph.links) {
      const key = linkKey(link.a, link.b);
      const from = positions.get(link.a);
      const to = positions.get(link.b);
      if (from === undefined || to === undefined) continue;
      liveLinks.add(key);
      let line = this.links.get(key);
      if (line === undefined) {
        line = element('path');
        line.dataset['a'] = link.a;
        line.dataset['b'] = link.b;
        this.links.set(key, line);
        this.linkLayer.append(line);
        enter(line);
      }
      line.classList.remove('leaving');
      line.setAttribute('class', `link t-${link.transport === 'wss' ? 'ws' : link.transport}${line.classList.contains('entering') ? ' entering' : ''}`);
      line.dataset['transport'] = link.transport;
      line.setAttribute('d', linkPath(from, to));
    }
    for (const [key, line] of this.links) if (!liveLinks.has(key)) this.leave(line, () => this.links.get(key) === line && this.links.delete(key));
  }

  private createNode(node: GraphNode): SVGGElement {
    const group = element('g');
    group.dataset['id'] = node.id;
    const name = element('text', { y: 32, 'text-anchor': 'middle', class: 'name' });
    const role = element('text', { y: 45, 'text-anchor': 'middle', class: 'role' });
    group.append(element('title'), shapeOf(node.kind), name, role);
    group.dataset['kind'] = node.kind;
    return group;
  }

  /** A node's kind can change (a peer guessed from its addresses announces itself): so does its shape. */
  private reshape(group: SVGGElement, kind: GraphKind): void {
    group.children[1]?.replaceWith(shapeOf(kind));
    group.dataset['kind'] = kind;
  }

  private updateNode(group: SVGGElement, node: GraphNode, at: Point): void {
    group.setAttribute('class', `node k-${node.kind} s-${node.state}${group.classList.contains('entering') ? ' entering' : ''}`);
    group.setAttribute('transform', `translate(${at.x.toFixed(1)} ${at.y.toFixed(1)})`);
    group.dataset['state'] = node.state;
    const [title, , name, role] = Array.from(group.children) as unknown as [SVGTitleElement, SVGElement, SVGTextElement, SVGTextElement];
    const words = KIND_WORDS[node.kind];
    title.textContent = `${words}${node.moniker === '' ? '' : ` ${node.moniker}`}, ${node.id}${node.state === 'gone' ? ' (gone)' : ''}`;
    name.textContent = node.moniker === '' ? `${node.id.slice(0, 8)}…` : node.moniker;
    const roleText = node.state === 'gone' ? `${words}, gone` : node.kind === 'page' ? '' : words;
    role.textContent = roleText === name.textContent ? '' : roleText;
  }

  private leave(item: SVGElement, forget: () => void): void {
    if (item.classList.contains('leaving')) return;
    item.classList.add('leaving');
    setTimeout(() => {
      if (!item.classList.contains('leaving')) return;
      item.remove();
      forget();
    }, FADE_MS);
  }
}

/** Share of a link's length by which a link between two outer nodes bows sideways. */
const BOW = 0.2;

/**
 * A link to a node in the middle is straight (a radius); one between two outer nodes bows sideways, so
 * that it never runs through the middle, where it would hide two links to a relay.
 */
function linkPath(from: Point, to: Point): string {
  const atCentre = (p: Point): boolean => Math.hypot(p.x - CENTER_X, p.y - CENTER_Y) < INNER_RADIUS + 1;
  const start = `M ${from.x.toFixed(1)} ${from.y.toFixed(1)}`;
  if (atCentre(from) || atCentre(to)) return `${start} L ${to.x.toFixed(1)} ${to.y.toFixed(1)}`;
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  // The normal that points away from the centre (either one for a diameter).
  let nx = -dy * BOW;
  let ny = dx * BOW;
  const midX = (from.x + to.x) / 2;
  const midY = (from.y + to.y) / 2;
  if ((midX - CENTER_X) * nx + (midY - CENTER_Y) * ny < 0) [nx, ny] = [-nx, -ny];
  return `${start} Q ${(midX + nx).toFixed(1)} ${(midY + ny).toFixed(1)} ${to.x.toFixed(1)} ${to.y.toFixed(1)}`;
}

function shapeOf(kind: GraphKind): SVGElement {
  const shape =
    kind === 'relay' ? element('rect', { x: -16, y: -16, width: 32, height: 32, rx: 7 })
    : kind === 'node' ? element('rect', { x: -12, y: -12, width: 24, height: 24, rx: 2, transform: 'rotate(45)' })
    : element('circle', { r: kind === 'self' ? 17 : 14 });
  shape.setAttribute('class', 'shape');
  return shape;
}

/** Starts transparent and fades in (the class is removed after the element was laid out once). */
function enter(item: SVGElement): void {
  item.classList.add('entering');
  setTimeout(() => item.classList.remove('entering'), ENTER_DELAY_MS);
}

/** One sentence for screen readers and the caption: who is on the graph and how they are linked. */
export function describeGraph(graph: Graph): string {
  const count = (kind: GraphKind, state = 'live'): number => graph.nodes.filter((node) => node.kind === kind && node.state === state).length;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const parts = [`this tab`, plural(count('page'), 'other tab'), plural(count('relay'), 'relay')];
  if (count('node') > 0) parts.push(plural(count('node'), 'Node node'));
  const byTransport = new Map<string, number>();
  for (const link of graph.links) byTransport.set(link.transport, (byTransport.get(link.transport) ?? 0) + 1);
  const names: Record<string, string> = { webrtc: 'WebRTC', ws: 'WebSocket', wss: 'WebSocket', tcp: 'TCP', memory: 'memory' };
  const links = [...byTransport].map(([transport, n]) => `${n} ${names[transport] ?? transport}`).join(', ');
  const gone = graph.nodes.filter((node) => node.state === 'gone');
  const goneText = gone.length === 0 ? '' : ` Gone: ${gone.map((node) => (node.moniker === '' ? `${node.id.slice(0, 8)}…` : node.moniker)).join(', ')}.`;
  return `${parts.join(', ')}; ${plural(graph.links.length, 'link')}${links === '' ? '' : ` (${links})`}.${goneText}`;
}
