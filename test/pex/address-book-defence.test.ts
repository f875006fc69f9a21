import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { AddressBook, type AddressBookOptions } from '../../src/pex/address-book.js';
import { MAX_TRIED_COLLISIONS, RECENT_ATTEMPT_GRACE_MS, TRIED_COLLISION_TEST_WINDOW_MS, TRIED_REPLACEMENT_PROTECTION_MS } from '../../src/pex/constants.js';
import { MemoryStorage } from '../../src/storage/storage.js';
import { FakeClock, FIXED_KEY, nodeId, publicHost, seededRandom, tcp } from './address-book-helpers.js';

const SOURCE = tcp(9999, publicHost(77));

function makeBook(options: AddressBookOptions = {}): { book: AddressBook; clock: FakeClock } {
  const clock = new FakeClock();
  const book = new AddressBook({ now: clock.now, random: seededRandom(1), bucketKey: FIXED_KEY, ...options });
  return { book, clock };
}

/** Where every address sits, in a stable order. */
function placement(book: AddressBook): string[] {
  return book
    .entries()
    .map((entry) => `${entry.address} ${entry.bucketType} ${entry.buckets.join(',')}`)
    .sort();
}

/**
 * Fills a one-bucket tried table of size 2 with nodes 1 and 2, lets their last success age past the
 * replacement protection, then makes node 3 good: a collision.
 */
function collidingBook(options: AddressBookOptions = {}): { book: AddressBook; clock: FakeClock } {
  const made = makeBook({ oldBucketCount: 1, oldBucketsPerGroup: 1, bucketSize: 2, ...options });
  for (let i = 1; i <= 3; i++) {
    if (i === 3) made.clock.advance(TRIED_REPLACEMENT_PROTECTION_MS);
    made.book.addAddress(tcp(i, publicHost(i)), SOURCE);
    made.book.markGood(nodeId(i));
    made.clock.advance(1000);
  }
  return made;
}

describe('AddressBook placement is keyed and deterministic', () => {
  const fill = (book: AddressBook): void => {
    for (let i = 1; i <= 300; i++) book.addAddress(tcp(i, publicHost(i % 40, i)), tcp(5000 + (i % 7), publicHost(200 + (i % 7))));
    for (let i = 1; i <= 60; i++) book.markGood(nodeId(i));
  };

  it('puts the same addresses from the same sources in the same buckets for the same key, elsewhere for another key', () => {
    const a = makeBook().book;
    const b = makeBook({ random: seededRandom(99) }).book;
    const other = makeBook({ bucketKey: new Uint8Array(32).fill(8) }).book;
    fill(a);
    fill(b);
    fill(other);
    expect(placement(a)).toEqual(placement(b));
    const differing = placement(a).filter((line, i) => line !== placement(other)[i]).length;
    expect(differing).toBeGreaterThan(placement(a).length / 2);
  });

  it('keys a new bucket by the address group and the source group only', () => {
    const { book } = makeBook();
    // Ten hosts of one /16, learned from two hosts of one source /16: one (group, source group) pair.
    for (let i = 1; i <= 10; i++) book.addAddress(tcp(i, publicHost(5, i)), tcp(8000 + (i % 2), publicHost(6, i)));
    expect(new Set(book.entries().map((entry) => entry.buckets[0])).size).toBe(1);
  });

  it('keys a tried bucket by the address and its group: one /16 reaches at most oldBucketsPerGroup tried buckets', () => {
    const { book } = makeBook({ testBeforeEvict: false });
    for (let i = 1; i <= 200; i++) {
      book.addAddress(tcp(i, publicHost(5, i)), tcp(8000 + i, publicHost(100 + i)));
      book.markGood(nodeId(i));
    }
    expect(book.stats().nonEmptyOldBuckets).toBeLessThanOrEqual(book.config.oldBucketsPerGroup);
    expect(book.selfCheck()).toEqual([]);
  });
});

