import { encodeMessage, isNodeId, resolveDecodeLimits } from '../../src/index.js';
import { peerText } from '../printable.js';
import { decodeExactMap } from './exact-map.js';

/**
 * The topology gossip's wire format (msgpack): `{ origin: <40-hex id>, seq: <uint>, moniker: <≤64 B>,
 * kind: 'page'|'relay'|'node', hops: <0..MAX_TOPOLOGY_HOPS>, links: [[<40-hex id>, <transport>], …] }`.
 * `seq` grows with every announcement of one origin (a millisecond clock, so a restarted node still
 * moves forward). Decoding uses tight msgpack limits; anything malformed is a ProtocolError.
 */

export const NODE_KINDS = ['page', 'relay', 'node'] as const;
/** A browser page, a Node node that serves pages (a WebSocket listener), or another Node node. */
export type NodeKind = (typeof NODE_KINDS)[number];
export const LINK_TRANSPORTS = ['tcp', 'ws', 'wss', 'webrtc', 'memory'] as const;
export type LinkTransport = (typeof LINK_TRANSPORTS)[number];

/** Links listed in one announcement, at most (a node with more peers lists the first ones). */
export const MAX_LINKS_PER_ANNOUNCEMENT = 32;
/** Links an announcement may travel. */
export const MAX_TOPOLOGY_HOPS = 8;
export const MAX_MONIKER_BYTES = 64;
/** Largest announcement: a full one is ~1.8 KB (see the tests). */
export const MAX_ANNOUNCEMENT_BYTES = 2 * 1024;

/** map of 6 (12 elements) plus the links: each an array of 2 (3 elements). */
const ANNOUNCEMENT_DECODE_LIMITS = resolveDecodeLimits({
  maxBytes: MAX_ANNOUNCEMENT_BYTES,
  maxDepth: 3,
  maxElements: 12 + 3 * MAX_LINKS_PER_ANNOUNCEMENT,
  maxStringBytes: MAX_MONIKER_BYTES,
  maxBinaryBytes: 0,
});
const ANNOUNCEMENT_KEYS = ['origin', 'seq', 'moniker', 'kind', 'hops', 'links'];

export interface TopologyLink {
  peer: string;
  transport: LinkTransport;
}

export interface Announcement {
  origin: string;
  seq: number;
  moniker: string;
  kind: NodeKind;
  /** Links travelled before the last one: 0 when the origin sent it to us itself. */
  hops: number;
  links: TopologyLink[];
}

export function encodeAnnouncement(announcement: Announcement): Uint8Array {
  const { origin, seq, moniker, kind, hops, links } = announcement;
  return encodeMessage({ origin, seq, moniker, kind, hops, links: links.map((link) => [link.peer, link.transport]) });
}

/** Decodes and validates an announcement; anything else is a ProtocolError ERR_MALFORMED_MESSAGE. */
export function decodeAnnouncement(bytes: Uint8Array, peerId?: string): Announcement {
  const { fields, bad } = decodeExactMap(bytes, ANNOUNCEMENT_DECODE_LIMITS, ANNOUNCEMENT_KEYS, 'topology announcement', peerId);
  const { origin, seq, moniker, kind, hops, links } = fields;
  if (!isNodeId(origin)) return bad('origin is not a node id');
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) return bad('seq is not an unsigned integer');
  if (typeof moniker !== 'string') return bad('moniker is not a string');
  if (!(NODE_KINDS as readonly unknown[]).includes(kind)) return bad(`kind must be one of ${NODE_KINDS.join(', ')}`);
  if (!Number.isInteger(hops) || (hops as number) < 0 || (hops as number) > MAX_TOPOLOGY_HOPS) return bad(`hops must be 0..${MAX_TOPOLOGY_HOPS}`);
  if (!Array.isArray(links)) return bad('links is not an array');
  if (links.length > MAX_LINKS_PER_ANNOUNCEMENT) return bad(`more than ${MAX_LINKS_PER_ANNOUNCEMENT} links`);
  const seen = new Set<string>();
  const parsed: TopologyLink[] = [];
  for (const link of links as unknown[]) {
    if (!Array.isArray(link) || link.length !== 2) return bad('a link is not [peer, transport]');
    const [peer, transport] = link as [unknown, unknown];
    if (!isNodeId(peer)) return bad('a link names no node id');
    if (peer === origin) return bad('a link to the origin itself');
    if (seen.has(peer)) return bad('two links to one peer');
    if (!(LINK_TRANSPORTS as readonly unknown[]).includes(transport)) return bad(`a link transport must be one of ${LINK_TRANSPORTS.join(', ')}`);
    seen.add(peer);
    parsed.push({ peer, transport: transport as LinkTransport });
  }
  // The page draws the moniker: control and bidi characters come out as U+FFFD (and are passed on so),
  // cut back to MAX_MONIKER_BYTES: three bytes each, they would have the next node refuse the announcement.
  return { origin, seq: seq as number, moniker: truncateUtf8(peerText(moniker), MAX_MONIKER_BYTES), kind: kind as NodeKind, hops: hops as number, links: parsed };
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8, without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}
