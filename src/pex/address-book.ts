import { randomBytes } from '@noble/hashes/utils.js';
import { ConfigError } from '../errors.js';
import { parseAddress } from '../transport/address.js';
import { systemClock } from '../util/clock.js';
import { AddressAdmission, type AddOutcome } from './address-book-admission.js';
import { AnchorList } from './address-book-anchors.js';
import { BanList } from './address-book-bans.js';
import { checkAddressBookInvariants } from './address-book-check.js';
import { serializeEntry } from './address-book-format.js';
import { AddressIntake } from './address-book-intake.js';
import { confirmClaims, entriesNamed, nodeIdOf, resolveEntry } from './address-book-lookup.js';
import type { AddressBookOptions, AddressBookStats, BatchOutcome, LoadResult } from './address-book-options.js';
import { AddressBookPersistence, clearParts, type BookParts } from './address-book-persistence.js';
import { OwnPlaceSweeps } from './address-book-own-places.js';
import { pickDialAddress, sampleGood, selectionSizeFor } from './address-book-picks.js';
import { AddressBookStore, type AutoSave } from './address-book-store.js';
import { AddressTables } from './address-book-tables.js';
import { resolveAddressBookConfig, type AddressBookConfig } from './config.js';
import { ADDRESS_BOOK_STORAGE_KEY, AUTO_SAVE_INTERVAL_MS, BUCKET_KEY_BYTES, MAX_BAN_MS, MAX_GET_SELECTION } from './constants.js';
import { hasLapsed, isBad, isFirstHand, locationOf, toInfo, type KnownAddressInfo } from './known-address.js';

export type { BucketType, KnownAddressInfo } from './known-address.js';
export type { AddOutcome } from './address-book-admission.js';
export type { AutoSave } from './address-book-store.js';
export type { AddressBookOptions, AddressBookStats, BatchOutcome, LoadResult } from './address-book-options.js';

/**
 * The bucketed address book of the PEX agent (Bitcoin addrman, CometBFT p2p/pex/addrbook.go).
 * Addresses a peer tells us about enter "new" buckets chosen by a keyed hash of their group and their
 * source's group, so one source reaches only newBucketsPerSourceGroup buckets and at most
 * maxAddressesPerSourceGroup entries however much it sends. A successful connection (markGood) moves
 * an address to an "old" (tried) bucket, keyed by the address and its group; when that bucket is full
 * the incumbent is tested first (test-before-evict). Memory is bounded by the bucket geometry:
 * size() <= capacity always. Synchronous and single-threaded; only save/load await. The stored form
 * is address-book-format.ts, saving and loading address-book-persistence.ts; the tables are
 * address-book-tables.ts; the ways in address-book-intake.ts.
 */
export class AddressBook {
  readonly config: Readonly<AddressBookConfig>;
  /** Most entries the book can ever hold: (newBucketCount + oldBucketCount) * bucketSize. */
  readonly capacity: number;
  readonly allowLocal: boolean;
  private readonly tables: AddressTables;
  private readonly bans: BanList;
  private readonly admission: AddressAdmission;
  private readonly intake: AddressIntake;
  private readonly anchorList = new AnchorList();
  private readonly parts: BookParts;
  private readonly persistence: AddressBookPersistence;
  private readonly ownPlaces: OwnPlaceSweeps;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(options: AddressBookOptions = {}) {
    this.config = resolveAddressBookConfig(options);
    const key = options.bucketKey ?? randomBytes(BUCKET_KEY_BYTES);
    if (key.length !== BUCKET_KEY_BYTES) {
      throw new ConfigError('ERR_INVALID_CONFIG', `bucketKey must be ${BUCKET_KEY_BYTES} bytes, got ${key.length}`);
    }
    const bucketKey = key.slice();
    const clock = options.clock ?? systemClock;
    this.now = options.now ?? (() => clock.now());
    this.random = options.random ?? Math.random;
    this.allowLocal = options.allowLocal ?? false;
    this.tables = new AddressTables(this.config, bucketKey, this.random);
    this.bans = new BanList(this.config.maxBannedNodeIds);
    this.capacity = (this.config.newBucketCount + this.config.oldBucketCount) * this.config.bucketSize;
    this.admission = new AddressAdmission(this.bans, this.allowLocal);
    this.intake = new AddressIntake(this.tables, this.admission, this.bans, this.config, () => this.persistence.markDirty());
    this.parts = { config: this.config, tables: this.tables, bans: this.bans, anchors: this.anchorList, intake: this.intake };
    const store = new AddressBookStore(options.storage, options.storageKey ?? ADDRESS_BOOK_STORAGE_KEY, clock);
    this.persistence = new AddressBookPersistence(this.parts, store, bucketKey, this.now, options.onWarning);
    this.ownPlaces = new OwnPlaceSweeps(this.tables, this.now, () => this.persistence.markDirty());
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
    return this.intake.add(address, source, this.now());
  }

