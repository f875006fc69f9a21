import { formatAddress, type PeerAddress } from '../transport/address.js';
import { canonicalForm } from '../transport/canonical-address.js';
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
  /**
   * Node id of a trusted source (a seed) that named this address after another source had told us of
   * it; '' for none. The dial planner credits the address to it (creditedSource).
   */
  readonly vouchedBy: string;
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
  /** Reached by us once, or the node's own word on the host we reach it at (isFirstHand): a meshlink node was there. */
  readonly firstHand: boolean;
  /** Named to us from at least two source groups (isCorroborated); saved with the book. */
  readonly corroborated: boolean;
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
  /** See KnownAddressInfo.vouchedBy. Not persisted: a seed names it again. */
  vouchedBy: string;
  /** A source group other than sourceGroup that named it too ('' for none): see isCorroborated. Saved with the book. */
  corroboratedBy: string;
  attempts: number;
  lastAttempt: number;
  lastSuccess: number;
  lastSeen: number;
  /** When the node itself last refused a dial of ours (full, or it banned us): alive there. Saved with the book. */
  lastRefusal: number;
  /**
   * When the node, connected to us inbound under its authenticated id, last named this address, where we
   * had reached it (confirmInbound): still there. Saved with the book.
   */
  lastClaimedInbound: number;
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

/**
 * An entry answers no longer hand out. First-hand: a dial since we last reached it failed (or is under
 * way) without the node itself refusing it, or neither a connection, a refusal nor the node's own word
 * (its entry's source, or its claim while connected inbound) has confirmed it for `lapseMs`. A node that
 * left stayed first-hand, and in every answer, for as long as it stayed in the book (days). A full node
 * refusing us is there (leaving those out too handed the liars, who never fill up, a larger share of
 * newcomers' peers in the simulator). Hearsay: we dialled it and never reached it, and the node never
 * refused us (addrman's GetAddr leaves out what IsTerrible judges, three failed tries; our answers stop
 * at the first: a node that left keeps being named to us by others' answers, which carry no time, so
 * being named again says nothing of it). The caller exempts the peers connected now.
 */
export function hasLapsed(entry: KnownAddress, nowMs: number, lapseMs: number): boolean {
  const failedSinceConfirmed = entry.attempts > 0 && entry.lastAttempt > entry.lastRefusal;
  if (!isFirstHand(entry)) return failedSinceConfirmed;
  if (failedSinceConfirmed) return true;
  const selfTold = entry.sourceNodeId === entry.nodeId ? entry.lastSeen : 0;
  const confirmed = Math.max(entry.lastSuccess, entry.lastRefusal, entry.lastClaimedInbound, selfTold);
  return nowMs - confirmed > lapseMs;
}

/**
 * Named to us by sources in two network groups at least. One source group can make up any number of
 * nodes, each named once; an honest node is named by every peer that knows it. PEX answers pass on
 * hearsay that is neither first-hand nor corroborated only to make up a small answer (see firstHandFirst).
 */
export function isCorroborated(entry: KnownAddress): boolean {
  return entry.corroboratedBy !== '';
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
    vouchedBy: entry.vouchedBy,
    group: entry.group,
    attempts: entry.attempts,
    lastAttempt: entry.lastAttempt,
    lastSuccess: entry.lastSuccess,
    lastSeen: entry.lastSeen,
    lastBanTime: entry.lastBanTime,
    bucketType: entry.bucketType,
    buckets: [...entry.buckets],
    bad: isBad(entry, nowMs),
    firstHand: isFirstHand(entry),
    corroborated: isCorroborated(entry),
  };
}

/**
 * Address with the node id and query left out: where a listener is, whoever claims to be there, in its
 * canonical form (an IPv4-mapped IPv6 host is its IPv4, the same socket: else `[::ffff:<our ip>]` was
 * not our place).
 */
export function locationOf(address: PeerAddress): string {
  return locationOfCanonical(canonicalForm(address).address);
}

/** locationOf for an address already in canonical form (canonicalForm's). */
export function locationOfCanonical(address: PeerAddress): string {
  if (address.protocol === 'webrtc') return `webrtc://${address.nodeId ?? ''}`;
  return formatAddress({ ...address, nodeId: undefined, params: {} });
}

/**
 * The source an address counts as learned from when choosing whom to dial: the trusted source (seed)
 * that vouched for it, else whoever told us first. Our book usually learns an address from a peer
 * before a seed names it too, and counted only by its first source it never filled a trusted slot:
 * a node whose seed-given addresses were all connected or dialled stayed short of its outbound target
 * for as long as the seed answered (the slots not filled by the trusted share wait for the seed).
 */
export function creditedSource(info: KnownAddressInfo): string {
  return info.vouchedBy !== '' ? info.vouchedBy : info.source;
}
