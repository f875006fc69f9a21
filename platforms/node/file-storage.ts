import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MeshlinkError } from '../../src/errors.js';
import { MAX_ADDRESS_BOOK_BYTES } from '../../src/pex/constants.js';
import { assertStorageKey, STORAGE_TEMPORARY_SUFFIX, type Storage } from '../../src/storage/storage.js';

/**
 * Largest file `get` reads: above the largest value meshlink stores (an address book may load up to
 * MAX_ADDRESS_BOOK_BYTES). A bigger file is refused before a byte is read, so a corrupt or planted
 * one costs no memory.
 */
export const FILE_STORAGE_MAX_BYTES = MAX_ADDRESS_BOOK_BYTES + 16 * 1024 * 1024;
/**
 * A temporary file of `set` this old was left by a process that died mid-write: the next `set` of its
 * key removes it. Far longer than any write takes, so a write in flight is never swept.
 */
export const FILE_STORAGE_STALE_TEMPORARY_MS = 10 * 60 * 1000;
const TEMPORARY_NAME_AFTER_KEY = new RegExp(`^${STORAGE_TEMPORARY_SUFFIX.source}`);

/**
 * Storage as files in a directory (the node's home). Writes are atomic: a temporary file is written,
 * fsynced, then renamed over the old one. Files are created with mode 0600 because one of them is the
 * node's private key. Reads take regular files only (a symlink to one is fine: secret mounts use them),
 * of at most `maxFileBytes`.
 */
export class FileStorage implements Storage {
  constructor(
    readonly directory: string,
    readonly maxFileBytes: number = FILE_STORAGE_MAX_BYTES,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    assertStorageKey(key);
    const path = join(this.directory, key);
    try {
      // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever.
      const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
      try {
        const info = await handle.stat();
        // readFile reads a device (a link to /dev/zero) or a FIFO until it ends: 2 GiB, or never.
        if (!info.isFile()) throw new MeshlinkError('ERR_STORAGE', `${path} is not a regular file`, { detail: { key } });
        if (info.size > this.maxFileBytes) {
          throw new MeshlinkError('ERR_STORAGE', `${path} holds ${info.size} bytes, over the ${this.maxFileBytes} this storage reads`, {
            detail: { key, size: info.size, maxBytes: this.maxFileBytes },
          });
        }
        return await readUpTo(handle, info.size);
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (error instanceof MeshlinkError) throw error;
      throw new MeshlinkError('ERR_STORAGE', `Cannot read ${key} from ${this.directory}`, { cause: error });
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertStorageKey(key);
    const target = join(this.directory, key);
    const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
      // 'wx': never through something already at the temporary name (a planted symlink).
      const handle = await open(temporary, 'wx', 0o600);
      try {
        await handle.writeFile(value);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, target);
      await this.sweepTemporaries(key);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw new MeshlinkError('ERR_STORAGE', `Cannot write ${key} to ${this.directory}`, { cause: error });
    }
  }

  /**
   * Removes what writes of `key` that never finished left behind: each crash mid-write (a kill -9
   * while the book was saved) kept a temporary file of up to the book's size for good.
   */
  private async sweepTemporaries(key: string): Promise<void> {
    const names = await readdir(this.directory).catch(() => [] as string[]);
    const now = Date.now();
    for (const name of names) {
      // Exactly `<key>.<12 hex>.tmp` (assertStorageKey keeps every key from ending so).
      if (!name.startsWith(key) || !TEMPORARY_NAME_AFTER_KEY.test(name.slice(key.length))) continue;
      const path = join(this.directory, name);
      const info = await stat(path).catch(() => undefined);
      if (info !== undefined && now - info.mtimeMs > FILE_STORAGE_STALE_TEMPORARY_MS) await rm(path, { force: true }).catch(() => undefined);
    }
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key);
    await rm(join(this.directory, key), { force: true });
  }
}

/** The first `size` bytes of the file (fewer if it shrank since its size was read). */
async function readUpTo(handle: FileHandle, size: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(size);
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === size ? bytes : bytes.subarray(0, filled);
}
