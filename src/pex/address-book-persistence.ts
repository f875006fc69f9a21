import { ConfigError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { systemClock, type Clock } from '../util/clock.js';
import { BucketHasher } from './address-book-buckets.js';
import { AddressBookCore } from './address-book-core.js';
import { decodeAddressBook, encodeAddressBook, serializeEntry } from './address-book-serialization.js';
import type { AddressBookConfig } from './params.js';
import { ADDRESS_BOOK_STORAGE_KEY, AUTO_SAVE_INTERVAL_MS, MAX_BAN_MS } from './params.js';

export interface LoadResult {
  /** Entries in the book after loading. */
  readonly loaded: number;
  /** Stored entries dropped (malformed, now refused, over capacity). */
  readonly skipped: number;
  /** Set when the stored value was unreadable, corrupt or partly invalid; the book is then empty or partial. */
  readonly warning?: string;
}

export interface AutoSave {
  /** Stops the timer, waits for a save in flight, then saves once more if anything changed. */
  stop(): Promise<void>;
}

export interface PersistenceOptions {
  readonly storage: Storage | undefined;
  readonly storageKey: string | undefined;
  readonly onWarning: ((message: string) => void) | undefined;
}

/**
 * The address book's save/load/auto-save over the platform's Storage. A corrupt or truncated value
 * never crashes a node: it loads as an empty book plus a warning, and the next save overwrites it.
 */
export abstract class PersistentAddressBook extends AddressBookCore {
  private readonly storage: Storage | undefined;
  private readonly storageKey: string;
  protected readonly onWarning: ((message: string) => void) | undefined;
  private saving: Promise<void> = Promise.resolve();
  private autoSave: AutoSave | undefined;

  protected constructor(
    config: Readonly<AddressBookConfig>,
    allowLocal: boolean,
    key: Uint8Array,
    now: () => number,
    random: () => number,
    persistence: PersistenceOptions,
  ) {
    super(config, allowLocal, key, now, random);
    this.storage = persistence.storage;
    this.storageKey = persistence.storageKey ?? ADDRESS_BOOK_STORAGE_KEY;
    this.onWarning = persistence.onWarning;
  }

  /** True when something changed since the last successful save. */
  get isDirty(): boolean {
    return this.dirty;
  }

  /**
   * Writes the book (format version, bucket key, entries, bans) to storage under storageKey. Saves
   * are serialised, each writing the state at the moment it starts. Rejects with the storage's error.
   */
  async save(): Promise<void> {
    const storage = this.requireStorage();
    const run = async (): Promise<void> => {
      this.dirty = false;
      const bytes = encodeAddressBook({
        key: this.key,
        geometry: {
          newBucketCount: this.config.newBucketCount,
          oldBucketCount: this.config.oldBucketCount,
          bucketSize: this.config.bucketSize,
        },
        savedAt: this.now(),
        entries: this.all.map(serializeEntry),
        bans: this.bans.list(),
      });
      try {
        await storage.set(this.storageKey, bytes);
      } catch (error) {
        this.dirty = true;
        throw error;
      }
    };
    const result = this.saving.then(run, run);
    this.saving = result.catch(() => undefined);
    await result;
  }

  /**
   * Replaces the book's contents with the stored ones (nothing stored: the book is left as it is).
   * Never rejects over bad data: an unreadable, truncated or corrupt value leaves an empty book and a
   * warning (also passed to onWarning). Stored entries get the same checks as addAddress.
   */
  async load(): Promise<LoadResult> {
    const storage = this.requireStorage();
    let bytes: Uint8Array | undefined;
    try {
      bytes = await storage.get(this.storageKey);
    } catch (error) {
      return this.loadFailed(`cannot read the stored address book: ${(error as Error).message}`);
    }
    if (bytes === undefined) return { loaded: this.all.length, skipped: 0 };
    const decoded = decodeAddressBook(bytes);
    if (!decoded.ok) return this.loadFailed(`stored address book ignored: ${decoded.reason}`);
    const { snapshot } = decoded;
    this.resetEntries();
    this.key = snapshot.key;
    this.hasher = new BucketHasher(snapshot.key, this.config);
    const sameGeometry =
      snapshot.geometry.newBucketCount === this.config.newBucketCount &&
      snapshot.geometry.oldBucketCount === this.config.oldBucketCount &&
      snapshot.geometry.bucketSize === this.config.bucketSize;
    const nowMs = this.now();
    for (const ban of snapshot.bans) {
      this.bans.ban(ban.nodeId, Math.min(ban.bannedUntil, nowMs + MAX_BAN_MS), ban.entries.slice(0, this.config.maxAddressesPerNodeId));
    }
    for (const saved of snapshot.entries) this.restoreEntry(saved, nowMs, sameGeometry, false);
    // Counted from the result: an entry can also be lost later in the loop, evicted by a smaller geometry.
    const skipped = decoded.skipped + snapshot.entries.length - this.all.length;
    this.dirty = false;
    this.reinstate(nowMs); // bans that ended while we were down; marks the book dirty if any did
    if (skipped > 0) this.dirty = true;
    if (skipped === 0) return { loaded: this.all.length, skipped };
    const warning = `${skipped} stored address book entries were invalid, refused or over capacity and were dropped`;
    this.onWarning?.(warning);
    return { loaded: this.all.length, skipped, warning };
  }

  /** Saves every `intervalMs` when something changed; failures go to onWarning. One at a time. */
  startAutoSave(intervalMs: number = AUTO_SAVE_INTERVAL_MS, clock: Clock = systemClock): AutoSave {
    this.requireStorage();
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
      throw new ConfigError('ERR_INVALID_ARGUMENT', `intervalMs must be a positive number, got ${String(intervalMs)}`);
    }
    if (this.autoSave !== undefined) throw new ConfigError('ERR_INVALID_CONFIG', 'Address book auto-save is already running');
    const timer = clock.setInterval(() => {
      if (!this.dirty) return;
      this.save().catch((error: unknown) => this.onWarning?.(`address book auto-save failed: ${(error as Error).message}`));
    }, intervalMs);
    // An idle timer must not keep a Node process alive.
    (timer as { unref?: () => void }).unref?.();
    const handle: AutoSave = {
      stop: async () => {
        clock.clearInterval(timer);
        if (this.autoSave === handle) this.autoSave = undefined;
        await this.saving;
        if (this.dirty) await this.save();
      },
    };
    this.autoSave = handle;
    return handle;
  }

  private loadFailed(warning: string): LoadResult {
    this.resetEntries();
    this.dirty = true;
    this.onWarning?.(warning);
    return { loaded: 0, skipped: 0, warning };
  }

  private requireStorage(): Storage {
    if (this.storage === undefined) {
      throw new ConfigError('ERR_INVALID_CONFIG', 'This address book has no storage: pass { storage } to save or load it');
    }
    return this.storage;
  }
}
