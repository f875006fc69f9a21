import { randomBytes } from '@noble/hashes/utils.js';
import { ConfigError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { parseAddress } from '../transport/address.js';
import { randomInt } from './address-book-buckets.js';
import { checkAddressBookInvariants } from './address-book-check.js';
import { locationOf, type AddOutcome } from './address-book-core.js';
import { PersistentAddressBook } from './address-book-persistence.js';
import { serializeEntry } from './address-book-serialization.js';
import { isBad, toInfo, type KnownAddress, type KnownAddressInfo } from './known-address.js';
import {
  BUCKET_KEY_BYTES,
  GET_SELECTION_PERCENT,
  MAX_BAN_MS,
  MAX_GET_SELECTION,
  MIN_GET_SELECTION,
  resolveAddressBookConfig,
  type AddressBookConfig,
} from './params.js';

export type { AddOutcome } from './address-book-core.js';
export type { AutoSave, LoadResult } from './address-book-persistence.js';
export type { BucketType, KnownAddressInfo } from './known-address.js';

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
  /** Clock in ms. @default Date.now */
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
}

/**
 * The bucketed address book of the PEX agent (Bitcoin addrman, CometBFT p2p/pex/addrbook.go).
 * Addresses a peer tells us about enter "new" buckets chosen by a keyed hash of their group and their
 * source's group, so one source reaches only newBucketsPerSourceGroup buckets however much it sends.
 * A successful connection (markGood) moves an address to an "old" bucket. Memory is bounded by the
 * bucket geometry: size() <= capacity always. Synchronous and single-threaded; only save/load await.
 */
export class AddressBook extends PersistentAddressBook {
  /** Most entries the book can ever hold: (newBucketCount + oldBucketCount) * bucketSize. */
  readonly capacity: number;

  constructor(options: AddressBookOptions = {}) {
    const config = resolveAddressBookConfig(options);
    const key = options.bucketKey ?? randomBytes(BUCKET_KEY_BYTES);
    if (key.length !== BUCKET_KEY_BYTES) {
      throw new ConfigError('ERR_INVALID_CONFIG', `bucketKey must be ${BUCKET_KEY_BYTES} bytes, got ${key.length}`);
    }
    super(config, options.allowLocal ?? false, key.slice(), options.now ?? Date.now, options.random ?? Math.random, {
      storage: options.storage,
      storageKey: options.storageKey,
      onWarning: options.onWarning,
    });
    this.capacity = (config.newBucketCount + config.oldBucketCount) * config.bucketSize;
    if (options.ourNodeId !== undefined) this.ourNodeIds.add(options.ourNodeId.toLowerCase());
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
    const candidate = this.examine(String(address), String(source), nowMs);
    if (typeof candidate === 'string') return candidate;
    const existing = this.byAddress.get(candidate.address);
    if (existing !== undefined) {
      this.addReference(existing, candidate.sourceGroup, nowMs);
      this.dirty = true;
      return 'known';
    }
    if (!this.makeRoomForNode(candidate.nodeId, nowMs)) return 'too-many-addresses';
    this.dirty = true;
    const entry = this.createEntry(candidate, nowMs);
    this.placeNew(entry, this.hasher.newBucket(entry.group, entry.sourceGroup), entry.sourceGroup, nowMs);
    return 'added';
  }

