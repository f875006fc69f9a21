import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import type { KnownAddress } from './known-address.js';

/** A uniform integer in 0..n-1 from a `random()` in [0, 1); tolerant of sources that return 1 or NaN. */
export function randomInt(random: () => number, n: number): number {
  const value = Math.floor(random() * n);
  return value >= 0 && value < n ? value : value >= n ? n - 1 : 0;
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
  constructor(
    private readonly key: Uint8Array,
    private readonly geometry: {
      readonly newBucketCount: number;
      readonly oldBucketCount: number;
      readonly newBucketsPerSourceGroup: number;
      readonly oldBucketsPerGroup: number;
    },
  ) {}

  newBucket(group: string, sourceGroup: string): number {
    const slot = this.hash('new-slot', group, sourceGroup) % this.geometry.newBucketsPerSourceGroup;
    return this.hash('new-bucket', sourceGroup, String(slot)) % this.geometry.newBucketCount;
  }

  oldBucket(address: string, group: string): number {
    const slot = this.hash('old-slot', address) % this.geometry.oldBucketsPerGroup;
    return this.hash('old-bucket', group, String(slot)) % this.geometry.oldBucketCount;
  }

  /** First 32 bits of HMAC-SHA-256(key, parts joined by NUL, which no address or group contains). */
  private hash(...parts: string[]): number {
    const digest = hmac(sha256, this.key, utf8ToBytes(parts.join('\u0000')));
    return ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
  }
}

/**
 * A fixed number of fixed-size buckets. It also tracks which buckets are non-empty so that a random
 * pick costs O(1) and cannot spin on empty buckets whatever the random source does.
 */
export class BucketTable {
  private readonly buckets: KnownAddress[][];
  private readonly nonEmpty: number[] = [];
  private readonly nonEmptyPosition: Int32Array;

  constructor(
    readonly count: number,
    readonly size: number,
  ) {
    this.buckets = Array.from({ length: count }, () => []);
    this.nonEmptyPosition = new Int32Array(count).fill(-1);
  }

  entries(bucket: number): readonly KnownAddress[] {
    return this.buckets[bucket] ?? [];
  }

  isFull(bucket: number): boolean {
    return this.entries(bucket).length >= this.size;
  }

  contains(bucket: number, entry: KnownAddress): boolean {
    return this.entries(bucket).includes(entry);
  }

  /** Caller guarantees room (evict first) and that the entry is not already in this bucket. */
  add(bucket: number, entry: KnownAddress): void {
    const list = this.buckets[bucket]!;
    if (list.length >= this.size) throw new Error(`Address book bucket ${bucket} is full`);
    list.push(entry);
    if (list.length === 1) {
      this.nonEmptyPosition[bucket] = this.nonEmpty.length;
      this.nonEmpty.push(bucket);
    }
  }

  remove(bucket: number, entry: KnownAddress): boolean {
    const list = this.buckets[bucket];
    const at = list?.indexOf(entry) ?? -1;
    if (list === undefined || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) {
      // Swap-remove from the non-empty list.
      const position = this.nonEmptyPosition[bucket]!;
      const last = this.nonEmpty.pop()!;
      if (last !== bucket) {
        this.nonEmpty[position] = last;
        this.nonEmptyPosition[last] = position;
      }
      this.nonEmptyPosition[bucket] = -1;
    }
    return true;
  }

  get nonEmptyCount(): number {
    return this.nonEmpty.length;
  }

  /** A uniformly random non-empty bucket, then a uniformly random entry in it (addrman's pick). */
  pick(random: () => number): KnownAddress | undefined {
    if (this.nonEmpty.length === 0) return undefined;
    const list = this.buckets[this.nonEmpty[randomInt(random, this.nonEmpty.length)]!]!;
    return list[randomInt(random, list.length)];
  }

  /** Sizes of every bucket, for invariant checks and stats. */
  sizes(): number[] {
    return this.buckets.map((list) => list.length);
  }

  clear(): void {
    for (const list of this.buckets) list.length = 0;
    this.nonEmpty.length = 0;
    this.nonEmptyPosition.fill(-1);
  }
}
