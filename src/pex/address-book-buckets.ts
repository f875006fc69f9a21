import { KeyedHash32 } from './address-book-hash.js';
import { BUCKET_HASH_MEMO_ENTRIES, BUCKET_HASH_MEMO_SOURCE_GROUPS } from './constants.js';
import type { KnownAddress } from './known-address.js';

/** A uniform integer in 0..n-1 from a `random()` in [0, 1); tolerant of sources that return 1 or NaN. */
export function randomInt(random: () => number, n: number): number {
  const value = Math.floor(random() * n);
  return value >= 0 && value < n ? value : value >= n ? n - 1 : 0;
}

/**
 * Where a partial Fisher-Yates shuffle has moved values: `moved[i]` holds position i's value when
 * `stamp[i]` is the current walk's number, otherwise position i still holds i. Shared by every book
 * (a walk runs to completion synchronously), so sampling a pexResponse allocates nothing; it grows to
 * the largest book sampled (8 bytes per entry of the largest book sampled, rounded up to a power of two: 1 MiB for a full one).
 */
interface ShuffleScratch {
  moved: Int32Array;
  stamp: Uint32Array;
  walk: number;
}
const sharedScratch: ShuffleScratch = { moved: new Int32Array(0), stamp: new Uint32Array(0), walk: 0 };
let sharedScratchInUse = false;

/**
 * Visits distinct indices of 0..n-1 in the order a partial Fisher-Yates shuffle of them would list
 * them, until `visit` returns false or all are visited. Only the swapped positions are written, so a
 * short walk over a large list costs what it visits, not the list's length.
 */
export function visitRandomIndices(n: number, random: () => number, visit: (index: number) => boolean): void {
  // A visit that starts another walk gets scratch of its own.
  const scratch = sharedScratchInUse ? { moved: new Int32Array(n), stamp: new Uint32Array(n), walk: 0 } : sharedScratch;
  if (scratch.moved.length < n) {
    const size = 2 ** Math.ceil(Math.log2(n));
    scratch.moved = new Int32Array(size);
    scratch.stamp = new Uint32Array(size);
    scratch.walk = 0;
  }
  if (scratch.walk === 0xffffffff) {
    scratch.stamp.fill(0);
    scratch.walk = 0;
  }
  const walk = ++scratch.walk;
  const { moved, stamp } = scratch;
  const shared = scratch === sharedScratch;
  if (shared) sharedScratchInUse = true;
  try {
    for (let i = 0; i < n; i++) {
      const j = i + randomInt(random, n - i);
      const picked = stamp[j] === walk ? moved[j]! : j;
      moved[j] = stamp[i] === walk ? moved[i]! : i;
      stamp[j] = walk;
      if (!visit(picked)) return;
    }
  } finally {
    if (shared) sharedScratchInUse = false;
  }
}

/**
 * Bucket placement as in addrman and CometBFT's calcNewBucket/calcOldBucket, with HMAC-SHA-256 under
 * the book's secret key so that an attacker cannot aim addresses at chosen buckets:
 *
 *   new: hash(key, sourceGroup, hash(key, group, sourceGroup) % newBucketsPerSourceGroup) % newBucketCount
 *   old: hash(key, group, hash(key, address) % oldBucketsPerGroup) % oldBucketCount
 *
 * The inner hash is reduced modulo a small number before it feeds the outer one, so one source group
 * reaches at most newBucketsPerSourceGroup new buckets, and one address group oldBucketsPerGroup old ones.
 */
export class BucketHasher {
  /**
   * newBucket depends only on the (group, source group) pair, which a flood from a few groups repeats
   * many times, so results are memoised (two HMACs each); cleared when full, so bounded.
   */
  private readonly newBucketMemo = new Map<string, number>();
  /**
   * The outer hash takes only newBucketsPerSourceGroup values per source group, so it is memoised per
   * source group in a small typed array (-1: not yet hashed): a new pair then costs one HMAC, not two.
   * At most BUCKET_HASH_MEMO_SOURCE_GROUPS arrays; cleared when full.
   */
  private readonly outerBySourceGroup = new Map<string, Int32Array>();
  /** HMAC-SHA-256 with the key already absorbed. */
  private readonly keyed: KeyedHash32;

  constructor(
    key: Uint8Array,
    private readonly geometry: {
      readonly newBucketCount: number;
      readonly oldBucketCount: number;
      readonly newBucketsPerSourceGroup: number;
      readonly oldBucketsPerGroup: number;
    },
  ) {
    this.keyed = new KeyedHash32(key);
  }

