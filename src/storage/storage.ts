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

/**
 * How FileStorage names a write in progress (`<key>.<12 hex>.tmp`), which it removes once stale: no key
 * may end so, or a write of the key before it would sweep its value away.
 */
export const STORAGE_TEMPORARY_SUFFIX = /\.[0-9a-f]{12}\.tmp$/;

/** Keys double as file names, so they are kept to a safe alphabet. */
export function assertStorageKey(key: string): void {
  if (!STORAGE_KEY_PATTERN.test(key)) {
    throw new TypeError(`Invalid storage key "${key}": use 1-64 of [a-z0-9._-], starting with a letter or digit`);
  }
  if (STORAGE_TEMPORARY_SUFFIX.test(key)) {
    throw new TypeError(`Invalid storage key "${key}": a name ending in .<12 hex digits>.tmp is a temporary file of FileStorage`);
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
