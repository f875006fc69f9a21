import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, readdir, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, FileStorage, tcpTransport } from '../../platforms/node/index.js';
import { loadOrCreateNodeKey } from '../../src/crypto/keys.js';
import { MeshlinkError } from '../../src/errors.js';
import { within } from '../helpers/wait.js';

// What a node's home may hold that it did not write: a previous version's data, a copy gone wrong, a
// FIFO or a link to a device. FileStorage reads it over real files: typed errors, bounded memory, no hang.
const homes: string[] = [];
const fifos: string[] = [];

async function freshHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'meshlink-file-storage-'));
  homes.push(home);
  return home;
}

afterEach(async () => {
  // On code that opens a FIFO blocking, that open holds a libuv thread until a writer comes: be one.
  for (const fifo of fifos.splice(0)) {
    await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).then((handle) => handle.close(), () => undefined);
  }
  await Promise.all(homes.splice(0).map((home) => rm(home, { recursive: true, force: true })));
});

async function storageError(promise: Promise<unknown>, what: string): Promise<MeshlinkError> {
  const error = await within(promise.then(() => undefined, (e: unknown) => e), 2000, what);
  expect(error, `${what} must reject`).toBeInstanceOf(MeshlinkError);
  expect((error as MeshlinkError).code, what).toBe('ERR_STORAGE');
  return error as MeshlinkError;
}

describe.skipIf(process.platform === 'win32')('FileStorage over files it did not write', () => {
  it('refuses a FIFO or a link to a device at once (ERR_STORAGE) instead of waiting for ever or reading 2 GiB', async () => {
    const home = await freshHome();
    const fifo = join(home, 'node-key');
    execFileSync('mkfifo', [fifo]);
    fifos.push(fifo);
    await storageError(new FileStorage(home).get('node-key'), 'get of a FIFO');
    // The node's own start: the home lock is taken, the key read fails typed, the lock is given back.
    await storageError(createNode({ home, transports: [tcpTransport()] }), 'createNode with a FIFO for its key');
    expect(await readdir(home)).toEqual(['node-key']);

    const other = await freshHome();
    await symlink('/dev/zero', join(other, 'address-book'));
    const before = process.memoryUsage().arrayBuffers;
    await storageError(new FileStorage(other).get('address-book'), 'get of a link to /dev/zero');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });

  it('refuses a file over maxFileBytes before reading it, and a node with such a book still starts', async () => {
    const home = await freshHome();
    // Sparse: 200 MiB that cost no disk, and would cost 200 MiB of memory once read.
    await writeFile(join(home, 'address-book'), '');
    await truncate(join(home, 'address-book'), 200 * 1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    const error = await storageError(new FileStorage(home).get('address-book'), 'get of a 200 MiB book');
    expect(error.detail).toMatchObject({ key: 'address-book', size: 200 * 1024 * 1024 });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    await expect(new FileStorage(home, 1024).get('address-book')).rejects.toMatchObject({ code: 'ERR_STORAGE' });

    const sw = await createNode({ home, transports: [tcpTransport()], listen: ['tcp://127.0.0.1:0'] });
    try {
      await sw.start();
      expect(sw.status().listen).toHaveLength(1);
    } finally {
      await sw.stop();
    }
  });

  it('removes what writes cut by a crash left behind, at the next write of that key, and nothing else', async () => {
    const home = await freshHome();
    const storage = new FileStorage(home);
    await storage.set('address-book', new Uint8Array(10));
    // What kill -9 in the middle of a save leaves: a temporary file of the book's size, an hour old.
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    const stale = Array.from({ length: 5 }, (_, n) => `address-book.${n.toString(16).padStart(12, 'a')}.tmp`);
    for (const name of stale) {
      await writeFile(join(home, name), new Uint8Array(1024));
      await utimes(join(home, name), hourAgo, hourAgo);
    }
    // A write of another process in flight (fresh), another key's leftovers, a file of the app's own.
    await writeFile(join(home, 'address-book.0123456789ab.tmp'), '');
    await writeFile(join(home, 'node-key.0123456789ab.tmp'), '');
    await utimes(join(home, 'node-key.0123456789ab.tmp'), hourAgo, hourAgo);
    await writeFile(join(home, 'address-book.backup'), '');
    await utimes(join(home, 'address-book.backup'), hourAgo, hourAgo);

    await storage.set('address-book', new Uint8Array(20));
    expect((await readdir(home)).sort()).toEqual(['address-book', 'address-book.0123456789ab.tmp', 'address-book.backup', 'node-key.0123456789ab.tmp']);
    expect((await storage.get('address-book'))?.length).toBe(20);
  });

  it("a key shaped like another key's temporary file is refused, so the sweep can never take a value of the app's", async () => {
    const home = await freshHome();
    const storage = new FileStorage(home);
    const lookalike = 'notes.0123456789ab.tmp';
    // Before: taken; 10 minutes later the next write of 'notes' swept it as a crashed write's leftover.
    await expect(storage.set(lookalike, new Uint8Array([1, 2, 3]))).rejects.toBeInstanceOf(TypeError);
    await expect(storage.get(lookalike)).rejects.toBeInstanceOf(TypeError);
    // Names near it are still keys.
    for (const key of ['notes.0123456789ab', 'notes.tmp', 'notes.0123456789ab.tmp.2', 'notes.0123456789abc.tmp']) {
      await storage.set(key, new Uint8Array([7]));
      const old = new Date(Date.now() - 60 * 60 * 1000);
      await utimes(join(home, key), old, old);
    }
    await storage.set('notes', new Uint8Array([9]));
    expect((await readdir(home)).sort()).toEqual(['notes', 'notes.0123456789ab', 'notes.0123456789ab.tmp.2', 'notes.0123456789abc.tmp', 'notes.tmp']);
  });

  it('still reads a key through a symlink to a regular file (secret mounts are links)', async () => {
    const home = await freshHome();
    const secrets = await freshHome();
    const created = await loadOrCreateNodeKey(new FileStorage(secrets));
    await symlink(join(secrets, 'node-key'), join(home, 'node-key'));
    expect((await loadOrCreateNodeKey(new FileStorage(home))).nodeId).toBe(created.nodeId);
    expect((await stat(join(secrets, 'node-key'))).mode & 0o777).toBe(0o600);
  });
});