describe('AddressBook test-before-evict', () => {
  it('keeps an incumbent reached within the replacement protection, without a test', () => {
    const { book, clock } = makeBook({ oldBucketCount: 1, oldBucketsPerGroup: 1, bucketSize: 2 });
    for (let i = 1; i <= 3; i++) {
      book.addAddress(tcp(i, publicHost(i)), SOURCE);
      book.markGood(nodeId(i));
      clock.advance(1000);
    }
    expect(book.stats().pendingCollisions).toBe(1);
    book.resolveCollisions();
    expect(book.stats().pendingCollisions).toBe(0);
    expect(book.get(nodeId(3))!.bucketType).toBe('new');
    expect(book.get(nodeId(1))!.bucketType).toBe('old');
  });

  it('keeps a full tried bucket as it is and records the collision', () => {
    const { book } = collidingBook();
    expect(book.get(nodeId(3))!.bucketType).toBe('new');
    expect(book.get(nodeId(1))!.bucketType).toBe('old');
    expect(book.get(nodeId(2))!.bucketType).toBe('old');
    expect(book.stats().pendingCollisions).toBe(1);
    expect(book.selfCheck()).toEqual([]);
  });

  it('offers the incumbent to a feeler; when the tests succeed the incumbents stay and the collision ends', () => {
    const { book, clock } = collidingBook();
    const incumbent = book.pickFeelerAddress()!;
    expect(incumbent).toBe(tcp(1, publicHost(1))); // the stalest tried entry is the one that would go
    book.markAttempt(incumbent);
    book.markGood(incumbent);
    // Node 1 is fresh now, so node 2 is the entry the newcomer would evict: it is tested next.
    const next = book.pickFeelerAddress()!;
    expect(next).toBe(tcp(2, publicHost(2)));
    book.markAttempt(next);
    book.markGood(next);
    clock.advance(RECENT_ATTEMPT_GRACE_MS + 1);
    book.resolveCollisions();
    expect(book.get(nodeId(2))!.bucketType).toBe('old');
    expect(book.get(nodeId(1))!.bucketType).toBe('old');
    expect(book.get(nodeId(3))!.bucketType).toBe('new');
    expect(book.stats().pendingCollisions).toBe(0);
  });

  it('evicts the incumbent once its test failed, and moves the newcomer into the tried bucket', () => {
    const { book, clock } = collidingBook();
    const incumbent = book.pickFeelerAddress()!;
    book.markAttempt(incumbent); // …and the dial fails: no markGood
    book.resolveCollisions();
    expect(book.get(nodeId(1))!.bucketType).toBe('old'); // an attempt this fresh may still be in flight
    clock.advance(RECENT_ATTEMPT_GRACE_MS);
    book.resolveCollisions();
    expect(book.get(nodeId(1))!.bucketType).toBe('new');
    expect(book.get(nodeId(3))!.bucketType).toBe('old');
    expect(book.stats()).toMatchObject({ pendingCollisions: 0, oldCount: 2 });
    expect(book.selfCheck()).toEqual([]);
  });

  it('evicts an incumbent nobody tested within the test window', () => {
    const { book, clock } = collidingBook();
    clock.advance(TRIED_COLLISION_TEST_WINDOW_MS - 10_000);
    book.resolveCollisions();
    expect(book.get(nodeId(3))!.bucketType).toBe('new');
    clock.advance(10_000);
    book.resolveCollisions();
    expect(book.get(nodeId(3))!.bucketType).toBe('old');
  });

  it('keeps at most MAX_TRIED_COLLISIONS pending', () => {
    const { book } = collidingBook();
    for (let i = 4; i < 40; i++) {
      book.addAddress(tcp(i, publicHost(i)), SOURCE);
      book.markGood(nodeId(i));
    }
    expect(book.stats().pendingCollisions).toBe(MAX_TRIED_COLLISIONS);
    expect(book.selfCheck()).toEqual([]);
  });

  it('feelers pick new addresses when no collision waits', () => {
    const { book } = makeBook();
    for (let i = 1; i <= 20; i++) book.addAddress(tcp(i, publicHost(i)), SOURCE);
    book.markGood(nodeId(1));
    for (let i = 0; i < 50; i++) expect(book.get(book.pickFeelerAddress()!)!.bucketType).toBe('new');
  });
});

describe('AddressBook persistence of the defence', () => {
  it('saves and loads anchors and pending collisions', async () => {
    const storage = new MemoryStorage();
    const { book, clock } = collidingBook({ storage });
    book.setAnchors([tcp(1, publicHost(1)), tcp(2, publicHost(2)), 'not an address']);
    await book.save();
    const restored = new AddressBook({ storage, now: clock.now, oldBucketCount: 1, oldBucketsPerGroup: 1, bucketSize: 2 });
    await restored.load();
    expect(restored.anchors()).toEqual([tcp(1, publicHost(1)), tcp(2, publicHost(2))]);
    expect(restored.stats().pendingCollisions).toBe(1);
    expect(placement(restored)).toEqual(placement(book));
  });

  it('loads a book saved in format version 1 (256/64 buckets), re-bucketed under the new geometry', async () => {
    const bytes = await readFile(new URL('./fixtures/address-book-v1.json', import.meta.url));
    const v1 = JSON.parse(bytes.toString('utf8')) as { version: number; entries: { address: string; bucketType: string }[]; bans: unknown[] };
    expect(v1.version).toBe(1);
    const storage = new MemoryStorage();
    await storage.set('address-book', new Uint8Array(bytes));
    const clock = new FakeClock(1_700_000_100_000);
    const book = new AddressBook({ storage, now: clock.now });
    const result = await book.load();
    expect(result).toEqual({ loaded: v1.entries.length, skipped: 0 });
    for (const saved of v1.entries) expect(book.get(saved.address)?.bucketType).toBe(saved.bucketType);
    expect(book.isBanned(nodeId(40))).toBe(true);
    expect(book.anchors()).toEqual([]);
    expect(book.selfCheck()).toEqual([]);
    // Saved again, it is a version 2 book that loads the same.
    await book.save();
    const saved = JSON.parse(new TextDecoder().decode(await storage.get('address-book'))) as { version: number };
    expect(saved.version).toBe(2);
    const again = new AddressBook({ storage, now: clock.now });
    await again.load();
    expect(placement(again)).toEqual(placement(book));
  });
});
