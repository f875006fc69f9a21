import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { isNodeId } from '../transport/address.js';
import type { KnownAddress } from './known-address.js';
import { ADDRESS_BOOK_FORMAT_VERSION, ADDRESS_BOOK_SAVE_SLICE_BYTES, BUCKET_KEY_BYTES, MAX_ADDRESS_BOOK_BYTES, MAX_STORED_ANCHORS, MAX_TRIED_COLLISIONS } from './constants.js';

/**
 * The persisted form: JSON (like CometBFT's addrbook.json), so an operator can read it, with a
 * format name and version, the bucket key and the geometry it was written with. Decoding trusts
 * nothing: a value that does not parse or has the wrong shape is rejected as a whole; single records
 * with the wrong shape are skipped and counted. The book then re-validates every address.
 *
 * Versions: 1 (entries, bans); 2 adds `anchors` (the outbound peers at the last stop, dialled first at
 * the next start) and `collisions` (tried-table collisions still waiting for their test). A version 1
 * value loads as a version 2 one with neither. An entry may carry `corroboratedBy`, `lastRefusal` and
 * `lastClaimedInbound` (optional fields, which readers before them ignore).
 */

const FORMAT_NAME = 'meshlink-address-book';

/**
 * What is stored of a KnownAddress: the rest (groups, index) is derived again on load. `corroboratedBy`,
 * `lastRefusal` and `lastClaimedInbound` only when set; a file without them loads as before (no entry
 * corroborated, no refusal or inbound claim: a full node we failed to dial then counted as lapsed).
 */
export type SerializedEntry = Pick<
  KnownAddress,
  'address' | 'source' | 'attempts' | 'lastAttempt' | 'lastSuccess' | 'lastSeen' | 'lastBanTime' | 'bucketType' | 'buckets'
> & { corroboratedBy?: string; lastRefusal?: number; lastClaimedInbound?: number };

export interface SerializedBan {
  nodeId: string;
  bannedUntil: number;
  /** The node's entries at ban time, reinstated when the ban ends. */
  entries: SerializedEntry[];
}

export interface SerializedGeometry {
  newBucketCount: number;
  oldBucketCount: number;
  bucketSize: number;
}

export interface SerializedCollision {
  /** The newly good address waiting for a tried slot. */
  address: string;
  /** When the collision was found. */
  since: number;
}

export interface AddressBookSnapshot {
  key: Uint8Array;
  geometry: SerializedGeometry;
  savedAt: number;
  entries: SerializedEntry[];
  bans: SerializedBan[];
  anchors: string[];
  collisions: SerializedCollision[];
}

const SUPPORTED_VERSIONS: ReadonlySet<unknown> = new Set([1, ADDRESS_BOOK_FORMAT_VERSION]);

export type DecodeResult =
  | { readonly ok: true; readonly snapshot: AddressBookSnapshot; readonly skipped: number }
  | { readonly ok: false; readonly reason: string };

/**
 * The stored form of a book: JSON, at most `maxBytes` (what a load accepts). A book full of long
 * addresses (peers choose them: up to 1 KiB each) can encode to more, and a book over the limit would be
 * ignored whole at the next start, so what does not fit is left out: tried entries are kept first, then
 * bans, then new entries, in the book's order.
 *
 * Each entry and ban is encoded once, and `nextTurn` is awaited after every ADDRESS_BOOK_SAVE_SLICE_BYTES
 * so that the event loop runs between slices: a book that peers filled (~50 MB) encoded in one go (the
 * whole as JSON, then each item again to fit it, then the fitted whole) held it for 2.2 s at every save.
 */
