/** Fuzz inputs for the address book file (JSON on disk, which a corrupted disk or a hostile user controls). */
import { bytesToHex } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { addressText, FIXED_ID, nodeId, SELF } from './fuzz-addresses.js';
import { utf8 } from './fuzz-bytes.js';
import { msgpackValue } from './fuzz-msgpack.js';

// msgpackValue serves as JSON too: JSON.stringify maps its NaN to null and its bytes to objects, and its
// maps may hold toString/valueOf/__proto__ keys, which JSON.parse makes own properties.

const plainCount = fc.oneof({ weight: 5, arbitrary: fc.nat() }, fc.constantFrom(-1, 0.5, 2 ** 53, 1e308, null, '1'));
const jsonCount = fc.oneof({ weight: 5, arbitrary: plainCount }, msgpackValue);
const mostlyCount = fc.oneof({ weight: 9, arbitrary: fc.nat() }, jsonCount);
const entryOf = (count: fc.Arbitrary<unknown>, buckets: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> => fc.record({
  address: addressText.map((a) => a.replace(SELF, FIXED_ID)), source: addressText, attempts: count, lastAttempt: count,
  lastSuccess: count, lastSeen: count, lastBanTime: count, bucketType: fc.constantFrom('new', 'old', 'x'), buckets,
  lastRefusal: count, lastClaimedInbound: count,
}, { requiredKeys: ['address', 'source', 'attempts', 'lastAttempt', 'lastSuccess', 'lastSeen', 'lastBanTime', 'bucketType', 'buckets'] });
const bookEntry = entryOf(jsonCount, fc.oneof(fc.array(fc.nat(300), { maxLength: 70 }), msgpackValue));
/** Repeated to make big books: small values, so a file stays under ~1 MB (parse time grows with size, rightly). */
const plainEntry = entryOf(plainCount, fc.array(fc.nat(300), { maxLength: 4 })).map((entry) => ({
  ...entry, address: String(entry['address']).slice(0, 120), source: String(entry['source']).slice(0, 120),
}));
const bookDocument = fc.record({
  format: fc.oneof({ weight: 9, arbitrary: fc.constant('meshlink-address-book') }, msgpackValue),
  version: fc.oneof({ weight: 9, arbitrary: fc.constant(1) }, msgpackValue),
  savedAt: jsonCount,
  key: fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex) }, fc.string({ maxLength: 70 })),
  geometry: fc.oneof({ weight: 9, arbitrary: fc.record({ newBucketCount: mostlyCount, oldBucketCount: mostlyCount, bucketSize: mostlyCount }) }, msgpackValue),
  entries: fc.oneof(fc.array(bookEntry, { maxLength: 20 }), fc.tuple(plainEntry, fc.nat(2000)).map(([e, n]) => new Array<unknown>(n).fill(e))),
  bans: fc.array(fc.record({ nodeId, bannedUntil: jsonCount, entries: fc.oneof(fc.array(bookEntry, { maxLength: 3 }), msgpackValue) }), { maxLength: 4 }),
});
export const bookFile = bookDocument.map((document) => utf8(JSON.stringify(document)));
export const deepJson = fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean()).map(([n, closed]) => utf8('['.repeat(n) + (closed ? ']'.repeat(n) : '')));