  /** Forgets an address, or every address of a node id. True if anything was removed. */
  removeAddress(addressOrId: string): boolean {
    const id = this.nodeIdOf(addressOrId);
    const targets =
      id !== undefined && id === addressOrId.toLowerCase()
        ? [...(this.byNodeId.get(id) ?? [])]
        : [this.resolve(addressOrId)].filter((entry): entry is KnownAddress => entry !== undefined);
    for (const entry of targets) this.removeEntry(entry);
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
   * Records a successful connection and handshake: resets attempts and moves the address to an old
   * bucket. Pass the address dialled when possible; with a bare id the most recently tried one counts.
   * False (and nothing recorded) if the address is not in the book: add it first.
   */
  markGood(addressOrId: string): boolean {
    const entry = this.resolve(addressOrId);
    if (entry === undefined) return false;
    const nowMs = this.now();
    entry.attempts = 0;
    entry.lastAttempt = nowMs;
    entry.lastSuccess = nowMs;
    entry.lastSeen = nowMs;
    if (entry.bucketType === 'new') this.moveToOld(entry, nowMs);
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
    const entries = [...(this.byNodeId.get(nodeId) ?? [])];
    const saved = entries.map((entry) => ({ ...serializeEntry(entry), lastBanTime: nowMs }));
    for (const entry of entries) this.removeEntry(entry);
    this.bans.ban(nodeId, nowMs + Math.min(banMs, MAX_BAN_MS), saved);
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
    return this.reinstate(this.now());
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
    const oldCount = this.oldCount;
    const newCount = this.all.length - oldCount;
    if (oldCount + newCount === 0) return undefined;
    const oldWeight = Math.sqrt(oldCount) * (100 - bias);
    const newWeight = Math.sqrt(newCount) * bias;
    let fromOld = this.random() * (oldWeight + newWeight) < oldWeight;
    if (fromOld && oldCount === 0) fromOld = false;
    if (!fromOld && newCount === 0) fromOld = true;
    return (fromOld ? this.oldTable : this.newTable).pick(this.random)?.address;
  }

  /**
   * A uniform random sample of good (not bad) addresses for a pexResponse: at most `max`, at most
   * MAX_GET_SELECTION, and otherwise GET_SELECTION_PERCENT% of the book but at least MIN_GET_SELECTION.
   */
  getSelection(max: number = MAX_GET_SELECTION): string[] {
    const size = this.all.length;
    const share = Math.max(Math.min(MIN_GET_SELECTION, size), Math.floor((size * GET_SELECTION_PERCENT) / 100));
    const wanted = Math.min(Math.floor(max), MAX_GET_SELECTION, share);
    if (!(wanted > 0)) return [];
    const nowMs = this.now();
    const pool = this.all.slice();
    const selection: string[] = [];
    // Partial Fisher-Yates: only the prefix we look at gets shuffled.
    for (let i = 0; i < pool.length && selection.length < wanted; i++) {
      const j = i + randomInt(this.random, pool.length - i);
      const picked = pool[j]!;
      pool[j] = pool[i]!;
      pool[i] = picked;
      if (!isBad(picked, nowMs)) selection.push(picked.address);
    }
    return selection;
  }

  /** Number of entries (new + old). */
  size(): number {
    return this.all.length;
  }

  /** True while the book is smaller than needAddressThreshold: time to ask peers for addresses. */
  needMoreAddresses(): boolean {
    return this.all.length < this.config.needAddressThreshold;
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
    return [...(this.byNodeId.get(nodeId.toLowerCase()) ?? [])].map((entry) => entry.address);
  }

  /** Copies of all entries, in no particular order. */
  entries(): KnownAddressInfo[] {
    const nowMs = this.now();
    return this.all.map((entry) => toInfo(entry, nowMs));
  }

  /**
   * Declares a place we listen at. Addresses there, whatever node id they claim, are refused from then
   * on and removed now. Only the place counts, not the id in `address`: after a self-dial the id an
   * address claimed belongs to someone else (or no one), and refusing it would shut out a real node.
   * Our own id comes from the ourNodeId option. Throws ConfigError for an address that does not parse.
   */
  addOurAddress(address: string): void {
    const location = locationOf(parseAddress(address));
    this.ourLocations.add(location);
    for (const entry of [...this.all]) {
      if (locationOf(parseAddress(entry.address)) === location) {
        this.removeEntry(entry);
        this.dirty = true;
      }
    }
  }

  /** True if the address names our node id or one of our places. */
  isOurAddress(address: string): boolean {
    try {
      const parsed = parseAddress(address);
      return (parsed.nodeId !== undefined && this.ourNodeIds.has(parsed.nodeId)) || this.ourLocations.has(locationOf(parsed));
    } catch {
      return false;
    }
  }

  /** Removes every bad entry (stale or failing, see isBad) now rather than when a bucket fills. */
  removeBad(): number {
    const nowMs = this.now();
    const bad = this.all.filter((entry) => isBad(entry, nowMs));
    for (const entry of bad) this.removeEntry(entry);
    if (bad.length > 0) this.dirty = true;
    return bad.length;
  }

  /** Forgets every entry and ban. Keeps the bucket key and our own addresses. */
  clear(): void {
    this.resetEntries();
    this.dirty = true;
  }

  stats(): AddressBookStats {
    return {
      size: this.all.length,
      newCount: this.all.length - this.oldCount,
      oldCount: this.oldCount,
      capacity: this.capacity,
      bannedCount: this.bans.size,
      nonEmptyNewBuckets: this.newTable.nonEmptyCount,
      nonEmptyOldBuckets: this.oldTable.nonEmptyCount,
    };
  }

  /** Consistency check of every index and bucket (addrman's -checkaddrman). [] when all is well. */
  selfCheck(): string[] {
    return checkAddressBookInvariants({
      config: this.config,
      all: this.all,
      byAddress: this.byAddress,
      byNodeId: this.byNodeId,
      newTable: this.newTable,
      oldTable: this.oldTable,
      oldCount: this.oldCount,
    });
  }

}
