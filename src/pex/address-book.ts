import { randomBytes } from '@noble/hashes/utils.js';
import { ConfigError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { formatAddress, isNodeId, parseAddress } from '../transport/address.js';
import { systemClock } from '../util/clock.js';
import type { Clock } from '../util/clock.js';
import { BanList } from './address-book-bans.js';
import { visitRandomIndices } from './address-book-buckets.js';
import { checkAddressBookInvariants } from './address-book-check.js';
import { decodeAddressBook, encodeAddressBook, serializeEntry, type SerializedEntry } from './address-book-format.js';
import { AddressBookStore, type AutoSave } from './address-book-store.js';
import { AddressTables } from './address-book-tables.js';
import { resolveAddressBookConfig, type AddressBookConfig } from './config.js';
import {
  ADDRESS_BOOK_STORAGE_KEY,
  AUTO_SAVE_INTERVAL_MS,
  BUCKET_KEY_BYTES,
  GET_SELECTION_PERCENT,
  GROUP_FAIR_PICK_DRAWS,
  MAX_BAN_MS,
  MAX_GET_SELECTION,
  MAX_STORED_ANCHORS,
  MIN_GET_SELECTION,
} from './constants.js';
import { AddressAdmission, newEntry, type AddOutcome, type Candidate, type Rejection } from './address-book-admission.js';
import { canonicalAddress, isBad, locationOf, toInfo, type KnownAddress, type KnownAddressInfo } from './known-address.js';

export type { BucketType, KnownAddressInfo } from './known-address.js';
export type { AddOutcome } from './address-book-admission.js';
export type { AutoSave } from './address-book-store.js';

/** What tryAddAddresses did with a batch. */
export interface BatchOutcome {
  /** New entries made. */
  readonly added: number;
  /** The first address that does not parse or names no node; when set, nothing was added. */
  readonly refused?: { readonly address: string; readonly outcome: 'invalid-address' | 'no-node-id' };
}

export interface AddressBookOptions extends Partial<AddressBookConfig> {
  /** Our node id: addresses naming it are refused. */
  ourNodeId?: string;
  /** Addresses we listen on, as for addOurAddress(). */
  ourAddresses?: readonly string[];
  /** Also accept loopback, private, link-local and reserved hosts and memory:// (tests, LANs). @default false */
  allowLocal?: boolean;
  /** Where save() and load() keep the book. */
  storage?: Storage;
  /** @default 'address-book' */
  storageKey?: string;
  /** Time and timers (auto-save). @default systemClock */
  clock?: Clock;
  /** Time in ms, overriding `clock.now`. @default clock.now */
  now?: () => number;
  /** Uniform [0, 1) source for bucket picks and samples (not for the bucket key). @default Math.random */
  random?: () => number;
  /** 32-byte secret salting bucket placement. @default random bytes; load() replaces it with the stored one */
  bucketKey?: Uint8Array;
  /** Receives load() warnings and auto-save failures. */
  onWarning?: (message: string) => void;
}

export interface AddressBookStats {
  readonly size: number;
  readonly newCount: number;
  readonly oldCount: number;
  readonly capacity: number;
  readonly bannedCount: number;
  readonly nonEmptyNewBuckets: number;
  readonly nonEmptyOldBuckets: number;
  /** Tried-table collisions waiting for a test of the entry they would evict. */
  readonly pendingCollisions: number;
}

export interface LoadResult {
  /** Entries in the book after loading. */
  readonly loaded: number;
  /** Stored entries dropped (malformed, now refused, over capacity). */
  readonly skipped: number;
  /** Set when the stored value was unreadable, corrupt or partly invalid; the book is then empty or partial. */
  readonly warning?: string;
}

/**
 * The bucketed address book of the PEX agent (Bitcoin addrman, CometBFT p2p/pex/addrbook.go).
 * Addresses a peer tells us about enter "new" buckets chosen by a keyed hash of their group and their
 * source's group, so one source reaches only newBucketsPerSourceGroup buckets and at most
 * maxAddressesPerSourceGroup entries however much it sends. A successful connection (markGood) moves
 * an address to an "old" (tried) bucket, keyed by the address and its group; when that bucket is full
 * the incumbent is tested first (test-before-evict). Memory is bounded by the bucket geometry:
 * size() <= capacity always. Synchronous and single-threaded; only save/load await. The stored form
 * is address-book-format.ts; the tables are address-book-tables.ts.
 */
export class AddressBook {
  readonly config: Readonly<AddressBookConfig>;
  /** Most entries the book can ever hold: (newBucketCount + oldBucketCount) * bucketSize. */
  readonly capacity: number;
  readonly allowLocal: boolean;
  private readonly tables: AddressTables;
  private readonly bans: BanList;
  private readonly admission: AddressAdmission;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly store: AddressBookStore;
  private readonly onWarning: ((message: string) => void) | undefined;
  private key: Uint8Array;
  private anchorList: string[] = [];
  /** Something changed since the last successful save. */
  private dirty = false;

  constructor(options: AddressBookOptions = {}) {
    this.config = resolveAddressBookConfig(options);
    const key = options.bucketKey ?? randomBytes(BUCKET_KEY_BYTES);
    if (key.length !== BUCKET_KEY_BYTES) {
      throw new ConfigError('ERR_INVALID_CONFIG', `bucketKey must be ${BUCKET_KEY_BYTES} bytes, got ${key.length}`);
    }
    this.key = key.slice();
    const clock = options.clock ?? systemClock;
    this.now = options.now ?? (() => clock.now());
    this.random = options.random ?? Math.random;
    this.allowLocal = options.allowLocal ?? false;
    this.store = new AddressBookStore(options.storage, options.storageKey ?? ADDRESS_BOOK_STORAGE_KEY, clock);
    this.onWarning = options.onWarning;
    this.tables = new AddressTables(this.config, this.key, this.random);
    this.bans = new BanList(this.config.maxBannedNodeIds);
    this.capacity = (this.config.newBucketCount + this.config.oldBucketCount) * this.config.bucketSize;
    this.admission = new AddressAdmission(this.bans, this.allowLocal);
    if (options.ourNodeId !== undefined) this.admission.addOurNodeId(options.ourNodeId);
    for (const address of options.ourAddresses ?? []) this.addOurAddress(address);
  }

  /**
   * Learns `address` from `source` (the node id, or better the remote address, of the peer that sent
   * it; the address itself for seeds and config). True when it became a new entry.
   */
  addAddress(address: string, source: string): boolean {
    return this.tryAddAddress(address, source) === 'added';
  }

  /** addAddress with the reason, so the PEX agent can tell a misbehaving peer from a repeat. */
  tryAddAddress(address: string, source: string): AddOutcome {
    const nowMs = this.now();
    const checked = this.check(address, source, nowMs);
    return typeof checked === 'string' ? checked : this.addChecked(checked, source, nowMs);
  }

  /**
   * Learns a peer's answer as one batch: every address is checked first, and when one does not parse
   * or names no node nothing is added and that address is returned as `refused` (an honest peer never
   * sends one). Otherwise they are added in order until `maxNew` became new entries; the rest are
   * ignored. Each address is parsed at most once, and not at all when the book holds it as written.
   */
  tryAddAddresses(addresses: readonly string[], source: string, maxNew: number): BatchOutcome {
    const nowMs = this.now();
    const checked: (KnownAddress | Candidate | Rejection)[] = [];
    for (const address of addresses) {
      const item = this.check(address, source, nowMs);
      if (item === 'invalid-address' || item === 'no-node-id') return { added: 0, refused: { address, outcome: item } };
      checked.push(item);
    }
    let added = 0;
    for (const item of checked) {
      if (added >= maxNew) break;
      if (typeof item !== 'string' && this.addChecked(item, source, nowMs) === 'added') added++;
    }
    return { added };
  }

  /** The entry when the book holds `address` as written (it passed examine() then), else examine()'s verdict. */
  private check(address: string, source: string, nowMs: number): KnownAddress | Candidate | Rejection {
    return this.tables.byAddress.get(address) ?? this.admission.examine(String(address), String(source), nowMs);
  }

  private addChecked(checked: KnownAddress | Candidate, source: string, nowMs: number): AddOutcome {
    if (isKnownAddress(checked)) {
      const examinedSource = this.admission.examineSource(String(source));
      if (examinedSource === undefined) return 'invalid-source';
      // In a batch, an insert before this one may have evicted it: then it comes in afresh, as it would
      // have if the addresses had been added one by one.
      if (this.tables.byAddress.get(checked.address) !== checked) {
        const again = this.admission.examine(checked.address, source, nowMs);
        return typeof again === 'string' ? again : this.addChecked(again, source, nowMs);
      }
      this.tables.addReference(checked, examinedSource.sourceGroup, nowMs);
      this.dirty = true;
      return 'known';
    }
    const candidate = checked;
    const existing = this.tables.byAddress.get(candidate.address);
    if (existing !== undefined) {
      this.tables.addReference(existing, candidate.sourceGroup, nowMs);
      this.dirty = true;
      return 'known';
    }
    if (this.tables.entriesFromSourceGroup(candidate.sourceGroup) >= this.config.maxAddressesPerSourceGroup) return 'source-full';
    if (!this.tables.makeRoomForNode(candidate.nodeId, nowMs)) return 'too-many-addresses';
    this.dirty = true;
    this.tables.insertNew(newEntry(candidate, nowMs), nowMs);
    return 'added';
  }

  /** Forgets an address, or every address of a node id. True if anything was removed. */
  removeAddress(addressOrId: string): boolean {
    const id = this.nodeIdOf(addressOrId);
    const targets =
      id !== undefined && id === addressOrId.toLowerCase()
        ? [...this.tables.byNodeId.entriesOf(id)]
        : [this.resolve(addressOrId)].filter((entry): entry is KnownAddress => entry !== undefined);
    for (const entry of targets) this.tables.remove(entry);
    if (targets.length > 0) this.dirty = true;
    return targets.length > 0;
  }

  /** Records a dial attempt (call before dialling). False if the address is not in the book. */
  markAttempt(addressOrId: string): boolean {
    const entry = this.resolve(addressOrId);
    if (entry === undefined) return false;
    entry.attempts++;
    entry.lastAttempt = this.now();
    this.dirty = true;
    return true;
  }

  /**
   * Records a successful connection and handshake: resets attempts and moves the address to its old
   * bucket, or, when that bucket is full, leaves it new until the entry it would evict has been tested
   * (see pickFeelerAddress). Pass the address dialled when possible; with a bare id the most recently
   * tried one counts. False (and nothing recorded) if the address is not in the book: add it first.
   */
  markGood(addressOrId: string): boolean {
    const entry = this.resolve(addressOrId);
    if (entry === undefined) return false;
    const nowMs = this.now();
    entry.attempts = 0;
    entry.lastAttempt = nowMs;
    entry.lastSuccess = nowMs;
    entry.lastSeen = nowMs;
    this.tables.noteFirstHand(entry);
    this.tables.promote(entry, nowMs);
    this.dirty = true;
    return true;
  }

  /**
   * Bans the node an address (or id) names for `banMs` (capped at MAX_BAN_MS): its addresses leave the
   * book and are refused until the ban ends, then reinstateExpiredBans() puts them back. False when the
   * argument names no node. Throws ConfigError on a negative or non-numeric banMs.
   */
  markBad(addressOrId: string, banMs: number): boolean {
    if (typeof banMs !== 'number' || !(banMs >= 0)) {
      throw new ConfigError('ERR_INVALID_ARGUMENT', `banMs must be a non-negative number, got ${String(banMs)}`);
    }
    const nodeId = this.nodeIdOf(addressOrId);
    if (nodeId === undefined) return false;
    const nowMs = this.now();
    const entries = [...this.tables.byNodeId.entriesOf(nodeId)];
    const saved = entries.map((entry) => ({ ...serializeEntry(entry), lastBanTime: nowMs }));
    for (const entry of entries) this.tables.remove(entry);
    this.bans.ban(nodeId, nowMs + Math.min(banMs, MAX_BAN_MS), saved);
    this.anchorList = this.anchorList.filter((anchor) => this.nodeIdOf(anchor) !== nodeId);
    this.dirty = true;
    return true;
  }

  /** True while the node an address (or id) names is banned. */
  isBanned(addressOrId: string): boolean {
    const nodeId = this.nodeIdOf(addressOrId);
    return nodeId !== undefined && this.bans.isBanned(nodeId, this.now());
  }

  /** Ends the bans that ran out and puts their addresses back in new buckets. Returns how many came back. */
  reinstateExpiredBans(): number {
    const nowMs = this.now();
    let reinstated = 0;
    for (const ban of this.bans.takeExpired(nowMs)) {
      for (const saved of ban.entries.slice(0, this.config.maxAddressesPerNodeId)) {
        if (this.restoreEntry(saved, nowMs, false, true)) reinstated++;
      }
      this.dirty = true;
    }
    return reinstated;
  }

  /**
   * A random address to dial: from the old or the new table with CometBFT's weighting
   * (sqrt(count) * bias), i.e. exactly `biasTowardsNewPercent`% new when both tables are the same size;
   * then a random non-empty bucket and a random entry in it, so a flooded group weighs no more than its
   * few buckets. Falls back to the other table when the chosen one is empty.
   */
  pickAddress(biasTowardsNewPercent: number): string | undefined {
    if (typeof biasTowardsNewPercent !== 'number' || Number.isNaN(biasTowardsNewPercent)) {
      throw new ConfigError('ERR_INVALID_ARGUMENT', `bias must be a number in 0..100, got ${String(biasTowardsNewPercent)}`);
    }
    const bias = Math.min(100, Math.max(0, biasTowardsNewPercent));
    const oldCount = this.tables.oldCount;
    const newCount = this.tables.size - oldCount;
    if (oldCount + newCount === 0) return undefined;
    const oldWeight = Math.sqrt(oldCount) * (100 - bias);
    const newWeight = Math.sqrt(newCount) * bias;
    let fromOld = this.random() * (oldWeight + newWeight) < oldWeight;
    if (fromOld && oldCount === 0) fromOld = false;
    if (!fromOld && newCount === 0) fromOld = true;
    const table = fromOld ? this.tables.oldTable : this.tables.newTable;
    // Each network group about equally likely, whatever its number of entries: a bucket pick alone
    // weighs groups so only once the book is full (addrman's regime); in a sparse book every entry is
    // alone in its bucket, and whoever has many addresses in few groups would be picked in proportion.
    // An entry in k new buckets is drawn k times as often: kept with 1/k more, so that many sources
    // naming one address (a coalition vouching for its own) do not make it likelier to be dialled.
    let picked = table.pick(this.random);
    for (let draw = 1; picked !== undefined && draw < GROUP_FAIR_PICK_DRAWS; draw++) {
      if (this.random() * this.tables.entriesInGroup(picked.group) * picked.buckets.length < 1) break;
      picked = table.pick(this.random);
    }
    return picked?.address;
  }

  /**
   * The address for the next feeler connection (Heilman et al. §6, Bitcoin's feelers): first settles
   * the tried collisions whose test is done, then offers the incumbent of a pending collision to test,
   * else a random new entry, whose success moves it to the tried table. Undefined when there is none.
   */
  pickFeelerAddress(): string | undefined {
    const nowMs = this.now();
    this.tables.resolveCollisions(nowMs);
    this.dirty = true;
    return (this.tables.collisionToTest(nowMs) ?? this.tables.newTable.pick(this.random))?.address;
  }

  /** Settles the tried collisions whose incumbent was tested (or not within the test window). */
  resolveCollisions(): void {
    this.tables.resolveCollisions(this.now());
    this.dirty = true;
  }

  /**
   * How many addresses getSelection aims for: at most `max`, at most MAX_GET_SELECTION, and otherwise
   * GET_SELECTION_PERCENT% of the book but at least MIN_GET_SELECTION.
   */
  selectionSize(max: number = MAX_GET_SELECTION): number {
    const size = this.tables.size;
    const share = Math.max(Math.min(MIN_GET_SELECTION, size), Math.floor((size * GET_SELECTION_PERCENT) / 100));
    const wanted = Math.min(Math.floor(max), MAX_GET_SELECTION, share);
    return wanted > 0 ? wanted : 0;
  }

  /**
   * A uniform random sample of good (not bad) addresses for a pexResponse, of selectionSize(max)
   * addresses when the book has them; `accept` leaves out addresses the caller will not send.
   */
  getSelection(max: number = MAX_GET_SELECTION, accept?: (address: string) => boolean): string[] {
    return sampleGood(this.tables.all, this.selectionSize(max), this.now(), this.random, accept);
  }

  /**
   * Up to `max` good first-hand addresses (reached by us, or heard of from the node itself), a uniform
   * random subset in random order, drawn from the first-hand index: costs what it returns, not the book.
   */
  sampleFirstHand(max: number, accept?: (address: string) => boolean): string[] {
    return sampleGood(this.tables.firstHand, Math.max(0, Math.floor(max)), this.now(), this.random, accept);
  }

  /**
   * Remembers the outbound peers to dial first at the next start (Bitcoin's anchors), at most
   * MAX_STORED_ANCHORS, saved with the book. Replaces the previous anchors.
   */
  setAnchors(addresses: readonly string[]): void {
    this.anchorList = [...new Set(addresses)].filter((address) => canonicalAddress(address)?.nodeId !== undefined).slice(0, MAX_STORED_ANCHORS);
    this.dirty = true;
  }

  /** The anchors loaded or set, which stay until setAnchors replaces them. */
  anchors(): string[] {
    return [...this.anchorList];
  }

  /** Number of entries (new + old). */
  size(): number {
    return this.tables.size;
  }

  /** True while the book is smaller than needAddressThreshold: time to ask peers for addresses. */
  needMoreAddresses(): boolean {
    return this.tables.size < this.config.needAddressThreshold;
  }

  /** True if the address, or any address of the node id, is in the book. */
  has(addressOrId: string): boolean {
    return this.resolve(addressOrId) !== undefined;
  }

  /** A copy of what the book knows about an address (or the node id's most recently tried one). */
  get(addressOrId: string): KnownAddressInfo | undefined {
    const entry = this.resolve(addressOrId);
    return entry === undefined ? undefined : toInfo(entry, this.now());
  }

  /** Every address known for a node id, e.g. to pick one whose transport we have. */
  addressesOf(nodeId: string): string[] {
    return this.tables.byNodeId.entriesOf(nodeId.toLowerCase()).map((entry) => entry.address);
  }

  /** Calls `visit` once per node id in the book with how many of its addresses the book holds; copies nothing. */
  forEachNodeId(visit: (nodeId: string, addressCount: number) => void): void {
    this.tables.byNodeId.forEachCount(visit);
  }

  /** Copies of all entries, in no particular order. */
  entries(): KnownAddressInfo[] {
    const nowMs = this.now();
    return this.tables.all.map((entry) => toInfo(entry, nowMs));
  }

  /** The entries whose source names one of `nodeIds` (e.g. our seeds), without copying the others. */
  entriesLearnedFrom(nodeIds: ReadonlySet<string>): KnownAddressInfo[] {
    if (nodeIds.size === 0) return [];
    const nowMs = this.now();
    const found: KnownAddressInfo[] = [];
    for (const entry of this.tables.all) if (nodeIds.has(entry.sourceNodeId)) found.push(toInfo(entry, nowMs));
    return found;
  }

  /**
   * Declares a place we listen at. Addresses there, whatever node id they claim, are refused from then
   * on and removed now. Only the place counts, not the id in `address`: after a self-dial the id an
   * address claimed belongs to someone else (or no one), and refusing it would shut out a real node.
   * Our own id comes from the ourNodeId option. Throws ConfigError for an address that does not parse.
   */
  addOurAddress(address: string): void {
    const location = locationOf(parseAddress(address));
    this.admission.addOurLocation(location);
    for (const entry of [...this.tables.all]) {
      if (locationOf(parseAddress(entry.address)) === location) {
        this.tables.remove(entry);
        this.dirty = true;
      }
    }
  }

  /** True if the address names our node id or one of our places. */
  isOurAddress(address: string): boolean {
    try {
      return this.admission.isOurs(parseAddress(address));
    } catch {
      return false;
    }
  }

  /** Removes every bad entry (stale or failing, see isBad) now rather than when a bucket fills. */
  removeBad(): number {
    const nowMs = this.now();
    const bad = this.tables.all.filter((entry) => isBad(entry, nowMs));
    for (const entry of bad) this.tables.remove(entry);
    if (bad.length > 0) this.dirty = true;
    return bad.length;
  }

  /** Forgets every entry, ban and anchor. Keeps the bucket key and our own addresses. */
  clear(): void {
    this.reset();
    this.dirty = true;
  }

  stats(): AddressBookStats {
    return {
      size: this.tables.size,
      newCount: this.tables.size - this.tables.oldCount,
      oldCount: this.tables.oldCount,
      capacity: this.capacity,
      bannedCount: this.bans.size,
      nonEmptyNewBuckets: this.tables.newTable.nonEmptyCount,
      nonEmptyOldBuckets: this.tables.oldTable.nonEmptyCount,
      pendingCollisions: this.tables.pendingCollisions().length,
    };
  }

  /** Consistency check of every index and bucket (addrman's -checkaddrman). [] when all is well. */
  selfCheck(): string[] {
    return checkAddressBookInvariants(this.tables);
  }

  /** True when something changed since the last successful save. */
  get isDirty(): boolean {
    return this.dirty;
  }

  /**
   * Writes the book (format version, bucket key, entries, bans, anchors, collisions) to storage under
   * storageKey. Saves are serialised, each writing the state at the moment it starts. Rejects with the
   * storage's error.
   */
  async save(): Promise<void> {
    await this.store.write(
      () => {
        this.dirty = false;
        const { newBucketCount, oldBucketCount, bucketSize } = this.config;
        return encodeAddressBook({
          key: this.key,
          geometry: { newBucketCount, oldBucketCount, bucketSize },
          savedAt: this.now(),
          entries: this.tables.all.map(serializeEntry),
          bans: this.bans.list(),
          anchors: this.anchors(),
          collisions: this.tables.pendingCollisions(),
        });
      },
      () => {
        this.dirty = true;
      },
    );
  }

  /**
   * Replaces the book's contents with the stored ones (nothing stored: the book is left as it is).
   * Never rejects over bad data: an unreadable, truncated or corrupt value leaves an empty book and a
   * warning (also passed to onWarning). Stored entries get the same checks as addAddress. A book saved
   * in format version 1 or with another geometry is re-bucketed under this book's geometry.
   */
  async load(): Promise<LoadResult> {
    const read = await this.store.read();
    if (!read.ok) return this.loadFailed(read.reason);
    if (read.bytes === undefined) return { loaded: this.tables.size, skipped: 0 };
    const decoded = decodeAddressBook(read.bytes);
    if (!decoded.ok) return this.loadFailed(`stored address book ignored: ${decoded.reason}`);
    const { snapshot } = decoded;
    this.reset();
    this.key = snapshot.key;
    this.tables.rekey(snapshot.key);
    const { newBucketCount, oldBucketCount, bucketSize } = snapshot.geometry;
    const sameGeometry =
      newBucketCount === this.config.newBucketCount && oldBucketCount === this.config.oldBucketCount && bucketSize === this.config.bucketSize;
    const nowMs = this.now();
    for (const ban of snapshot.bans) {
      this.bans.ban(ban.nodeId, Math.min(ban.bannedUntil, nowMs + MAX_BAN_MS), ban.entries.slice(0, this.config.maxAddressesPerNodeId));
    }
    for (const saved of snapshot.entries) this.restoreEntry(saved, nowMs, sameGeometry, false);
    for (const collision of snapshot.collisions) this.tables.restoreCollision(collision, nowMs);
    this.anchorList = snapshot.anchors.filter((anchor) => canonicalAddress(anchor)?.nodeId !== undefined && !this.isBanned(anchor));
    // Counted from the result: an entry can also be lost later in the loop, evicted by a smaller geometry.
    const skipped = decoded.skipped + snapshot.entries.length - this.tables.size;
    this.dirty = false;
    this.reinstateExpiredBans(); // bans that ended while we were down; marks the book dirty if any did
    if (skipped > 0) this.dirty = true;
    if (skipped <= 0) return { loaded: this.tables.size, skipped: 0 };
    const warning = `${skipped} stored address book entries were invalid, refused or over capacity and were dropped`;
    this.onWarning?.(warning);
    return { loaded: this.tables.size, skipped, warning };
  }

  /** Saves every `intervalMs` when something changed; failures go to onWarning. One at a time. */
  startAutoSave(intervalMs: number = AUTO_SAVE_INTERVAL_MS): AutoSave {
    return this.store.startAutoSave(
      intervalMs,
      () => this.dirty,
      () => this.save(),
      (error) => this.onWarning?.(`address book auto-save failed: ${error.message}`),
    );
  }

  /**
   * Re-inserts a persisted or banned entry after the same checks addAddress makes (the per-source cap
   * included). Returns false when the entry was dropped.
   */
  private restoreEntry(saved: SerializedEntry, nowMs: number, sameGeometry: boolean, forceNew: boolean): boolean {
    const candidate = this.admission.examine(saved.address, saved.source, nowMs);
    if (typeof candidate === 'string' || this.tables.byAddress.has(candidate.address)) return false;
    if (this.tables.entriesFromSourceGroup(candidate.sourceGroup) >= this.config.maxAddressesPerSourceGroup) return false;
    if (!this.tables.makeRoomForNode(candidate.nodeId, nowMs)) return false;
    const entry = newEntry(candidate, nowMs);
    // Times from a clock that ran ahead would make an entry look fresh forever.
    entry.attempts = Math.min(saved.attempts, 1_000_000);
    entry.lastAttempt = Math.min(saved.lastAttempt, nowMs);
    entry.lastSuccess = Math.min(saved.lastSuccess, nowMs);
    entry.lastSeen = Math.min(saved.lastSeen, nowMs);
    entry.lastBanTime = Math.min(saved.lastBanTime, nowMs);
    this.tables.restore(entry, saved, nowMs, sameGeometry, forceNew);
    return true;
  }

  /**
   * The entry meant by an address or a node id. For an id with several addresses: the one tried
   * most recently (most likely the one just dialled), old before new on a tie.
   */
  private resolve(addressOrId: string): KnownAddress | undefined {
    // Callers mostly pass an address the book handed out, already in its canonical spelling (which no
    // node id is): found without parsing.
    const exact = this.tables.byAddress.get(addressOrId);
    if (exact !== undefined) return exact;
    const id = addressOrId.toLowerCase();
    if (isNodeId(id)) {
      let best: KnownAddress | undefined;
      for (const entry of this.tables.byNodeId.entriesOf(id)) {
        if (
          best === undefined ||
          entry.lastAttempt > best.lastAttempt ||
          (entry.lastAttempt === best.lastAttempt && entry.bucketType === 'old' && best.bucketType === 'new')
        ) {
          best = entry;
        }
      }
      return best;
    }
    const parsed = canonicalAddress(addressOrId);
    return parsed === undefined ? undefined : this.tables.byAddress.get(formatAddress(parsed));
  }

  /** The node id an address or id names, or undefined. */
  private nodeIdOf(addressOrId: string): string | undefined {
    const id = addressOrId.toLowerCase();
    return isNodeId(id) ? id : canonicalAddress(addressOrId)?.nodeId;
  }

  private reset(): void {
    this.tables.clear();
    this.bans.clear();
    this.anchorList = [];
  }

  private loadFailed(warning: string): LoadResult {
    this.reset();
    this.dirty = true;
    this.onWarning?.(warning);
    return { loaded: 0, skipped: 0, warning };
  }
}

/** Up to `wanted` good addresses of `entries` that `accept` takes, visited in random order. */
function sampleGood(entries: readonly KnownAddress[], wanted: number, nowMs: number, random: () => number, accept?: (address: string) => boolean): string[] {
  const selection: string[] = [];
  if (wanted === 0) return selection;
  visitRandomIndices(entries.length, random, (index) => {
    const picked = entries[index]!;
    if (!isBad(picked, nowMs) && (accept === undefined || accept(picked.address))) selection.push(picked.address);
    return selection.length < wanted;
  });
  return selection;
}

function isKnownAddress(item: KnownAddress | Candidate): item is KnownAddress {
  return 'bucketType' in item;
}
