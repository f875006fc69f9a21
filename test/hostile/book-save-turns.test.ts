/**
 * A book that peers filled with long addresses (up to 1 KiB each, ~50 MB as JSON), saved while honest
 * peers talk to the node over real TCP and WebSocket: the save encodes it in slices, the event loop
 * running between them, instead of holding it for the whole encoding (before: the JSON of the whole
 * book, then each item again to fit it under what a load accepts, then the fitted whole, in one turn).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FileStorage } from '../../platforms/node/file-storage.js';
import { decodeAddressBook } from '../../src/pex/address-book-format.js';
import { ADDRESS_BOOK_STORAGE_KEY, MAX_ADDRESS_BOOK_BYTES } from '../../src/pex/constants.js';
import type { Storage } from '../../src/storage/storage.js';
import { nodeId, publicHost, tcp } from '../pex/address-book-helpers.js';
import { finishScene, startScene, stopHostileNodes } from './harness.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();

const directories: string[] = [];
afterEach(async () => {
  await stopHostileNodes();
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

/** A FileStorage that notes, at each write, how many honest messages had been delivered by then. */
class WriteMoment implements Storage {
  readonly deliveredAtWrite: number[] = [];
  constructor(
    private readonly inner: Storage,
    private readonly delivered: () => number,
  ) {}
  get(key: string): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }
  set(key: string, value: Uint8Array): Promise<void> {
    this.deliveredAtWrite.push(this.delivered());
    return this.inner.set(key, value);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

it('a save of a book peers filled with 1 KiB addresses lets honest traffic through while it encodes', { timeout: 90_000 }, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'meshlink-book-save-'));
  directories.push(directory);
  let delivered = (): number => 0;
  const storage = new WriteMoment(new FileStorage(directory), () => delivered());
  // Saved only when the test says so (no auto-save or save at stop of ~50 MB behind its back).
  const scene = await startScene({ pex: { storage, persist: false } });
  delivered = scene.pump.delivered;
  const book = scene.victim.pex.book;
  // What PEX answers from 120 networks add in the wild (each network's allowance lifted: how the
  // addresses got in is not what is tested here): 62,400 addresses of ~1 KiB, past what a load accepts.
  const path = `/${'p'.repeat(900)}`;
  for (let group = 0, n = 1; group < 120; group++) {
    const source = tcp(1_000_000 + group, publicHost(group + 1000));
    for (let i = 0; i < 520; i++, n++) book.tryAddAddress(`ws://${nodeId(n)}@${publicHost((n % 20_000) + 3000, n)}:443${path}`, source);
  }
  expect(book.size(), 'entries in the book').toBeGreaterThan(40_000);
  await scene.pump.expectFlowing(10, 5000);

  const before = scene.pump.delivered();
  await book.save();
  // Before: 0. The encoding (~1 s here, 2.2 s under load) ran from the save's start to the write in one
  // turn of the event loop, so nothing reached any peer meanwhile; the pump delivers ~600 a second.
  const duringEncoding = storage.deliveredAtWrite[0]! - before;
  expect(duringEncoding, 'honest messages delivered while the book was encoded').toBeGreaterThanOrEqual(10);

  // What was written is what a load accepts, and parses.
  const stored = await new FileStorage(directory).get(ADDRESS_BOOK_STORAGE_KEY);
  expect(stored!.byteLength).toBeLessThanOrEqual(MAX_ADDRESS_BOOK_BYTES);
  const decoded = decodeAddressBook(stored!);
  expect(decoded.ok && decoded.snapshot.entries.length, 'entries stored').toBeGreaterThan(0.6 * book.size());

  // The book itself is ~100 MB of heap: the bound checked is the scene's, not the book's.
  await finishScene(scene, 400);
});
