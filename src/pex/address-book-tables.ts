import { BucketHasher, BucketTable, randomInt } from './address-book-buckets.js';
import type { SerializedCollision, SerializedEntry } from './address-book-format.js';
import type { AddressBookConfig } from './config.js';
import {
  MAX_TRIED_COLLISIONS,
  RECENT_ATTEMPT_GRACE_MS,
  TRIED_COLLISION_TEST_WINDOW_MS,
  TRIED_REPLACEMENT_PROTECTION_MS,
} from './constants.js';
import { NodeIdIndex } from './address-book-node-index.js';
import { freshness, isBad, isFirstHand, type KnownAddress } from './known-address.js';

/** What a successful connection did to a new entry: moved to the tried table, or waits for a test. */
export type PromoteOutcome = 'moved' | 'collision' | 'kept-new';

/**
 * The address book's two bucket tables and their indexes (addrman's vvNew/vvTried and mapInfo).
 * Every entry sits in 1..maxNewBucketsPerAddress new buckets or in exactly one old (tried) bucket, and
 * is indexed (byAddress, byNodeId, all, per source group) exactly while it sits in at least one bucket.
 * Since buckets never exceed bucketSize, the number of entries never exceeds the number of slots.
 * Placement is a keyed hash (BucketHasher), so only the holder of the key can predict it.
 * Not re-entrant; every method runs to completion synchronously.
 */
export class AddressTables {
  readonly newTable: BucketTable;
  readonly oldTable: BucketTable;
  readonly byAddress = new Map<string, KnownAddress>();
  readonly byNodeId = new NodeIdIndex();
  /** Flat list of every entry, for uniform sampling. */
  readonly all: KnownAddress[] = [];
  /** The entries that are first-hand (isFirstHand), for answering requests without a scan. */
  readonly firstHand: KnownAddress[] = [];
  oldCount = 0;
  /** Entries per source group; its keys are a subset of the entries' source groups, so it is bounded too. */
  private readonly perSourceGroup = new Map<string, number>();
  /** Entries per network group (an address's /16), likewise bounded by the entries. */
  private readonly perGroup = new Map<string, number>();
  /** New entries that proved good but whose tried bucket is full: address → when (test-before-evict). */
  private readonly collisions = new Map<string, number>();
  private hasher: BucketHasher;

  constructor(
    readonly config: Readonly<AddressBookConfig>,
    key: Uint8Array,
    private readonly random: () => number,
  ) {
    this.newTable = new BucketTable(config.newBucketCount, config.bucketSize);
    this.oldTable = new BucketTable(config.oldBucketCount, config.bucketSize);
    this.hasher = new BucketHasher(key, config);
  }

  rekey(key: Uint8Array): void {
    this.hasher = new BucketHasher(key, this.config);
  }

  get size(): number {
    return this.all.length;
  }

  entriesFromSourceGroup(sourceGroup: string): number {
    return this.perSourceGroup.get(sourceGroup) ?? 0;
  }

  entriesInGroup(group: string): number {
    return this.perGroup.get(group) ?? 0;
  }

  newBucketOf(entry: Pick<KnownAddress, 'group' | 'sourceGroup'>): number {
    return this.hasher.newBucket(entry.group, entry.sourceGroup);
  }

  oldBucketOf(entry: Pick<KnownAddress, 'address' | 'group'>): number {
    return this.hasher.oldBucket(entry.address, entry.group);
  }

  /**
   * Makes room for one more address of `nodeId` by dropping one of its bad new entries; false if none.
   * A `firstHand` address (the node's own word, or one we reached it at) may also displace a new entry
   * that is hearsay: anyone can fill a node id's slots with made-up addresses for it, which would
   * otherwise keep out the node's real ones until each made-up one had failed three dials.
   */
  makeRoomForNode(nodeId: string, nowMs: number, firstHand = false): boolean {
    if (this.byNodeId.count(nodeId) < this.config.maxAddressesPerNodeId) return true;
    let hearsay: KnownAddress | undefined;
    for (const sibling of this.byNodeId.entriesOf(nodeId)) {
      if (sibling.bucketType !== 'new') continue;
      if (isBad(sibling, nowMs)) {
        this.remove(sibling);
        return true;
      }
      if (firstHand && !isFirstHand(sibling) && (hearsay === undefined || sibling.lastSeen < hearsay.lastSeen)) hearsay = sibling;
    }
    if (hearsay === undefined) return false;
    this.remove(hearsay);
    return true;
  }

