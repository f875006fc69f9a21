import { createStore, del, get, set, type UseStore } from 'idb-keyval';
import { MeshlinkError } from '../../src/errors.js';
import { assertStorageKey, type Storage } from '../../src/storage/storage.js';

/**
 * Storage in IndexedDB through idb-keyval, one object store per node name, so two meshlink nodes on one
 * origin do not share keys. IndexedDB transactions are atomic, which gives `set` the all-or-nothing
 * guarantee the Storage contract asks for.
 */
export class IndexedDbStorage implements Storage {
  private readonly store: UseStore;

  constructor(readonly databaseName = 'meshlink') {
    this.store = createStore(databaseName, 'keyval');
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertStorageKey(key);
    try {
      const value: unknown = await get(key, this.store);
      if (value === undefined) return undefined;
      if (value instanceof Uint8Array) return value;
      if (value instanceof ArrayBuffer) return new Uint8Array(value);
      throw new MeshlinkError('ERR_STORAGE', `IndexedDB value for ${key} is not bytes`);
    } catch (error) {
      if (error instanceof MeshlinkError) throw error;
      throw new MeshlinkError('ERR_STORAGE', `Cannot read ${key} from IndexedDB`, { cause: error });
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertStorageKey(key);
    try {
      await set(key, value.slice(), this.store);
    } catch (error) {
      throw new MeshlinkError('ERR_STORAGE', `Cannot write ${key} to IndexedDB`, { cause: error });
    }
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key);
    await del(key, this.store);
  }
}
