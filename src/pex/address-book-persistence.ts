import type { AnchorList } from './address-book-anchors.js';
import type { BanList } from './address-book-bans.js';
import { decodeAddressBook, encodeAddressBook, serializeEntry, type AddressBookSnapshot } from './address-book-format.js';
import type { AddressIntake } from './address-book-intake.js';
import type { LoadResult } from './address-book-options.js';
import type { AddressBookStore, AutoSave } from './address-book-store.js';
import type { AddressTables } from './address-book-tables.js';
import type { AddressBookConfig } from './config.js';
import { MAX_BAN_MS } from './constants.js';

/** The parts of an address book that a save writes and a load fills. */
export interface BookParts {
  readonly config: Readonly<AddressBookConfig>;
  readonly tables: AddressTables;
  readonly bans: BanList;
  readonly anchors: AnchorList;
  readonly intake: AddressIntake;
}

/** Forgets every entry, ban and anchor. */
export function clearParts(parts: BookParts): void {
  parts.tables.clear();
  parts.bans.clear();
  parts.anchors.clear();
}

/**
 * Saving and loading an address book: what a save writes of the book's parts, how a load puts it back,
 * auto-save, and the flag they run on, whether anything changed since the last successful save. The
 * bytes are address-book-format.ts's business, the I/O address-book-store.ts's. The bucket key lives
 * here after construction: only a save reads it, and a load replaces it with the stored one.
 */
export class AddressBookPersistence {
  /** Something changed since the last successful save. */
  private dirty = false;

  constructor(
    private readonly parts: BookParts,
    private readonly store: AddressBookStore,
    private key: Uint8Array,
    private readonly now: () => number,
    private readonly onWarning: ((message: string) => void) | undefined,
  ) {}

  get isDirty(): boolean {
    return this.dirty;
  }

  markDirty(): void {
    this.dirty = true;
  }

  /** AddressBook.save. */
  async save(): Promise<void> {
    await this.store.write(
      (nextTurn) => {
        // The book as it is now: what changes while the encoding lets the event loop run marks it dirty again.
        this.dirty = false;
        return encodeAddressBook(snapshotOf(this.parts, this.key, this.now()), nextTurn);
      },
      () => {
        this.dirty = true;
      },
    );
  }

  /** AddressBook.load: `isBanned` leaves banned anchors out, `reinstateExpiredBans` ends the bans that ran out while we were down. */
  async load(isBanned: (address: string) => boolean, reinstateExpiredBans: () => void): Promise<LoadResult> {
    const read = await this.store.read();
    if (!read.ok) return this.loadFailed(read.reason);
    if (read.bytes === undefined) return { loaded: this.parts.tables.size, skipped: 0 };
    const decoded = decodeAddressBook(read.bytes);
    if (!decoded.ok) return this.loadFailed(`stored address book ignored: ${decoded.reason}`);
    clearParts(this.parts);
    this.key = decoded.snapshot.key;
    const skipped = decoded.skipped + restoreSnapshot(this.parts, decoded.snapshot, this.now(), isBanned);
    this.dirty = false;
    reinstateExpiredBans(); // marks the book dirty if any ended
    if (skipped > 0) this.dirty = true;
    if (skipped <= 0) return { loaded: this.parts.tables.size, skipped: 0 };
    const warning = `${skipped} stored address book entries were invalid, refused or over capacity and were dropped`;
    this.onWarning?.(warning);
    return { loaded: this.parts.tables.size, skipped, warning };
  }

  /** AddressBook.startAutoSave. */
  startAutoSave(intervalMs: number): AutoSave {
    return this.store.startAutoSave(
      intervalMs,
      () => this.dirty,
      () => this.save(),
      (error) => this.onWarning?.(`address book auto-save failed: ${error.message}`),
    );
  }

  private loadFailed(warning: string): LoadResult {
    clearParts(this.parts);
    this.dirty = true;
    this.onWarning?.(warning);
    return { loaded: 0, skipped: 0, warning };
  }
}

/** The book as save() writes it: bucket key, geometry, entries, bans, anchors, pending collisions. */
function snapshotOf(parts: BookParts, key: Uint8Array, savedAt: number): AddressBookSnapshot {
  const { newBucketCount, oldBucketCount, bucketSize } = parts.config;
  return {
    key,
    geometry: { newBucketCount, oldBucketCount, bucketSize },
    savedAt,
    entries: parts.tables.all.map(serializeEntry),
    bans: parts.bans.list(),
    anchors: parts.anchors.list(),
    collisions: parts.tables.pendingCollisions(),
  };
}

/**
 * Fills emptied parts from a loaded snapshot: its bucket key; the bans before the entries, so a banned
 * node's entries stay out; every entry through the intake's checks (re-bucketed under this book's
 * geometry when the stored one differs); the collisions; the anchors that `isBanned` lets through.
 * Returns how many stored entries did not make it in.
 */
function restoreSnapshot(parts: BookParts, snapshot: AddressBookSnapshot, nowMs: number, isBanned: (address: string) => boolean): number {
  const { config, tables, bans } = parts;
  tables.rekey(snapshot.key);
  const { newBucketCount, oldBucketCount, bucketSize } = snapshot.geometry;
  const sameGeometry = newBucketCount === config.newBucketCount && oldBucketCount === config.oldBucketCount && bucketSize === config.bucketSize;
  for (const ban of snapshot.bans) {
    bans.ban(ban.nodeId, Math.min(ban.bannedUntil, nowMs + MAX_BAN_MS), ban.entries.slice(0, config.maxAddressesPerNodeId));
  }
  for (const saved of snapshot.entries) parts.intake.restore(saved, nowMs, sameGeometry, false);
  for (const collision of snapshot.collisions) tables.restoreCollision(collision, nowMs);
  parts.anchors.restore(snapshot.anchors, isBanned);
  // Counted from the result: an entry can also be lost later in the loop, evicted by a smaller geometry.
  return snapshot.entries.length - tables.size;
}
