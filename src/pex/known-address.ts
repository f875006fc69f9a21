import { formatAddress, parseAddress, type PeerAddress } from '../transport/address.js';
import { canonicalHost, sameHostKey } from '../transport/ip.js';
import {
  FAILURE_WINDOW_AFTER_SUCCESS_MS,
  MAX_ATTEMPTS_WITHOUT_SUCCESS,
  MAX_FAILURES_SINCE_SUCCESS,
  RECENT_ATTEMPT_GRACE_MS,
  STALE_AFTER_MS,
} from './constants.js';

export type BucketType = 'new' | 'old';

/** What the book knows about one address. Times are milliseconds from the book's clock; 0 means never. */
export interface KnownAddressInfo {
  /** Canonical address string, always with a node id. */
  readonly address: string;
  readonly nodeId: string;
  /** Node id or address of whoever first told us about it (the address itself for seeds/config). */
  readonly source: string;
  /** Network group of the address (see transport/ip.ts): buckets and outbound diversity use it. */
  readonly group: string;
  /** Failed or pending dials since the last success. */
  readonly attempts: number;
  readonly lastAttempt: number;
  readonly lastSuccess: number;
  /** Last time a peer advertised it to us or we connected to it. */
  readonly lastSeen: number;
  /** When this node id was last banned (kept after the ban ends). */
  readonly lastBanTime: number;
  /** 'new': heard of, never connected; 'old': connected at least once. */
  readonly bucketType: BucketType;
  /** Bucket indices: 1..maxNewBucketsPerAddress new buckets, or exactly one old bucket. */
  readonly buckets: readonly number[];
  /** Judged bad (stale or failing): evicted first, left out of getSelection. */
  readonly bad: boolean;
}

/** The book's mutable record; never handed out (callers get KnownAddressInfo copies). */
export interface KnownAddress {
  readonly address: string;
  readonly nodeId: string;
  readonly source: string;
  readonly group: string;
  readonly sourceGroup: string;
  /** Node id the source names ('' for none): equal to nodeId when the node told us about itself. */
  readonly sourceNodeId: string;
  attempts: number;
  lastAttempt: number;
  lastSuccess: number;
  lastSeen: number;
  lastBanTime: number;
  bucketType: BucketType;
  buckets: number[];
  /** Position in the book's flat list, for O(1) removal and uniform sampling. */
  index: number;
  /** Position in the book's list of first-hand entries (see isFirstHand), -1 when not in it. */
  firstHandIndex: number;
}

/**
 * CometBFT's isBad, with staleness measured from when the address was last advertised rather than
 * last attempted (an address nobody has tried yet is not bad for that alone). Old entries proved
 * themselves once, so only repeated failures long after that success make them bad.
 */
export function isBad(entry: KnownAddress, nowMs: number): boolean {
  if (entry.lastAttempt > 0 && nowMs - entry.lastAttempt < RECENT_ATTEMPT_GRACE_MS) return false;
  if (entry.bucketType === 'new') {
    if (entry.lastSuccess === 0 && nowMs - entry.lastSeen > STALE_AFTER_MS) return true;
    if (entry.lastSuccess === 0 && entry.attempts >= MAX_ATTEMPTS_WITHOUT_SUCCESS) return true;
  }
  return (
    entry.lastSuccess > 0 &&
    nowMs - entry.lastSuccess > FAILURE_WINDOW_AFTER_SUCCESS_MS &&
    entry.attempts >= MAX_FAILURES_SINCE_SUCCESS
  );
}

/** Reached by us once, or heard of from the node itself: worth handing to others first. */
export function isFirstHand(entry: KnownAddress): boolean {
  return entry.lastSuccess > 0 || entry.sourceNodeId === entry.nodeId;
}

/** How recently the entry proved useful: when we last heard of it (new) or last reached it (old). */
export function freshness(entry: KnownAddress): number {
  return entry.bucketType === 'old' ? entry.lastSuccess : Math.max(entry.lastSeen, entry.lastSuccess);
}