export async function encodeAddressBook(snapshot: AddressBookSnapshot, nextTurn: () => Promise<void>, maxBytes = MAX_ADDRESS_BOOK_BYTES): Promise<Uint8Array> {
  const encoder = new TextEncoder();
  const worked = slices(nextTurn);
  const encodeEach = async (items: readonly unknown[]): Promise<Uint8Array[]> => {
    const encoded: Uint8Array[] = [];
    for (const item of items) {
      const bytes = encoder.encode(JSON.stringify(item));
      encoded.push(bytes);
      await worked(bytes.byteLength);
    }
    return encoded;
  };
  const entries = await encodeEach(snapshot.entries);
  const bans = await encodeEach(snapshot.bans);
  // The document as JSON.stringify writes it, around the two lists.
  const { key, geometry, savedAt, anchors, collisions } = snapshot;
  const head = encoder.encode(`${JSON.stringify({ format: FORMAT_NAME, version: ADDRESS_BOOK_FORMAT_VERSION, savedAt, key: bytesToHex(key), geometry }).slice(0, -1)},"entries":[`);
  const middle = encoder.encode('],"bans":[');
  const tail = encoder.encode(`],"anchors":${JSON.stringify(anchors)},"collisions":${JSON.stringify(collisions)}}`);
  const frameBytes = head.byteLength + middle.byteLength + tail.byteLength;
  if (frameBytes + listBytes(entries) + listBytes(bans) <= maxBytes) return joined(head, entries, middle, bans, tail, worked);
  let room = maxBytes - frameBytes;
  // Each item taken costs its bytes and a comma.
  const fits = (item: Uint8Array): boolean => {
    if (item.byteLength + 1 > room) return false;
    room -= item.byteLength + 1;
    return true;
  };
  const isNew = snapshot.entries.map((entry) => entry.bucketType === 'new');
  const tried = entries.filter((item, i) => !isNew[i] && fits(item));
  const keptBans = bans.filter(fits);
  const fresh = entries.filter((item, i) => isNew[i] && fits(item));
  return joined(head, [...tried, ...fresh], middle, keptBans, tail, worked);
}

/** Awaits `nextTurn` once every ADDRESS_BOOK_SAVE_SLICE_BYTES of work reported to it. */
function slices(nextTurn: () => Promise<void>): (bytes: number) => Promise<void> {
  let sinceTurn = 0;
  return async (bytes) => {
    sinceTurn += bytes;
    if (sinceTurn < ADDRESS_BOOK_SAVE_SLICE_BYTES) return;
    sinceTurn = 0;
    await nextTurn();
  };
}

/** The bytes of `items` joined by commas. */
function listBytes(items: readonly Uint8Array[]): number {
  return items.reduce((sum, item) => sum + item.byteLength, Math.max(0, items.length - 1));
}

/**
 * `head`, the entries and the bans each joined by commas with `middle` between, then `tail`; copied in
 * slices too (a copy per item: ~130 ms for a book of 53,000 long addresses).
 */
async function joined(head: Uint8Array, entries: readonly Uint8Array[], middle: Uint8Array, bans: readonly Uint8Array[], tail: Uint8Array, worked: (bytes: number) => Promise<void>): Promise<Uint8Array> {
  const out = new Uint8Array(head.byteLength + listBytes(entries) + middle.byteLength + listBytes(bans) + tail.byteLength);
  let at = 0;
  const put = (part: Uint8Array): void => {
    out.set(part, at);
    at += part.byteLength;
  };
  const putList = async (items: readonly Uint8Array[]): Promise<void> => {
    for (let i = 0; i < items.length; i++) {
      if (i > 0) out[at++] = 0x2c; // ','
      put(items[i]!);
      await worked(items[i]!.byteLength);
    }
  };
  put(head);
  await putList(entries);
  put(middle);
  await putList(bans);
  put(tail);
  return out;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isShortString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 1024;
}

function decodeEntry(value: unknown): SerializedEntry | undefined {
  if (!isRecord(value)) return undefined;
  const { address, source, attempts, lastAttempt, lastSuccess, lastSeen, lastBanTime, bucketType, buckets, corroboratedBy, lastRefusal, lastClaimedInbound } = value;
  if (!isShortString(address) || !isShortString(source)) return undefined;
  if (corroboratedBy !== undefined && !isShortString(corroboratedBy)) return undefined;
  if (![lastRefusal, lastClaimedInbound].every((time) => time === undefined || isCount(time))) return undefined;
  if (![attempts, lastAttempt, lastSuccess, lastSeen, lastBanTime].every(isCount)) return undefined;
  if (bucketType !== 'new' && bucketType !== 'old') return undefined;
  if (!Array.isArray(buckets) || buckets.length === 0 || buckets.length > 64 || !buckets.every(isCount)) return undefined;
  return {
    address,
    source,
    attempts: attempts as number,
    lastAttempt: lastAttempt as number,
    lastSuccess: lastSuccess as number,
    lastSeen: lastSeen as number,
    lastBanTime: lastBanTime as number,
    bucketType,
    buckets: buckets as number[],
    ...(corroboratedBy !== undefined && { corroboratedBy }),
    ...(lastRefusal !== undefined && { lastRefusal: lastRefusal as number }),
    ...(lastClaimedInbound !== undefined && { lastClaimedInbound: lastClaimedInbound as number }),
  };
}

