import { formatAddress, isNodeId, parseAddress, type PeerAddress } from '../transport/address.js';
import { BanList } from './address-book-bans.js';
import { BucketHasher, BucketTable, randomInt } from './address-book-buckets.js';
import type { SerializedEntry } from './address-book-serialization.js';
import { canonicalHost, classifyAddress, isLocalScope } from './address-validation.js';
import { freshness, isBad, type KnownAddress } from './known-address.js';
import type { AddressBookConfig } from './params.js';

/** Why addAddress did or did not add an address. Everything but 'added' and 'known' is a refusal. */
export type AddOutcome =
  /** New entry in a new bucket. */
  | 'added'
  /** Already in the book (its last-seen time is refreshed; it may gain another new bucket). */
  | 'known'
  /** Does not parse, port 0, or a host nobody can dial (unspecified, multicast, inet_aton shorthand). */
  | 'invalid-address'
  /** Parses but names no node, so it cannot be authenticated. */
  | 'no-node-id'
  /** The source is neither a node id nor an address. */
  | 'invalid-source'
  /** Our own node id or one of our own addresses. */
  | 'self'
  | 'banned'
  /** Loopback, private, link-local or reserved, and the book was not created with allowLocal. */
  | 'unroutable'
  /** The node id already has maxAddressesPerNodeId addresses and none of them is bad. */
  | 'too-many-addresses';

export type Rejection = Exclude<AddOutcome, 'added' | 'known'>;

export interface Candidate {
  readonly address: string;
  readonly nodeId: string;
  readonly group: string;
  readonly source: string;
  readonly sourceGroup: string;
}

/** Address with the node id and query left out: where a listener is, whoever claims to be there. */
export function locationOf(address: PeerAddress): string {
  if (address.protocol === 'webrtc') return `webrtc://${address.nodeId ?? ''}`;
  return formatAddress({ ...address, host: canonicalHost(address.host), nodeId: undefined, params: {} });
}

/** Parses and re-formats with one spelling per IP; undefined when it does not parse. */
export function canonicalAddress(text: string): PeerAddress | undefined {
  try {
    const parsed = parseAddress(text);
    return { ...parsed, host: canonicalHost(parsed.host) };
  } catch {
    return undefined;
  }
}

/**
 * The bucket machinery of the address book: placement, eviction, moving between tables and the
 * indexes. Every entry sits in 1..maxNewBucketsPerAddress new buckets or in exactly one old bucket,
 * and is indexed (byAddress, byNodeId, all) exactly while it sits in at least one bucket. Since
 * buckets never exceed bucketSize, the number of entries never exceeds the number of slots.
 * Not re-entrant; every method runs to completion synchronously.
 */
export class AddressBookCore {
  protected readonly newTable: BucketTable;
  protected readonly oldTable: BucketTable;
  protected readonly byAddress = new Map<string, KnownAddress>();
  protected readonly byNodeId = new Map<string, Set<KnownAddress>>();
  /** Flat list of every entry, for uniform sampling in getSelection. */
  protected readonly all: KnownAddress[] = [];
  protected oldCount = 0;
  protected readonly bans: BanList;
  protected readonly ourNodeIds = new Set<string>();
  protected readonly ourLocations = new Set<string>();
  protected hasher: BucketHasher;
  /** Something changed since the last successful save. */
  protected dirty = false;

  protected constructor(
    readonly config: Readonly<AddressBookConfig>,
    readonly allowLocal: boolean,
    protected key: Uint8Array,
    protected readonly now: () => number,
    protected readonly random: () => number,
  ) {
    this.newTable = new BucketTable(config.newBucketCount, config.bucketSize);
    this.oldTable = new BucketTable(config.oldBucketCount, config.bucketSize);
    this.bans = new BanList(config.maxBannedNodeIds);
    this.hasher = new BucketHasher(key, config);
  }

  /** Checks an (address, source) pair the way every way into the book must. */
  protected examine(address: string, source: string, nowMs: number): Candidate | Rejection {
    const parsed = canonicalAddress(address);
    if (parsed === undefined) return 'invalid-address';
    if (parsed.nodeId === undefined) return 'no-node-id';
    if (parsed.port === 0 && parsed.protocol !== 'memory' && parsed.protocol !== 'webrtc') return 'invalid-address';
    const { scope, group } = classifyAddress(parsed);
    if (scope === 'invalid' || scope === 'unspecified' || scope === 'multicast') return 'invalid-address';
    let normalizedSource: string;
    let sourceGroup: string;
    if (isNodeId(source.toLowerCase())) {
      normalizedSource = source.toLowerCase();
      // A bare id says nothing about the network it came from; callers should pass the peer's address.
      sourceGroup = `id:${normalizedSource}`;
    } else {
      const sourceAddress = canonicalAddress(source);
      if (sourceAddress === undefined) return 'invalid-source';
      normalizedSource = formatAddress(sourceAddress);
      sourceGroup = classifyAddress(sourceAddress).group;
    }
    if (this.ourNodeIds.has(parsed.nodeId) || this.ourLocations.has(locationOf(parsed))) return 'self';
    if (this.bans.isBanned(parsed.nodeId, nowMs)) return 'banned';
    if (scope !== 'public' && !(this.allowLocal && isLocalScope(scope))) return 'unroutable';
    return { address: formatAddress(parsed), nodeId: parsed.nodeId, group, source: normalizedSource, sourceGroup };
  }

