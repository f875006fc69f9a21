import { createStore, del, get, set, type UseStore } from 'idb-keyval';
import { MeshlinkError } from '../../src/errors.js';
import { assertStorageKey, type Storage } from '../../src/storage/storage.js';

/**
 * How long one IndexedDB operation may take. Opening a database waits, for as long as it takes, behind a
 * deletion or an upgrade that another tab of the origin asked for and that a third tab's open
 * connection blocks (an older version of the app left open): a page's createNode then never settled.
 */
export const INDEXEDDB_TIMEOUT_MS = 10 * 1000;

/**
 * Storage in IndexedDB through idb-keyval, one object store per node name, so two meshlink nodes on one
 * origin do not share keys. IndexedDB transactions are atomic, which gives `set` the all-or-nothing
 * guarantee the Storage contract asks for. An operation not done within `timeoutMs` fails with
 * ERR_STORAGE (a write may still land later).
 */
export class IndexedDbStorage implements Storage {
  private readonly store: UseStore;

  constructor(
    readonly databaseName = 'meshlink',
    readonly timeoutMs = INDEXEDDB_TIMEOUT_MS,
  ) {
    this.store = createStore(databaseName, 'keyval');
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertStorageKey(key);
    const value: unknown = await this.run('read', key, () => get(key, this.store));
    if (value === undefined) return undefined;
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    throw new MeshlinkError('ERR_STORAGE', `IndexedDB value for ${key} is not bytes`);
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertStorageKey(key);
    const copy = value.slice();
    await this.run('write', key, () => set(key, copy, this.store));
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key);
    await this.run('delete', key, () => del(key, this.store));
  }

  /** `operation()`, its failure or its lateness as ERR_STORAGE. */
  private run<T>(what: 'read' | 'write' | 'delete', key: string, operation: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new MeshlinkError('ERR_STORAGE', `IndexedDB did not ${what} ${key} within ${this.timeoutMs} ms (another tab may hold the database "${this.databaseName}" blocked)`, {
            detail: { key, timeoutMs: this.timeoutMs },
          }),
        );
      }, this.timeoutMs);
      operation().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(new MeshlinkError('ERR_STORAGE', `Cannot ${what} ${key} in IndexedDB`, { cause: error }));
        },
      );
    });
  }
}