function decodeBan(value: unknown): { ban: SerializedBan; skipped: number } | undefined {
  if (!isRecord(value) || !isNodeId(value['nodeId']) || !isCount(value['bannedUntil'])) return undefined;
  const rawEntries = Array.isArray(value['entries']) ? (value['entries'] as unknown[]) : [];
  const entries = rawEntries.map(decodeEntry).filter((entry): entry is SerializedEntry => entry !== undefined);
  return {
    ban: { nodeId: value['nodeId'], bannedUntil: value['bannedUntil'], entries },
    skipped: rawEntries.length - entries.length,
  };
}

/** Never throws: every failure is a `{ ok: false, reason }` suitable for a warning. */
export function decodeAddressBook(bytes: Uint8Array): DecodeResult {
  if (bytes.byteLength > MAX_ADDRESS_BOOK_BYTES) {
    return { ok: false, reason: `stored value is ${bytes.byteLength} bytes, over the ${MAX_ADDRESS_BOOK_BYTES} byte limit` };
  }
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    return { ok: false, reason: `not valid JSON (truncated or corrupt): ${(error as Error).message}` };
  }
  if (!isRecord(document) || document['format'] !== FORMAT_NAME) return { ok: false, reason: 'not a meshlink address book' };
  if (!SUPPORTED_VERSIONS.has(document['version'])) {
    const version = document['version'];
    const shown = typeof version === 'number' || typeof version === 'string' ? String(version).slice(0, 40) : typeof version;
    return { ok: false, reason: `unsupported format version ${shown}` };
  }
  const keyHex = document['key'];
  if (typeof keyHex !== 'string' || !/^[0-9a-f]+$/.test(keyHex) || keyHex.length !== 2 * BUCKET_KEY_BYTES) {
    return { ok: false, reason: 'missing or malformed bucket key' };
  }
  const geometry = document['geometry'];
  if (
    !isRecord(geometry) ||
    !isCount(geometry['newBucketCount']) ||
    !isCount(geometry['oldBucketCount']) ||
    !isCount(geometry['bucketSize'])
  ) {
    return { ok: false, reason: 'missing or malformed bucket geometry' };
  }
  const rawEntries = document['entries'];
  const rawBans = document['bans'] ?? [];
  if (!Array.isArray(rawEntries) || !Array.isArray(rawBans)) return { ok: false, reason: 'missing entry list' };
  let skipped = 0;
  const entries: SerializedEntry[] = [];
  for (const raw of rawEntries as unknown[]) {
    const entry = decodeEntry(raw);
    if (entry === undefined) skipped++;
    else entries.push(entry);
  }
  const bans: SerializedBan[] = [];
  for (const raw of rawBans as unknown[]) {
    const decoded = decodeBan(raw);
    if (decoded === undefined) {
      skipped++;
      continue;
    }
    skipped += decoded.skipped;
    bans.push(decoded.ban);
  }
  const savedAt = isCount(document['savedAt']) ? document['savedAt'] : 0;
  const rawAnchors = Array.isArray(document['anchors']) ? (document['anchors'] as unknown[]) : [];
  const anchors = rawAnchors.filter(isShortString).slice(0, MAX_STORED_ANCHORS);
  const rawCollisions = Array.isArray(document['collisions']) ? (document['collisions'] as unknown[]) : [];
  const collisions: SerializedCollision[] = [];
  for (const raw of rawCollisions) {
    if (collisions.length >= MAX_TRIED_COLLISIONS) break;
    if (isRecord(raw) && isShortString(raw['address']) && isCount(raw['since'])) collisions.push({ address: raw['address'], since: raw['since'] });
  }
  return {
    ok: true,
    snapshot: {
      key: hexToBytes(keyHex),
      geometry: {
        newBucketCount: geometry['newBucketCount'],
        oldBucketCount: geometry['oldBucketCount'],
        bucketSize: geometry['bucketSize'],
      },
      savedAt,
      entries,
      bans,
      anchors,
      collisions,
    },
    skipped,
  };
}

export function serializeEntry(entry: KnownAddress): SerializedEntry {
  return {
    address: entry.address,
    source: entry.source,
    attempts: entry.attempts,
    lastAttempt: entry.lastAttempt,
    lastSuccess: entry.lastSuccess,
    lastSeen: entry.lastSeen,
    lastBanTime: entry.lastBanTime,
    bucketType: entry.bucketType,
    buckets: [...entry.buckets],
    ...(entry.corroboratedBy !== '' && { corroboratedBy: entry.corroboratedBy }),
    ...(entry.lastRefusal > 0 && { lastRefusal: entry.lastRefusal }),
    ...(entry.lastClaimedInbound > 0 && { lastClaimedInbound: entry.lastClaimedInbound }),
  };
}
