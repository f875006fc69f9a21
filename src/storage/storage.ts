/**
 * Small key-value persistence supplied by the platform: files in a node's home directory in Node,
 * IndexedDB (idb-keyval) in browsers, a Map in tests. Keys are short names such as 'node-key' or
 * 'address-book'. Implementations must make `set` atomic: after a crash a reader sees the old value or
 * the new one, never a mix.
 */
export interface Storage {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}

const STORAGE_KEY_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Keys double as file names, so they are kept to a safe alphabet. */
export function assertStorageKey(key: string): void {
  if (!STORAGE_KEY_PATTERN.test(key)) {
    throw new TypeError(`Invalid storage key "${key}": use 1-64 of [a-z0-9._-], starting with a letter or digit`);
  }
}

/** In-memory Storage for tests and ephemeral nodes. */
export class MemoryStorage implements Storage {
  private readonly values = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    assertStorageKey(key);
    const value = this.values.get(key);
    return value === undefined ? undefined : value.slice();
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertStorageKey(key);
    this.values.set(key, value.slice());
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key);
    this.values.delete(key);
  }
}