  /**
   * Learns a peer's answer as one batch: every address is checked first, and when one does not parse
   * or names no node nothing is added and that address is returned as `refused` (an honest peer never
   * sends one). Otherwise they are added in order until `maxNew` became new entries; past that, the
   * addresses the book holds still count as named by `source`, new ones are ignored. Each address is
   * parsed at most once, and not at all when the book holds it as written.
   * `trusted`: the source is one the caller trusts (a seed); an address it names that another source
   * told us of first is credited to it too (KnownAddressInfo.vouchedBy).
   */
  tryAddAddresses(addresses: readonly string[], source: string, maxNew: number, options: { trusted?: boolean } = {}): BatchOutcome {
    return this.intake.addBatch(addresses, source, maxNew, this.now(), options.trusted);
  }

  /** Forgets an address, or every address of a node id. True if anything was removed. */
  removeAddress(addressOrId: string): boolean {
    const targets = entriesNamed(this.tables, addressOrId);
    for (const entry of targets) this.tables.remove(entry);
    if (targets.length > 0) this.persistence.markDirty();
    return targets.length > 0;
  }

  /** Records a dial attempt (call before dialling). False if the address is not in the book. */
  markAttempt(addressOrId: string): boolean {
    const entry = resolveEntry(this.tables, addressOrId);
    if (entry === undefined) return false;
    entry.attempts++;
    entry.lastAttempt = this.now();
    this.persistence.markDirty();
    return true;
  }

  /**
   * Takes back the attempt markAttempt recorded, for a dial our own limits refused before it reached
   * anyone (the last attempt's time stays, so the address is not picked again at once).
   */
  unmarkAttempt(addressOrId: string): void {
    const entry = resolveEntry(this.tables, addressOrId);
    if (entry === undefined || entry.attempts === 0) return;
    entry.attempts--;
    this.persistence.markDirty();
  }

  /**
   * Records a successful connection and handshake: resets attempts and moves the address to its old
   * bucket, or, when that bucket is full, leaves it new until the entry it would evict has been tested
   * (see pickFeelerAddress). Pass the address dialled when possible; with a bare id the most recently
   * tried one counts. False (and nothing recorded) if the address is not in the book: add it first.
   */
  markGood(addressOrId: string): boolean {
    const entry = resolveEntry(this.tables, addressOrId);
    if (entry === undefined) return false;
    const nowMs = this.now();
    entry.attempts = 0;
    entry.lastAttempt = nowMs;
    entry.lastSuccess = nowMs;
    entry.lastSeen = nowMs;
    this.tables.noteFirstHand(entry);
    this.tables.promote(entry, nowMs);
    this.persistence.markDirty();
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
    const nodeId = nodeIdOf(addressOrId);
    if (nodeId === undefined) return false;
    const nowMs = this.now();
    const entries = [...this.tables.byNodeId.entriesOf(nodeId)];
    const saved = entries.map((entry) => ({ ...serializeEntry(entry), lastBanTime: nowMs }));
    for (const entry of entries) this.tables.remove(entry);
    this.bans.ban(nodeId, nowMs + Math.min(banMs, MAX_BAN_MS), saved);
    this.anchorList.forgetNode(nodeId);
    this.persistence.markDirty();
    return true;
  }