  /** Puts a fresh (unindexed) entry into the new bucket its group and source group map to. */
  insertNew(entry: KnownAddress, nowMs: number): void {
    this.placeNew(entry, this.newBucketOf(entry), entry.sourceGroup, nowMs);
  }

  /**
   * insertNew for an address a peer just told us of, as addrman settles a collision: a full bucket keeps
   * its entries unless the one that would leave is bad, from the newcomer's own source group, held by
   * another bucket too, or hearsay giving way to the node's own word. Otherwise the newcomer is dropped
   * (false): evicting the least fresh let a flood from other source groups push out, one by one, the
   * honest entries that shared its buckets, since each made-up address was fresher than them.
   */
  insertNewIfRoom(entry: KnownAddress, nowMs: number): boolean {
    const bucket = this.newBucketOf(entry);
    if (this.newTable.isFull(bucket)) {
      const victim = this.worstOf(this.newTable.entries(bucket), entry.sourceGroup, nowMs)!;
      const givesWay =
        isBad(victim, nowMs) || victim.sourceGroup === entry.sourceGroup || victim.buckets.length > 1 || (isFirstHand(entry) && !isFirstHand(victim));
      if (!givesWay) return false;
    }
    this.placeNew(entry, bucket, entry.sourceGroup, nowMs);
    return true;
  }

  /**
   * Another source told us about a known new address: as in addrman, it may join one more new bucket,
   * less likely the more buckets it is already in, so popular addresses get some redundancy without
   * crowding out others. It only takes a slot that is free or held by a bad or redundant entry.
   */
  addReference(entry: KnownAddress, sourceGroup: string, nowMs: number): void {
    if (entry.bucketType === 'old') return;
    entry.lastSeen = Math.max(entry.lastSeen, nowMs);
    if (entry.corroboratedBy === '' && sourceGroup !== entry.sourceGroup) entry.corroboratedBy = sourceGroup;
    if (entry.buckets.length >= this.config.maxNewBucketsPerAddress) return;
    if (randomInt(this.random, 2 * entry.buckets.length) !== 0) return;
    const bucket = this.hasher.newBucket(entry.group, sourceGroup);
    if (entry.buckets.includes(bucket)) return;
    if (this.newTable.isFull(bucket)) {
      const victim = this.worstOf(this.newTable.entries(bucket), sourceGroup, nowMs);
      if (victim === undefined || !(isBad(victim, nowMs) || victim.buckets.length > 1)) return;
    }
    this.placeNew(entry, bucket, sourceGroup, nowMs);
  }

  /**
   * A new entry proved good: it moves to its tried bucket. When that bucket is full and test-before-
   * evict is on, the entry stays new and the collision is remembered (at most MAX_TRIED_COLLISIONS);
   * resolveCollisions() settles it once the incumbent has been tested (Heilman et al. §6).
   */
  promote(entry: KnownAddress, nowMs: number): PromoteOutcome {
    if (entry.bucketType === 'old') return 'moved';
    if (this.config.testBeforeEvict && this.oldTable.isFull(this.oldBucketOf(entry))) {
      if (this.collisions.has(entry.address)) return 'collision';
      if (this.collisions.size >= MAX_TRIED_COLLISIONS) return 'kept-new';
      this.collisions.set(entry.address, nowMs);
      return 'collision';
    }
    this.moveToOld(entry, nowMs);
    return 'moved';
  }

  /**
   * The tried entry a pending collision would evict, for a feeler to test; undefined when no collision
   * waits for a test. Incumbents already tried since their collision are not offered again.
   */
  collisionToTest(nowMs: number): KnownAddress | undefined {
    const waiting: KnownAddress[] = [];
    for (const [address, since] of this.collisions) {
      const incumbent = this.incumbentFor(address, nowMs);
      if (incumbent !== undefined && incumbent.lastAttempt < since) waiting.push(incumbent);
    }
    return waiting.length === 0 ? undefined : waiting[randomInt(this.random, waiting.length)];
  }

