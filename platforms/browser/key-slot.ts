import { MemoryStorage, type Storage } from '../../src/storage/storage.js';
import { IndexedDbStorage } from './idb-storage.js';

/** The IndexedDB database of the first key slot; the others add `-1`, `-2`, … */
export const DEFAULT_KEY_SLOT_NAME = 'meshlink';
/**
 * Key slots a browser (one origin) offers: as many tabs of one app can each be a node of its own. A tab
 * past them gets a key for its life only (see claimKeySlot).
 */
export const BROWSER_KEY_SLOTS = 16;
/** How long the browser may take to say whether one slot's Web Lock is free (it answers at once). */
export const KEY_SLOT_LOCK_TIMEOUT_MS = 5 * 1000;
/** Our Web Locks are named so, so that they never meet an app's own locks. */
const LOCK_PREFIX = 'meshlink-key-slot:';

export type KeySlotHold =
  /** A Web Lock on the slot is held until `release()` or until the page goes away. */
  | 'locked'
  /** No Web Locks here (an insecure context): every tab of the origin uses the first slot, one node id. */
  | 'shared'
  /** Every slot is held by another tab: a key in memory, a new node id each time the page loads. */
  | 'ephemeral';

export interface KeySlot {
  /** The slot's IndexedDB database (`meshlink`, `meshlink-1`, …); undefined for an ephemeral slot. */
  readonly databaseName: string | undefined;
  /** Where the node keeps its key and address book. */
  readonly storage: Storage;
  readonly hold: KeySlotHold;
  /** Lets another node (a tab loaded later) take the slot. Idempotent. */
  release(): void;
}

interface LockManagerLike {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void> | undefined): Promise<unknown>;
}

/**
 * Tabs of one browser share an origin's IndexedDB, so a key kept there is one node id for every tab:
 * the relay refuses the second tab as a duplicate of the first, and the two cannot link to each other.
 * Each node therefore takes the first key slot that no live node of the origin holds, and holds it
 * with a Web Lock, which the browser also lets go when the page goes away: a reload gets its slot,
 * and so its node id, back. The same idea as a Node home's lock file, where a second process sharing
 * the home is refused; a tab is not refused but gets the next slot.
 */
export async function claimKeySlot(name: string = DEFAULT_KEY_SLOT_NAME, slots: number = BROWSER_KEY_SLOTS): Promise<KeySlot> {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (locks === undefined) return { databaseName: name, storage: new IndexedDbStorage(name), hold: 'shared', release: () => undefined };
  for (let slot = 0; slot < slots; slot++) {
    const databaseName = slot === 0 ? name : `${name}-${slot}`;
    const release = await tryLock(locks, LOCK_PREFIX + databaseName);
    if (release !== undefined) return { databaseName, storage: new IndexedDbStorage(databaseName), hold: 'locked', release };
  }
  return { databaseName: undefined, storage: new MemoryStorage(), hold: 'ephemeral', release: () => undefined };
}

/** Takes the lock if it is free; returns what lets it go, or undefined when another holds it. */
function tryLock(locks: LockManagerLike, lockName: string): Promise<(() => void) | undefined> {
  return new Promise((resolve) => {
    let answered = false;
    const timer = setTimeout(() => {
      answered = true;
      resolve(undefined);
    }, KEY_SLOT_LOCK_TIMEOUT_MS);
    const answer = (release: (() => void) | undefined): void => {
      clearTimeout(timer);
      answered = true;
      resolve(release);
    };
    locks
      .request(lockName, { ifAvailable: true }, (lock) => {
        // Granted after we stopped waiting: not ours to keep.
        if (lock === null || answered) {
          if (!answered) answer(undefined);
          return undefined;
        }
        return new Promise<void>((letGo) => answer(() => letGo()));
      })
      .catch(() => {
        if (!answered) answer(undefined);
      });
  });
}