  /** True while the node an address (or id) names is banned. */
  isBanned(addressOrId: string): boolean {
    const nodeId = nodeIdOf(addressOrId);
    return nodeId !== undefined && this.bans.isBanned(nodeId, this.now());
  }

  /** Ends the bans that ran out and puts their addresses back in new buckets. Returns how many came back. */
  reinstateExpiredBans(): number {
    return this.intake.reinstateExpiredBans(this.now());
  }

  /**
   * A random address to dial: from the old or the new table with CometBFT's weighting
   * (sqrt(count) * bias), i.e. exactly `biasTowardsNewPercent`% new when both tables are the same size;
   * then a random non-empty bucket and a random entry in it, so a flooded group weighs no more than its
   * few buckets. Falls back to the other table when the chosen one is empty.
   */
  pickAddress(biasTowardsNewPercent: number): string | undefined {
    return pickDialAddress(this.tables, this.random, biasTowardsNewPercent);
  }

  /**
   * The address for the next feeler connection (Heilman et al. §6, Bitcoin's feelers): first settles
   * the tried collisions whose test is done, then offers the incumbent of a pending collision to test,
   * else a random new entry, whose success moves it to the tried table. Undefined when there is none.
   */
  pickFeelerAddress(): string | undefined {
    const nowMs = this.now();
    this.tables.resolveCollisions(nowMs);
    this.persistence.markDirty();
    return (this.tables.collisionToTest(nowMs) ?? this.tables.newTable.pick(this.random))?.address;
  }

  /** Settles the tried collisions whose incumbent was tested (or not within the test window). */
  resolveCollisions(): void {
    this.tables.resolveCollisions(this.now());
    this.persistence.markDirty();
  }

  /**
   * How many addresses getSelection aims for: at most `max`, at most MAX_GET_SELECTION, and otherwise
   * GET_SELECTION_PERCENT% of the book but at least MIN_GET_SELECTION.
   */
  selectionSize(max: number = MAX_GET_SELECTION): number {
    return selectionSizeFor(this.tables.size, max);
  }

  /**
   * A random sample of good (not bad) addresses for a pexResponse, of selectionSize(max) addresses when
   * the book has them, group-fair (see sampleGood); `accept` leaves out addresses the caller will not send.
   * `vettedOnly`: only first-hand entries and hearsay named by two source groups at least (fewer, then).
   */
  getSelection(max: number = MAX_GET_SELECTION, accept?: (address: string) => boolean, vettedOnly = false): string[] {
    return sampleGood(this.tables.all, this.selectionSize(max), this.now(), this.random, accept, true, vettedOnly);
  }

  /**
   * Up to `max` good first-hand addresses (reached by us, or heard of from the node itself), a random
   * group-fair subset in random order, drawn from the first-hand index: costs what it returns, not the
   * book. `fillFromCrowdedGroups` false: no more than a group's share even when that leaves it short
   * (the caller tops up from elsewhere first).
   */
  sampleFirstHand(max: number, accept?: (address: string) => boolean, fillFromCrowdedGroups = true): string[] {
    return sampleGood(this.tables.firstHand, Math.max(0, Math.floor(max)), this.now(), this.random, accept, fillFromCrowdedGroups);
  }

  /**
   * Remembers the outbound peers to dial first at the next start (Bitcoin's anchors), at most
   * MAX_STORED_ANCHORS, saved with the book. Replaces the previous anchors.
   */
  setAnchors(addresses: readonly string[]): void {
    this.anchorList.replace(addresses);
    this.persistence.markDirty();
  }

  /** The anchors loaded or set, which stay until setAnchors replaces them. */
  anchors(): string[] {
    return this.anchorList.list();
  }

  /** The node itself refused our dial of `address` (full, or it banned us): it is there (see hasLapsed). */
  markRefused(address: string): void {
    const entry = this.tables.byAddress.get(address);
    if (entry === undefined) return;
    entry.lastRefusal = this.now();
    this.persistence.markDirty();
  }

