import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MeshlinkError } from '../../src/errors.js';
import { assertStorageKey, type Storage } from '../../src/storage/storage.js';

/**
 * Storage as files in a directory (the node's home). Writes are atomic: a temporary file is written,
 * fsynced, then renamed over the old one. Files are created with mode 0600 because one of them is the
 * node's private key.
 */
export class FileStorage implements Storage {
  constructor(readonly directory: string) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    assertStorageKey(key);
    try {
      return new Uint8Array(await readFile(join(this.directory, key)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new MeshlinkError('ERR_STORAGE', `Cannot read ${key} from ${this.directory}`, { cause: error });
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    assertStorageKey(key);
    const target = join(this.directory, key);
    const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
      const handle = await open(temporary, 'w', 0o600);
      try {
        await handle.writeFile(value);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw new MeshlinkError('ERR_STORAGE', `Cannot write ${key} to ${this.directory}`, { cause: error });
    }
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key);
    await rm(join(this.directory, key), { force: true });
  }
}
