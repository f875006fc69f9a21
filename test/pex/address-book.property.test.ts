import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AddressBook, type KnownAddressInfo } from '../../src/pex/address-book.js';
import { NEW_BUCKETS_PER_SOURCE_GROUP, BUCKET_SIZE, MAX_ADDRESSES_PER_SOURCE_GROUP, RECENT_ATTEMPT_GRACE_MS } from '../../src/pex/constants.js';
import { FakeClock, FIXED_KEY, nodeId, publicHost, seededRandom, tcp } from './address-book-helpers.js';

/** Invariants checked through the public API, independently of selfCheck(). */
function expectInvariants(book: AddressBook, geometry: { newBucketCount: number; oldBucketCount: number; bucketSize: number; maxNewBucketsPerAddress: number }): void {
  expect(book.selfCheck()).toEqual([]);
  const entries = book.entries();
  const capacity = (geometry.newBucketCount + geometry.oldBucketCount) * geometry.bucketSize;
  expect(book.size()).toBe(entries.length);
  expect(book.size()).toBeLessThanOrEqual(capacity);
  const perNewBucket = new Map<number, number>();
  const perOldBucket = new Map<number, number>();
  const addresses = new Set<string>();
  for (const entry of entries) {
    expect(addresses.has(entry.address)).toBe(false);
    addresses.add(entry.address);
    if (entry.bucketType === 'old') {
      expect(entry.buckets).toHaveLength(1);
      perOldBucket.set(entry.buckets[0]!, (perOldBucket.get(entry.buckets[0]!) ?? 0) + 1);
    } else {
      expect(entry.buckets.length).toBeGreaterThanOrEqual(1);
      expect(entry.buckets.length).toBeLessThanOrEqual(geometry.maxNewBucketsPerAddress);
      expect(new Set(entry.buckets).size).toBe(entry.buckets.length);
      for (const bucket of entry.buckets) perNewBucket.set(bucket, (perNewBucket.get(bucket) ?? 0) + 1);
    }
  }
  for (const count of [...perNewBucket.values(), ...perOldBucket.values()]) expect(count).toBeLessThanOrEqual(geometry.bucketSize);
  const stats = book.stats();
  expect(stats.newCount).toBe(entries.filter((entry: KnownAddressInfo) => entry.bucketType === 'new').length);
  expect(stats.oldCount).toBe(entries.filter((entry: KnownAddressInfo) => entry.bucketType === 'old').length);
  expect(stats.nonEmptyNewBuckets).toBe(perNewBucket.size);
  expect(stats.nonEmptyOldBuckets).toBe(perOldBucket.size);
}

// A small world: few node ids, groups and sources, so commands keep hitting the same entries and buckets fill.
const idArb = fc.integer({ min: 1, max: 40 });
const addressArb = fc.record({ id: idArb, group: fc.integer({ min: 0, max: 12 }), port: fc.integer({ min: 1, max: 3 }) }).map(
  ({ id, group, port }) => tcp(id, publicHost(group, id), port),
);
const sourceArb = fc.integer({ min: 0, max: 6 }).map((group) => tcp(1000 + group, publicHost(200 + group)));
/** A command's target: some address or id (often unknown), or the n-th entry currently in the book. */
type Target = string | { existing: number };
const targetArb: fc.Arbitrary<Target> = fc.oneof(
  { weight: 1, arbitrary: addressArb },
  { weight: 1, arbitrary: idArb.map(nodeId) },
  { weight: 3, arbitrary: fc.nat().map((existing) => ({ existing })) },
);

function resolveTarget(book: AddressBook, target: Target): string {
  if (typeof target === 'string') return target;
  const entries = book.entries();
  return entries.length === 0 ? nodeId(1) : entries[target.existing % entries.length]!.address;
}

type Command =
  | { kind: 'add'; address: string; source: string }
  | { kind: 'good' | 'attempt' | 'remove'; target: Target }
  | { kind: 'bad'; target: Target; banMs: number }
  | { kind: 'time'; ms: number }
  | { kind: 'reinstate' | 'removeBad' | 'pick' | 'select' };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('add' as const), address: addressArb, source: sourceArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('good' as const), target: targetArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('attempt' as const, 'remove' as const), target: targetArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bad' as const), target: targetArb, banMs: fc.integer({ min: 0, max: 10_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 2 * RECENT_ATTEMPT_GRACE_MS }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('reinstate' as const, 'removeBad' as const, 'pick' as const, 'select' as const) }) },
);

