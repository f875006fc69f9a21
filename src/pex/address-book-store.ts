import { ConfigError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';
import { AUTO_SAVE_MAX_BYTES_PER_SECOND } from './constants.js';

export interface AutoSave {
  /** Stops the timer, waits for a save in flight, then saves once more if anything changed. */
  stop(): Promise<void>;
}

/** What a read found: the stored bytes (undefined when nothing is stored), or why they could not be read. */
export type StoreRead = { readonly ok: true; readonly bytes: Uint8Array | undefined } | { readonly ok: false; readonly reason: string };

/**
 * The address book's I/O over the platform's Storage, kept apart from the book's data: writes are
 * serialised (each writes the state at the moment it starts), reads never throw, and one auto-save
 * timer at a time runs on the book's clock. What is written is address-book-format.ts's business.
 */
export class AddressBookStore {
  private saving: Promise<void> = Promise.resolve();
  private autoSave: AutoSave | undefined;
  /**
   * When the next auto-save may start, on the clock's monotonicNow() (paced by the size of the last
   * write): on its wall clock, a step back skipped every auto-save for as long as the step.
   */
  private nextAutoSaveAtMonotonic = 0;

  constructor(
    private readonly storage: Storage | undefined,
    private readonly storageKey: string,
    private readonly clock: Clock,
  ) {}

  /**
   * Writes what `encode` returns, called when this write's turn comes, after every earlier write; it may
   * await `nextTurn` to let the event loop run (the clock's afterBurst) while it works. `onFailure` runs
   * before the storage's (or the encoding's) error is rethrown (the book marks itself dirty again).
   */
  async write(encode: (nextTurn: () => Promise<void>) => Promise<Uint8Array>, onFailure: () => void): Promise<void> {
    const storage = this.requireStorage();
    const nextTurn = (): Promise<void> => new Promise((resolve) => this.clock.afterBurst(resolve));
    const run = async (): Promise<void> => {
      try {
        const bytes = await encode(nextTurn);
        this.nextAutoSaveAtMonotonic = monotonicNow(this.clock) + (bytes.length * 1000) / AUTO_SAVE_MAX_BYTES_PER_SECOND;
        await storage.set(this.storageKey, bytes);
      } catch (error) {
        onFailure();
        throw error;
      }
    };
    const result = this.saving.then(run, run);
    this.saving = result.catch(() => undefined);
    await result;
  }

  async read(): Promise<StoreRead> {
    const storage = this.requireStorage();
    try {
      return { ok: true, bytes: await storage.get(this.storageKey) };
    } catch (error) {
      return { ok: false, reason: `cannot read the stored address book: ${(error as Error).message}` };
    }
  }

  /**
   * Calls `save` every `intervalMs` while `isDirty()`, skipping ticks while its last save is still being
   * written or too soon after a large one (AUTO_SAVE_MAX_BYTES_PER_SECOND); failures go to `onFailure`.
   */
  startAutoSave(intervalMs: number, isDirty: () => boolean, save: () => Promise<void>, onFailure: (error: Error) => void): AutoSave {
    this.requireStorage();
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
      throw new ConfigError('ERR_INVALID_ARGUMENT', `intervalMs must be a positive number, got ${String(intervalMs)}`);
    }
    if (this.autoSave !== undefined) throw new ConfigError('ERR_INVALID_CONFIG', 'Address book auto-save is already running');
    // A storage slower than the interval (IndexedDB under load, a write the platform paces) would
    // otherwise get one more queued save per tick, each a whole encoding of the book, without bound.
    let saving = false;
    const timer: TimerHandle = this.clock.setInterval(() => {
      if (saving || !isDirty() || monotonicNow(this.clock) < this.nextAutoSaveAtMonotonic) return;
      saving = true;
      save()
        .catch((error: unknown) => onFailure(error as Error))
        .finally(() => {
          saving = false;
        });
    }, intervalMs);
    // An idle timer must not keep a Node process alive.
    (timer as { unref?: () => void }).unref?.();
    const handle: AutoSave = {
      stop: async () => {
        this.clock.clearInterval(timer);
        if (this.autoSave === handle) this.autoSave = undefined;
        await this.saving;
        if (isDirty()) await save();
      },
    };
    this.autoSave = handle;
    return handle;
  }

  private requireStorage(): Storage {
    if (this.storage === undefined) {
      throw new ConfigError('ERR_INVALID_CONFIG', 'This address book has no storage: pass { storage } to save or load it');
    }
    return this.storage;
  }
}