  /** Makes room for one more address of `nodeId` by dropping one of its bad new entries; false if none. */
  protected makeRoomForNode(nodeId: string, nowMs: number): boolean {
    const siblings = this.byNodeId.get(nodeId);
    if (siblings === undefined || siblings.size < this.config.maxAddressesPerNodeId) return true;
    for (const sibling of siblings) {
      if (sibling.bucketType === 'new' && isBad(sibling, nowMs)) {
        this.removeEntry(sibling);
        return true;
      }
    }
    return false;
  }

  protected createEntry(candidate: Candidate, nowMs: number): KnownAddress {
    return {
      ...candidate,
      attempts: 0,
      lastAttempt: 0,
      lastSuccess: 0,
      lastSeen: nowMs,
      lastBanTime: 0,
      bucketType: 'new',
      buckets: [],
      index: -1,
    };
  }

  /**
   * Another source told us about a known new address: as in addrman, it may join one more new bucket,
   * less likely the more buckets it is already in, so popular addresses get some redundancy without
   * crowding out others. It only takes a slot that is free or held by a bad or redundant entry.
   */
  protected addReference(entry: KnownAddress, sourceGroup: string, nowMs: number): void {
    if (entry.bucketType === 'old') return;
    entry.lastSeen = Math.max(entry.lastSeen, nowMs);
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

  /** Puts `entry` (of type new) into `bucket`, evicting from a full bucket first; indexes it if needed. */
  protected placeNew(entry: KnownAddress, bucket: number, incomingSourceGroup: string, nowMs: number): void {
    if (this.newTable.isFull(bucket)) this.evictNew(bucket, incomingSourceGroup, nowMs);
    this.newTable.add(bucket, entry);
    entry.buckets.push(bucket);
    if (entry.index < 0) this.attach(entry);
  }

  /**
   * Puts `entry` (in no bucket) into its old bucket. A full old bucket sends its worst entry back to
   * the new table rather than forgetting it: it did work once (CometBFT moveToOld, addrman).
   */
  protected placeOld(entry: KnownAddress, nowMs: number): void {
    const bucket = this.hasher.oldBucket(entry.address, entry.group);
    if (this.oldTable.isFull(bucket)) {
      const victim = this.worstOf(this.oldTable.entries(bucket), undefined, nowMs)!;
      this.oldTable.remove(bucket, victim);
      victim.buckets = [];
      victim.bucketType = 'new';
      this.oldCount--;
      this.placeNew(victim, this.hasher.newBucket(victim.group, victim.sourceGroup), victim.sourceGroup, nowMs);
    }
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

  protected moveToOld(entry: KnownAddress, nowMs: number): void {
    for (const bucket of entry.buckets) this.newTable.remove(bucket, entry);
    entry.buckets = [];
    this.placeOld(entry, nowMs);
  }

  private evictNew(bucket: number, incomingSourceGroup: string, nowMs: number): void {
    const victim = this.worstOf(this.newTable.entries(bucket), incomingSourceGroup, nowMs);
    if (victim === undefined) return;
    this.newTable.remove(bucket, victim);
    victim.buckets.splice(victim.buckets.indexOf(bucket), 1);
    if (victim.buckets.length === 0) this.detach(victim);
  }

  /**
   * The entry to evict: bad ones first (as addrman), then those from the newcomer's own source group,
   * so that a flood mostly churns its own entries, then those still held by another bucket, then the
   * least fresh.
   */
  protected worstOf(
    entries: readonly KnownAddress[],
    incomingSourceGroup: string | undefined,
    nowMs: number,
  ): KnownAddress | undefined {
    let worst: KnownAddress | undefined;
    let worstRank: number[] = [];
    for (const entry of entries) {
      const rank = [
        isBad(entry, nowMs) ? 1 : 0,
        entry.sourceGroup === incomingSourceGroup ? 1 : 0,
        entry.buckets.length > 1 ? 1 : 0,
        -freshness(entry),
      ];
      if (worst === undefined || compareRanks(rank, worstRank) > 0) {
        worst = entry;
        worstRank = rank;
      }
    }
    return worst;
  }

  protected removeEntry(entry: KnownAddress): void {
    const table = entry.bucketType === 'old' ? this.oldTable : this.newTable;
    for (const bucket of entry.buckets) table.remove(bucket, entry);
    entry.buckets = [];
    this.detach(entry);
  }

  private attach(entry: KnownAddress): void {
    entry.index = this.all.length;
    this.all.push(entry);
    this.byAddress.set(entry.address, entry);
    let siblings = this.byNodeId.get(entry.nodeId);
    if (siblings === undefined) this.byNodeId.set(entry.nodeId, (siblings = new Set()));
    siblings.add(entry);
    if (entry.bucketType === 'old') this.oldCount++;
  }

  private detach(entry: KnownAddress): void {
    const last = this.all.pop()!;
    if (last !== entry) {
      this.all[entry.index] = last;
      last.index = entry.index;
    }
    entry.index = -1;
    this.byAddress.delete(entry.address);
    const siblings = this.byNodeId.get(entry.nodeId);
    siblings?.delete(entry);
    if (siblings?.size === 0) this.byNodeId.delete(entry.nodeId);
    if (entry.bucketType === 'old') this.oldCount--;
  }

  /**
   * The entry meant by an address or a node id. For an id with several addresses: the one tried
   * most recently (most likely the one just dialled), old before new on a tie.
   */
  protected resolve(addressOrId: string): KnownAddress | undefined {
    const id = addressOrId.toLowerCase();
    if (isNodeId(id)) {
      let best: KnownAddress | undefined;
      for (const entry of this.byNodeId.get(id) ?? []) {
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
    return parsed === undefined ? undefined : this.byAddress.get(formatAddress(parsed));
  }

  /** The node id an address or id names, or undefined. */
  protected nodeIdOf(addressOrId: string): string | undefined {
    const id = addressOrId.toLowerCase();
    return isNodeId(id) ? id : canonicalAddress(addressOrId)?.nodeId;
  }

  /**
   * Re-inserts a persisted or banned entry after the same checks addAddress makes. New entries go
   * back to their recorded buckets when the geometry is unchanged and the buckets have room,
   * otherwise to the bucket their source maps to. Returns false when the entry was dropped.
   */
  protected restoreEntry(saved: SerializedEntry, nowMs: number, sameGeometry: boolean, forceNew: boolean): boolean {
    const candidate = this.examine(saved.address, saved.source, nowMs);
    if (typeof candidate === 'string' || this.byAddress.has(candidate.address)) return false;
    if (!this.makeRoomForNode(candidate.nodeId, nowMs)) return false;
    const entry = this.createEntry(candidate, nowMs);
    // Times from a clock that ran ahead would make an entry look fresh forever.
    entry.attempts = Math.min(saved.attempts, 1_000_000);
    entry.lastAttempt = Math.min(saved.lastAttempt, nowMs);
    entry.lastSuccess = Math.min(saved.lastSuccess, nowMs);
    entry.lastSeen = Math.min(saved.lastSeen, nowMs);
    entry.lastBanTime = Math.min(saved.lastBanTime, nowMs);
    if (saved.bucketType === 'old' && entry.lastSuccess > 0 && !forceNew) {
      this.placeOld(entry, nowMs);
      return true;
    }
    if (sameGeometry && !forceNew) {
      for (const bucket of new Set(saved.buckets)) {
        if (entry.buckets.length >= this.config.maxNewBucketsPerAddress) break;
        if (bucket < this.config.newBucketCount && !this.newTable.isFull(bucket)) {
          this.newTable.add(bucket, entry);
          entry.buckets.push(bucket);
        }
      }
      if (entry.buckets.length > 0) {
        this.attach(entry);
        return true;
      }
    }
    this.placeNew(entry, this.hasher.newBucket(entry.group, entry.sourceGroup), entry.sourceGroup, nowMs);
    return true;
  }

  /** Ends the bans that ran out and puts their addresses back in new buckets; returns how many. */
  protected reinstate(nowMs: number): number {
    let reinstated = 0;
    for (const ban of this.bans.takeExpired(nowMs)) {
      for (const saved of ban.entries.slice(0, this.config.maxAddressesPerNodeId)) {
        if (this.restoreEntry(saved, nowMs, false, true)) reinstated++;
      }
      this.dirty = true;
    }
    return reinstated;
  }

  protected resetEntries(): void {
    this.newTable.clear();
    this.oldTable.clear();
    this.byAddress.clear();
    this.byNodeId.clear();
    for (const entry of this.all) entry.index = -1;
    this.all.length = 0;
    this.oldCount = 0;
    this.bans.clear();
  }
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