describe('AddressBook invariants under any sequence of operations', () => {
  const geometries = [
    { newBucketCount: 2, oldBucketCount: 1, bucketSize: 2, newBucketsPerSourceGroup: 2, oldBucketsPerGroup: 1, maxNewBucketsPerAddress: 2 },
    { newBucketCount: 4, oldBucketCount: 2, bucketSize: 3, newBucketsPerSourceGroup: 2, oldBucketsPerGroup: 1, maxNewBucketsPerAddress: 2 },
    { newBucketCount: 16, oldBucketCount: 4, bucketSize: 4, newBucketsPerSourceGroup: 4, oldBucketsPerGroup: 2, maxNewBucketsPerAddress: 4 },
  ];
  it.each(geometries)('holds for geometry %o', (geometry) => {
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 1, maxLength: 160, size: 'max' }), fc.integer(), (commands, seed) => {
        const clock = new FakeClock();
        const book = new AddressBook({ ...geometry, maxAddressesPerNodeId: 2, now: clock.now, random: seededRandom(seed), bucketKey: FIXED_KEY });
        for (const command of commands) {
          switch (command.kind) {
            case 'add':
              book.addAddress(command.address, command.source);
              break;
            case 'good':
              book.markGood(resolveTarget(book, command.target));
              break;
            case 'attempt':
              book.markAttempt(resolveTarget(book, command.target));
              break;
            case 'remove': {
              const target = resolveTarget(book, command.target);
              book.removeAddress(target);
              expect(book.has(target)).toBe(false);
              break;
            }
            case 'bad': {
              const target = resolveTarget(book, command.target);
              book.markBad(target, command.banMs);
              expect(book.has(target)).toBe(false);
              break;
            }
            case 'time':
              clock.advance(command.ms);
              break;
            case 'reinstate':
              book.reinstateExpiredBans();
              break;
            case 'removeBad':
              book.removeBad();
              expect(book.entries().some((entry) => entry.bad)).toBe(false);
              break;
            case 'pick': {
              const picked = book.pickAddress(50);
              expect(picked === undefined ? book.size() === 0 : book.has(picked)).toBe(true);
              break;
            }
            case 'select':
              for (const address of book.getSelection()) expect(book.has(address)).toBe(true);
              break;
          }
          expectInvariants(book, geometry);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('AddressBook against a flood', () => {
  it('confines 10,000 addresses from one source to NEW_BUCKETS_PER_SOURCE_GROUP buckets', () => {
    // The per-source entry cap is lifted so that only the bucket geometry confines the flood.
    const book = new AddressBook({ random: seededRandom(3), maxAddressesPerSourceGroup: 1_000_000 });
    const attacker = tcp(999_999, publicHost(3));
    let added = 0;
    for (let i = 0; i < 10_000; i++) {
      // Every address in its own /16, so only the source's group can confine them.
      if (book.addAddress(tcp(i + 1, publicHost(i, i)), attacker)) added++;
    }
    expect(added).toBe(10_000); // accepted, but each evicts an earlier one of the flood
    const stats = book.stats();
    expect(stats.nonEmptyNewBuckets).toBeLessThanOrEqual(NEW_BUCKETS_PER_SOURCE_GROUP);
    expect(stats.size).toBeLessThanOrEqual(NEW_BUCKETS_PER_SOURCE_GROUP * BUCKET_SIZE);
    expect(stats.size / book.capacity).toBeLessThan(0.11);
    expect(book.selfCheck()).toEqual([]);
  });

  it('keeps honest entries when a flood comes from one source: honest buckets it cannot reach stay intact', () => {
    const book = new AddressBook({ random: seededRandom(4) });
    for (let i = 0; i < 1000; i++) book.addAddress(tcp(i + 1, publicHost(i, 1)), tcp(100_000 + i, publicHost(1000 + i)));
    const honestBefore = book.size();
    const attacker = tcp(999_999, publicHost(3));
    for (let i = 0; i < 10_000; i++) book.addAddress(tcp(20_000 + i, publicHost(i, 2)), attacker);
    const honestAfter = book.entries().filter((entry) => entry.source !== attacker).length;
    // The attacker's 32 buckets overlap some honest ones, but in a full bucket a flood displaces itself.
    expect(honestAfter).toBeGreaterThanOrEqual(honestBefore * 0.95);
    expect(book.selfCheck()).toEqual([]);
  });

  it('caps the entries one source group can put in the book at maxAddressesPerSourceGroup', () => {
    const book = new AddressBook({ random: seededRandom(9) });
    const attacker = tcp(999_999, publicHost(3));
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const outcome = book.tryAddAddress(tcp(i + 1, publicHost(i, i)), attacker);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect(book.size()).toBeLessThanOrEqual(MAX_ADDRESSES_PER_SOURCE_GROUP);
    expect(outcomes.get('source-full')).toBeGreaterThanOrEqual(10_000 - MAX_ADDRESSES_PER_SOURCE_GROUP);
    // Another network is not affected, and a removal frees room for the capped source again.
    expect(book.addAddress(tcp(50_000, publicHost(4000)), tcp(999_998, publicHost(4)))).toBe(true);
    book.removeAddress(book.entries().find((entry) => entry.source === attacker)!.address);
    expect(book.tryAddAddress(tcp(60_000, publicHost(5000)), attacker)).toBe('added');
    expect(book.selfCheck()).toEqual([]);
  });

  it('spreads addresses from many source groups over most buckets', () => {
    const book = new AddressBook({ random: seededRandom(5) });
    for (let i = 0; i < 5000; i++) book.addAddress(tcp(i + 1, publicHost(i, 1)), tcp(100_000 + (i % 1000), publicHost(1000 + (i % 1000))));
    expect(book.stats().nonEmptyNewBuckets).toBeGreaterThan(240);
    expect(book.size()).toBeGreaterThan(4500);
  });

  it('a pick after a flood is no more likely to land on the flood than its share of buckets', () => {
    const random = seededRandom(6);
    const book = new AddressBook({ random, maxAddressesPerSourceGroup: 1_000_000 });
    for (let i = 0; i < 200; i++) book.addAddress(tcp(i + 1, publicHost(i, 1)), tcp(100_000 + i, publicHost(1000 + i)));
    const attacker = tcp(999_999, publicHost(3));
    for (let i = 0; i < 10_000; i++) book.addAddress(tcp(20_000 + i, publicHost(i, 2)), attacker);
    const attackerShareOfEntries = book.entries().filter((entry) => entry.source === attacker).length / book.size();
    let attackerPicks = 0;
    for (let i = 0; i < 4000; i++) if (book.get(book.pickAddress(100)!)!.source === attacker) attackerPicks++;
    expect(attackerShareOfEntries).toBeGreaterThan(0.85);
    expect(attackerPicks / 4000).toBeLessThan(0.3);
  });

  it('an address many sources name is picked no more often than one named once', () => {
    const random = seededRandom(8);
    const book = new AddressBook({ random, bucketKey: FIXED_KEY });
    // 100 addresses heard once; 100 more each repeated by 8 sources (a coalition vouching for its own).
    for (let i = 0; i < 100; i++) book.addAddress(tcp(i + 1, publicHost(i, 1)), tcp(100_000 + i, publicHost(1000 + i)));
    const echoed: string[] = [];
    for (let i = 0; i < 100; i++) {
      const address = tcp(5_000 + i, publicHost(i, 2));
      echoed.push(address);
      for (let s = 0; s < 8; s++) book.addAddress(address, tcp(200_000 + i * 10 + s, publicHost(2000 + i * 10 + s)));
    }
    const references = echoed.reduce((sum, address) => sum + book.get(address)!.buckets.length, 0) / echoed.length;
    expect(references).toBeGreaterThan(2);
    const echoedSet = new Set(echoed);
    let echoedPicks = 0;
    const picks = 6000;
    for (let i = 0; i < picks; i++) if (echoedSet.has(book.pickAddress(100)!)) echoedPicks++;
    // Half the entries: about half the picks (drawn by bucket, they would be ~references/(references+1)).
    expect(echoedPicks / picks).toBeGreaterThan(0.42);
    expect(echoedPicks / picks).toBeLessThan(0.58);
  });
});

describe('AddressBook.pickAddress bias', () => {
  // 300 new and 300 old entries: with equal table sizes CometBFT's weighting is exactly the bias.
  const clock = new FakeClock();
  const book = new AddressBook({ now: clock.now, random: seededRandom(7), bucketKey: FIXED_KEY });
  for (let i = 0; i < 600; i++) book.addAddress(tcp(i + 1, publicHost(i, 1)), tcp(100_000 + i, publicHost(1000 + i)));
  for (const entry of book.entries().slice(0, 300)) book.markGood(entry.address);

  it('starts from equal tables', () => {
    expect(book.stats()).toMatchObject({ newCount: 300, oldCount: 300 });
  });

  it('picks new addresses in the requested proportion', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), (bias) => {
        let fresh = 0;
        const picks = 3000;
        for (let i = 0; i < picks; i++) if (book.get(book.pickAddress(bias)!)!.bucketType === 'new') fresh++;
        expect(Math.abs(fresh / picks - bias / 100)).toBeLessThan(0.04);
      }),
      { numRuns: 25 },
    );
  });
});