export function toInfo(entry: KnownAddress, nowMs: number): KnownAddressInfo {
  return {
    address: entry.address,
    nodeId: entry.nodeId,
    source: entry.source,
    group: entry.group,
    attempts: entry.attempts,
    lastAttempt: entry.lastAttempt,
    lastSuccess: entry.lastSuccess,
    lastSeen: entry.lastSeen,
    lastBanTime: entry.lastBanTime,
    bucketType: entry.bucketType,
    buckets: [...entry.buckets],
    bad: isBad(entry, nowMs),
  };
}

/**
 * Address with the node id and query left out: where a listener is, whoever claims to be there. An
 * IPv4-mapped IPv6 host is its IPv4 (the same socket): else `[::ffff:<our ip>]` was not our place.
 */
export function locationOf(address: PeerAddress): string {
  if (address.protocol === 'webrtc') return `webrtc://${address.nodeId ?? ''}`;
  return formatAddress({ ...address, host: sameHostKey(canonicalHost(address.host)), nodeId: undefined, params: {} });
}

/**
 * Parses and re-formats with one spelling per IP and only the query parameters our transports read
 * (`via` of a webrtc address); undefined when it does not parse. The dialers ignore any other, so each
 * would be one more spelling of the same place: a liar could fill a node's address slots with
 * `?x=1`, `?x=2`, … of its real address, or hand us our persistent peer under another name.
 */
export function canonicalAddress(text: string): PeerAddress | undefined {
  try {
    const parsed = parseAddress(text);
    return { ...parsed, host: canonicalHost(parsed.host), path: requestedPath(parsed), params: paramsDialersRead(parsed) };
  } catch {
    return undefined;
  }
}

/** The spellings of `.` (1) and `..` (2) as path segments, `%2e` in either case for any dot. */
const DOT_SEGMENTS: ReadonlyMap<string, 1 | 2> = new Map(
  ['.', '%2e', '%2E'].flatMap((a) => [[a, 1] as const, ...['.', '%2e', '%2E'].map((b) => [a + b, 2] as const)]),
);

/**
 * A ws path as the dialer requests it: WebSocket clients (ws, browsers) read the URL the WHATWG way, so
 * `/relay`, `/./relay`, `/%2e/relay`, `/x/../relay`, `/x\..\relay` and `/relay#anything` are one
 * request. Each was an address of its own: a liar filled a node's 8 address slots with spellings of its
 * real one. Resolved here as the URL parser does, by hand: its form escapes non-ASCII characters, and a
 * form longer than what a peer sent could pass the length cap (the address refused, its sender
 * punished, though an older node holds it as it is); this one is never longer, and costs O(length).
 */
function requestedPath(address: PeerAddress): string {
  if (address.protocol !== 'ws' && address.protocol !== 'wss') return address.path;
  const hash = address.path.indexOf('#');
  const path = hash >= 0 ? address.path.slice(0, hash) : address.path;
  if (!/[.\\]|%2e/i.test(path)) return path;
  const segments = path.slice(1).split(/[/\\]/);
  const resolved: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const dots = DOT_SEGMENTS.get(segments[i]!) ?? 0;
    if (dots === 2) resolved.pop();
    // A dot segment at the end leaves the path ending in `/`.
    if (dots === 0) resolved.push(segments[i]!);
    else if (i === segments.length - 1) resolved.push('');
  }
  return `/${resolved.join('/')}`;
}

const PROTOCOLS_WITHOUT_PARAMS: ReadonlySet<string> = new Set(['tcp', 'ws', 'wss', 'memory']);

function paramsDialersRead(address: PeerAddress): PeerAddress['params'] {
  if (address.protocol === 'webrtc') return address.params['via'] !== undefined ? { via: address.params['via'] } : {};
  // A custom transport's protocol may read its own.
  return PROTOCOLS_WITHOUT_PARAMS.has(address.protocol) ? {} : address.params;
}