  newBucket(group: string, sourceGroup: string): number {
    const memoKey = `${group}\u0000${sourceGroup}`;
    const memoised = this.newBucketMemo.get(memoKey);
    if (memoised !== undefined) return memoised;
    const slot = this.hash('new-slot', group, sourceGroup) % this.geometry.newBucketsPerSourceGroup;
    let outer = this.outerBySourceGroup.get(sourceGroup);
    if (outer === undefined) {
      if (this.outerBySourceGroup.size >= BUCKET_HASH_MEMO_SOURCE_GROUPS) this.outerBySourceGroup.clear();
      outer = new Int32Array(this.geometry.newBucketsPerSourceGroup).fill(-1);
      this.outerBySourceGroup.set(sourceGroup, outer);
    }
    let bucket = outer[slot]!;
    if (bucket < 0) {
      bucket = this.hash('new-bucket', sourceGroup, String(slot)) % this.geometry.newBucketCount;
      outer[slot] = bucket;
    }
    if (this.newBucketMemo.size >= BUCKET_HASH_MEMO_ENTRIES) this.newBucketMemo.clear();
    this.newBucketMemo.set(memoKey, bucket);
    return bucket;
  }

  oldBucket(address: string, group: string): number {
    const slot = this.hash('old-slot', address) % this.geometry.oldBucketsPerGroup;
    return this.hash('old-bucket', group, String(slot)) % this.geometry.oldBucketCount;
  }

  /** First 32 bits of HMAC-SHA-256(key, parts joined by NUL, which no address or group contains). */
  private hash(...parts: string[]): number {
    return this.keyed.hash(parts.join('\u0000'));
  }
}

/**
 * A fixed number of fixed-size buckets, each allocated when it first holds an entry (a book with a
 * thousand buckets and ten entries costs ten small arrays). It also tracks which buckets are non-empty
 * so that a random pick costs O(1) and cannot spin on empty buckets whatever the random source does.
 */
export class BucketTable {
  private readonly buckets = new Map<number, KnownAddress[]>();
  /** Non-empty bucket numbers, in no order, and where each sits in that list (for swap-removal). */
  private readonly nonEmpty: number[] = [];
  private readonly nonEmptyPosition = new Map<number, number>();

  constructor(
    readonly count: number,
    readonly size: number,
  ) {}

  entries(bucket: number): readonly KnownAddress[] {
    return this.buckets.get(bucket) ?? NO_ENTRIES;
  }

  isFull(bucket: number): boolean {
    return this.entries(bucket).length >= this.size;
  }

  contains(bucket: number, entry: KnownAddress): boolean {
    return this.entries(bucket).includes(entry);
  }

  /** Caller guarantees room (evict first) and that the entry is not already in this bucket. */
  add(bucket: number, entry: KnownAddress): void {
    if (!(bucket >= 0 && bucket < this.count)) throw new RangeError(`Address book bucket ${bucket} is out of range`);
    const list = this.buckets.get(bucket);
    if (list === undefined) {
      this.buckets.set(bucket, [entry]);
      this.nonEmptyPosition.set(bucket, this.nonEmpty.length);
      this.nonEmpty.push(bucket);
      return;
    }
    if (list.length >= this.size) throw new Error(`Address book bucket ${bucket} is full`);
    // A new array of the exact length (at most bucketSize copies): push would reserve ~17 slots per
    // bucket, and a sparse book's buckets mostly hold one or two entries.
    this.buckets.set(bucket, list.concat(entry));
  }

  remove(bucket: number, entry: KnownAddress): boolean {
    const list = this.buckets.get(bucket);
    const at = list?.indexOf(entry) ?? -1;
    if (list === undefined || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) {
      this.buckets.delete(bucket);
      const position = this.nonEmptyPosition.get(bucket)!;
      const last = this.nonEmpty.pop()!;
      if (last !== bucket) {
        this.nonEmpty[position] = last;
        this.nonEmptyPosition.set(last, position);
      }
      this.nonEmptyPosition.delete(bucket);
    }
    return true;
  }

  get nonEmptyCount(): number {
    return this.nonEmpty.length;
  }

  /** A uniformly random non-empty bucket, then a uniformly random entry in it (addrman's pick). */
  pick(random: () => number): KnownAddress | undefined {
    if (this.nonEmpty.length === 0) return undefined;
    const list = this.buckets.get(this.nonEmpty[randomInt(random, this.nonEmpty.length)]!)!;
    return list[randomInt(random, list.length)];
  }

  /** The non-empty buckets and their entries, for invariant checks. */
  allocated(): IterableIterator<[number, readonly KnownAddress[]]> {
    return this.buckets.entries();
  }

  clear(): void {
    this.buckets.clear();
    this.nonEmpty.length = 0;
    this.nonEmptyPosition.clear();
  }
}

const NO_ENTRIES: readonly KnownAddress[] = Object.freeze([]);