  /** An inbound peer, authenticated as `nodeId`, claims these listen addresses: those of its entries we reached are confirmed (confirmClaims). */
  confirmInbound(nodeId: string, claimed: readonly string[]): void {
    if (confirmClaims(this.tables, nodeId, claimed, this.now())) this.persistence.markDirty();
  }

  /** Whether `address` (canonical, as the book hands it out) is an entry answers no longer hand out (see hasLapsed). */
  hasLapsed(address: string): boolean {
    const entry = this.tables.byAddress.get(address);
    return entry !== undefined && hasLapsed(entry, this.now(), this.config.firstHandLapseMs);
  }

  /** Whether the entry at `address` (canonical) is first-hand; undefined when the book has no such entry. Cheaper than get(). */
  isFirstHand(address: string): boolean | undefined {
    const entry = this.tables.byAddress.get(address);
    return entry === undefined ? undefined : isFirstHand(entry);
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
    return resolveEntry(this.tables, addressOrId) !== undefined;
  }

  /** A copy of what the book knows about an address (or the node id's most recently tried one). */
  get(addressOrId: string): KnownAddressInfo | undefined {
    const entry = resolveEntry(this.tables, addressOrId);
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

  /** The entries whose source names, or which were vouched for by, one of `nodeIds` (e.g. our seeds), without copying the others. */
  entriesLearnedFrom(nodeIds: ReadonlySet<string>): KnownAddressInfo[] {
    if (nodeIds.size === 0) return [];
    const nowMs = this.now();
    const found: KnownAddressInfo[] = [];
    for (const entry of this.tables.all) if (nodeIds.has(entry.sourceNodeId) || nodeIds.has(entry.vouchedBy)) found.push(toInfo(entry, nowMs));
    return found;
  }

  /**
   * Declares a place we listen at. Addresses there, whatever node id they claim, are refused from then
   * on and removed now (or, past a few new places a minute, at the next paced sweep: OwnPlaceSweeps). Only the place counts, not the id in `address`: after a self-dial the id an
   * address claimed belongs to someone else (or no one), and refusing it would shut out a real node.
   * Our own id comes from the ourNodeId option. Throws ConfigError for an address that does not parse.
   */
  addOurAddress(address: string): void {
    // As the book spells addresses (canonical: a ws path as the client requests it); one that does not parse throws.
    const location = locationOf(parseAddress(address));
    // Already refused since it was declared: nothing new there (callers may declare on every answer),
    // but a sweep that had to wait may be due.
    if (this.admission.addOurLocation(location)) this.ownPlaces.add(location);
    else this.ownPlaces.sweep();
  }

  /** addOurAddress for each, skipping those that do not parse (they cannot come back to us through PEX either). */
  addOurAddresses(addresses: readonly string[]): void {
    for (const address of addresses) {
      try {
        this.addOurAddress(address);
      } catch {
        // not a place anyone can name
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
    if (bad.length > 0) this.persistence.markDirty();
    return bad.length;
  }

  /** Forgets every entry, ban and anchor. Keeps the bucket key and our own addresses. */
  clear(): void {
    clearParts(this.parts);
    this.persistence.markDirty();
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
    return this.persistence.isDirty;
  }

  /**
   * Writes the book (format version, bucket key, entries, bans, anchors, collisions) to storage under
   * storageKey. Saves are serialised, each writing the state at the moment it starts. Rejects with the
   * storage's error.
   */
  async save(): Promise<void> {
    await this.persistence.save();
  }

  /**
   * Replaces the book's contents with the stored ones (nothing stored: the book is left as it is).
   * Never rejects over bad data: an unreadable, truncated or corrupt value leaves an empty book and a
   * warning (also passed to onWarning). Stored entries get the same checks as addAddress. A book saved
   * in format version 1 or with another geometry is re-bucketed under this book's geometry.
   */
  async load(): Promise<LoadResult> {
    return this.persistence.load((anchor) => this.isBanned(anchor), () => this.reinstateExpiredBans());
  }

  /** Saves every `intervalMs` when something changed; failures go to onWarning. One at a time. */
  startAutoSave(intervalMs: number = AUTO_SAVE_INTERVAL_MS): AutoSave {
    return this.persistence.startAutoSave(intervalMs);
  }
}