  /**
   * Settles the collisions whose fate is known: an incumbent reached within TRIED_REPLACEMENT_
   * PROTECTION_MS stays (the newcomer stays new); one whose test failed (tried since the collision,
   * no success since, the attempt older than RECENT_ATTEMPT_GRACE_MS) or that was not tested within
   * TRIED_COLLISION_TEST_WINDOW_MS goes back to the new table and the newcomer takes its place.
   */
  resolveCollisions(nowMs: number): void {
    for (const [address, since] of [...this.collisions]) {
      const entry = this.byAddress.get(address);
      if (entry === undefined || entry.bucketType === 'old') {
        this.collisions.delete(address);
        continue;
      }
      const bucket = this.oldBucketOf(entry);
      const incumbent = this.worstOf(this.oldTable.entries(bucket), undefined, nowMs);
      if (incumbent === undefined) {
        this.collisions.delete(address);
        this.moveToOld(entry, nowMs);
        continue;
      }
      const reachedRecently = incumbent.lastSuccess > 0 && nowMs - incumbent.lastSuccess < TRIED_REPLACEMENT_PROTECTION_MS;
      const testFailed =
        incumbent.lastAttempt >= since && incumbent.lastSuccess < incumbent.lastAttempt && nowMs - incumbent.lastAttempt >= RECENT_ATTEMPT_GRACE_MS;
      if (reachedRecently && !testFailed) {
        this.collisions.delete(address);
      } else if (testFailed || nowMs - since >= TRIED_COLLISION_TEST_WINDOW_MS) {
        this.collisions.delete(address);
        this.demote(incumbent, bucket, nowMs);
        this.moveToOld(entry, nowMs);
      }
    }
  }

  pendingCollisions(): SerializedCollision[] {
    return [...this.collisions].map(([address, since]) => ({ address, since }));
  }

  restoreCollision(collision: SerializedCollision, nowMs: number): void {
    const entry = this.byAddress.get(collision.address);
    if (entry === undefined || entry.bucketType !== 'new' || this.collisions.size >= MAX_TRIED_COLLISIONS) return;
    this.collisions.set(entry.address, Math.min(collision.since, nowMs));
  }

  /**
   * Re-inserts a persisted entry that passed the book's checks. New entries go back to their recorded
   * buckets when the geometry is unchanged and the buckets have room, otherwise to the bucket their
   * source maps to; old ones to their tried bucket (evicting the worst there back to new).
   */
  restore(entry: KnownAddress, saved: SerializedEntry, nowMs: number, sameGeometry: boolean, forceNew: boolean): void {
    if (saved.bucketType === 'old' && entry.lastSuccess > 0 && !forceNew) {
      this.placeOld(entry, nowMs);
      return;
    }
    if (sameGeometry && !forceNew) {
      for (const bucket of new Set(saved.buckets)) {
        if (entry.buckets.length >= this.config.maxNewBucketsPerAddress) break;
        if (bucket < this.config.newBucketCount && !this.newTable.isFull(bucket)) {
          this.newTable.add(bucket, entry);
          entry.buckets = entry.buckets.concat(bucket);
        }
      }
      if (entry.buckets.length > 0) {
        this.attach(entry);
        return;
      }
    }
    this.insertNew(entry, nowMs);
  }

  remove(entry: KnownAddress): void {
    const table = entry.bucketType === 'old' ? this.oldTable : this.newTable;
    for (const bucket of entry.buckets) table.remove(bucket, entry);
    entry.buckets = [];
    this.detach(entry);
  }

  clear(): void {
    this.newTable.clear();
    this.oldTable.clear();
    this.byAddress.clear();
    this.byNodeId.clear();
    this.perSourceGroup.clear();
    this.perGroup.clear();
    this.collisions.clear();
    for (const entry of this.all) {
      entry.index = -1;
      entry.firstHandIndex = -1;
    }
    this.all.length = 0;
    this.firstHand.length = 0;
    this.oldCount = 0;
  }

  /** The entry that would leave the tried table if the collision of `address` were settled now. */
  private incumbentFor(address: string, nowMs: number): KnownAddress | undefined {
    const entry = this.byAddress.get(address);
    if (entry === undefined || entry.bucketType === 'old') return undefined;
    return this.worstOf(this.oldTable.entries(this.oldBucketOf(entry)), undefined, nowMs);
  }

  /** Puts `entry` (of type new) into `bucket`, evicting from a full bucket first; indexes it if needed. */
  private placeNew(entry: KnownAddress, bucket: number, incomingSourceGroup: string, nowMs: number): void {
    if (this.newTable.isFull(bucket)) this.evictNew(bucket, incomingSourceGroup, nowMs);
    this.newTable.add(bucket, entry);
    // concat makes an array of the exact length; push would reserve ~17 slots (a book holds thousands).
    entry.buckets = entry.buckets.concat(bucket);
    if (entry.index < 0) this.attach(entry);
  }

  /**
   * Puts `entry` (in no bucket) into its old bucket. A full old bucket sends its worst entry back to
   * the new table rather than forgetting it: it did work once (CometBFT moveToOld, addrman).
   */
  private placeOld(entry: KnownAddress, nowMs: number): void {
    const bucket = this.oldBucketOf(entry);
    if (this.oldTable.isFull(bucket)) this.demote(this.worstOf(this.oldTable.entries(bucket), undefined, nowMs)!, bucket, nowMs);
    this.oldTable.add(bucket, entry);
    entry.buckets = [bucket];
    if (entry.index < 0) {
      entry.bucketType = 'old';
      this.attach(entry);
    } else if (entry.bucketType === 'new') {
      entry.bucketType = 'old';
      this.oldCount++;
    }
  }

  private moveToOld(entry: KnownAddress, nowMs: number): void {
    for (const bucket of entry.buckets) this.newTable.remove(bucket, entry);
    entry.buckets = [];
    this.placeOld(entry, nowMs);
  }

  /** A tried entry goes back to the new table (addrman's MakeTried eviction). */
  private demote(victim: KnownAddress, bucket: number, nowMs: number): void {
    this.oldTable.remove(bucket, victim);
    victim.buckets = [];
    victim.bucketType = 'new';
    this.oldCount--;
    this.placeNew(victim, this.newBucketOf(victim), victim.sourceGroup, nowMs);
  }

  private evictNew(bucket: number, incomingSourceGroup: string, nowMs: number): void {
    const victim = this.worstOf(this.newTable.entries(bucket), incomingSourceGroup, nowMs);
    if (victim === undefined) return;
    this.newTable.remove(bucket, victim);
    victim.buckets = victim.buckets.filter((other) => other !== bucket);
    if (victim.buckets.length === 0) this.detach(victim);
  }

  /**
   * The entry to evict: bad ones first (as addrman), then those from the newcomer's own source group,
   * so that a flood mostly churns its own entries, then those still held by another bucket, then the
   * least fresh.
   */
  private worstOf(entries: readonly KnownAddress[], incomingSourceGroup: string | undefined, nowMs: number): KnownAddress | undefined {
    let worst: KnownAddress | undefined;
    let worstFlags = -1;
    let worstFreshness = 0;
    for (const entry of entries) {
      // The first three criteria as bits, most significant first; ties go to the least fresh.
      const flags = (isBad(entry, nowMs) ? 4 : 0) | (entry.sourceGroup === incomingSourceGroup ? 2 : 0) | (entry.buckets.length > 1 ? 1 : 0);
      const entryFreshness = freshness(entry);
      if (worst === undefined || flags > worstFlags || (flags === worstFlags && entryFreshness < worstFreshness)) {
        worst = entry;
        worstFlags = flags;
        worstFreshness = entryFreshness;
      }
    }
    return worst;
  }

  /** Call when an indexed entry may have become first-hand (a success); a no-op if it is indexed so already. */
  noteFirstHand(entry: KnownAddress): void {
    if (entry.index < 0 || entry.firstHandIndex >= 0 || !isFirstHand(entry)) return;
    entry.firstHandIndex = this.firstHand.length;
    this.firstHand.push(entry);
  }

  private attach(entry: KnownAddress): void {
    entry.index = this.all.length;
    this.all.push(entry);
    this.noteFirstHand(entry);
    this.byAddress.set(entry.address, entry);
    this.byNodeId.add(entry);
    this.perSourceGroup.set(entry.sourceGroup, this.entriesFromSourceGroup(entry.sourceGroup) + 1);
    this.perGroup.set(entry.group, this.entriesInGroup(entry.group) + 1);
    if (entry.bucketType === 'old') this.oldCount++;
  }

  private detach(entry: KnownAddress): void {
    const last = this.all.pop()!;
    if (last !== entry) {
      this.all[entry.index] = last;
      last.index = entry.index;
    }
    entry.index = -1;
    if (entry.firstHandIndex >= 0) {
      const lastFirstHand = this.firstHand.pop()!;
      if (lastFirstHand !== entry) {
        this.firstHand[entry.firstHandIndex] = lastFirstHand;
        lastFirstHand.firstHandIndex = entry.firstHandIndex;
      }
      entry.firstHandIndex = -1;
    }
    this.byAddress.delete(entry.address);
    this.collisions.delete(entry.address);
    this.byNodeId.delete(entry);
    const fromGroup = this.entriesFromSourceGroup(entry.sourceGroup) - 1;
    if (fromGroup > 0) this.perSourceGroup.set(entry.sourceGroup, fromGroup);
    else this.perSourceGroup.delete(entry.sourceGroup);
    const inGroup = this.entriesInGroup(entry.group) - 1;
    if (inGroup > 0) this.perGroup.set(entry.group, inGroup);
    else this.perGroup.delete(entry.group);
    if (entry.bucketType === 'old') this.oldCount--;
  }
}
