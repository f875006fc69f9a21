import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { AddressBook, type AddressBookOptions } from '../../src/pex/address-book.js';
import { MemoryStorage, type Storage } from '../../src/storage/storage.js';
import { FileStorage } from '../../platforms/node/file-storage.js';
import { MeshlinkError } from '../../src/errors.js';
import { MAX_ADDRESS_BOOK_BYTES } from '../../src/pex/constants.js';
import { FakeClock, nodeId, publicHost, seededRandom, tcp } from './address-book-helpers.js';

const SOURCE = tcp(9999, publicHost(77));

/** A book with new, old and banned entries, all fields non-trivial. */
function populatedBook(storage: Storage, clock: FakeClock, options: AddressBookOptions = {}): AddressBook {
  const book = new AddressBook({ storage, now: clock.now, random: seededRandom(11), ...options });
  for (let i = 1; i <= 200; i++) book.addAddress(tcp(i, publicHost(i, i)), tcp(10_000 + (i % 20), publicHost(500 + (i % 20))));
  for (let i = 1; i <= 50; i++) book.markGood(nodeId(i));
  for (let i = 51; i <= 60; i++) book.markAttempt(nodeId(i));
  clock.advance(1234);
  book.markBad(nodeId(61), 3_600_000);
  book.markBad(nodeId(62), 1000);
  return book;
}

function comparable(book: AddressBook): unknown[] {
  return book
    .entries()
    .map((entry) => ({ ...entry }))
    .sort((a, b) => a.address.localeCompare(b.address));
}

describe('AddressBook save/load', () => {
  it('round-trips through MemoryStorage: entries, buckets, counters and bans', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock();
    const book = populatedBook(storage, clock);
    expect(book.isDirty).toBe(true);
    await book.save();
    expect(book.isDirty).toBe(false);

    // A fresh book has a different random key; load() must adopt the stored one, or the buckets would differ.
    const restored = new AddressBook({ storage, now: clock.now, random: seededRandom(12) });
    const result = await restored.load();
    expect(result).toEqual({ loaded: book.size(), skipped: 0 });
    expect(comparable(restored)).toEqual(comparable(book));
    expect(restored.stats()).toEqual(book.stats());
    expect(restored.isBanned(nodeId(61))).toBe(true);
    expect(restored.selfCheck()).toEqual([]);
    // Same key: the same new address lands in the same bucket in both books.
    const probe = tcp(5000, publicHost(5000));
    book.addAddress(probe, SOURCE);
    restored.addAddress(probe, SOURCE);
    expect(restored.get(probe)!.buckets).toEqual(book.get(probe)!.buckets);
  });

  it('reinstates bans that ended while the book was stored', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock();
    const book = populatedBook(storage, clock);
    await book.save();
    clock.advance(2000);
    const restored = new AddressBook({ storage, now: clock.now });
    await restored.load();
    expect(restored.isBanned(nodeId(62))).toBe(false);
    expect(restored.has(nodeId(62))).toBe(true);
    expect(restored.isBanned(nodeId(61))).toBe(true);
  });

  it('round-trips through FileStorage in a temporary directory, as versioned JSON', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'meshlink-addrbook-'));
    try {
      const clock = new FakeClock();
      const book = populatedBook(new FileStorage(directory), clock);
      await book.save();
      const document = JSON.parse(await readFile(join(directory, 'address-book'), 'utf8')) as Record<string, unknown>;
      expect(document).toMatchObject({ format: 'meshlink-address-book', version: 2 });
      expect(document['key']).toMatch(/^[0-9a-f]{64}$/);

      const restored = new AddressBook({ storage: new FileStorage(directory), now: clock.now });
      expect(await restored.load()).toEqual({ loaded: book.size(), skipped: 0 });
      expect(comparable(restored)).toEqual(comparable(book));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('saves a book that peers filled with 1 KiB addresses within what a load accepts, keeping every tried entry', { timeout: 60_000 }, async () => {
    const directory = await mkdtemp(join(tmpdir(), 'meshlink-addrbook-'));
    try {
      const book = new AddressBook({ storage: new FileStorage(directory), random: seededRandom(5) });
      const path = `/${'p'.repeat(900)}`;
      let n = 1;
      // 120 source networks, each telling its maximum of long addresses: ~60 MB as JSON.
      for (let group = 0; group < 120; group++) {
        const source = tcp(1_000_000 + group, publicHost(group + 1000));
        for (let i = 0; i < 520; i++, n++) book.tryAddAddress(`ws://${nodeId(n)}@${publicHost((n % 20_000) + 3000, n)}:443${path}`, source);
      }
      for (let i = 1; i <= 200; i += 2) book.markGood(nodeId(i));
      const tried = book.entries().filter((entry) => entry.bucketType === 'old').length;
      expect(tried).toBeGreaterThan(0);
      await book.save();
      const size = (await stat(join(directory, 'address-book'))).size;
      expect(size, 'stored bytes').toBeLessThanOrEqual(MAX_ADDRESS_BOOK_BYTES);
      const warnings: string[] = [];
      const restored = new AddressBook({ storage: new FileStorage(directory), onWarning: (warning) => warnings.push(warning) });
      const { loaded } = await restored.load();
      expect(warnings.filter((warning) => warning.includes('ignored')), 'the stored book is read, not ignored').toEqual([]);
      expect(loaded, 'entries loaded').toBeGreaterThan(0.6 * book.size());
      expect(restored.entries().filter((entry) => entry.bucketType === 'old').length, 'tried entries kept').toBe(tried);
      expect(restored.selfCheck()).toEqual([]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('gives a warning and an empty book for a truncated file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'meshlink-addrbook-'));
    try {
      const clock = new FakeClock();
      await populatedBook(new FileStorage(directory), clock).save();
      const path = join(directory, 'address-book');
      const full = await readFile(path);
      await writeFile(path, full.subarray(0, Math.floor(full.length / 2)));
      const warnings: string[] = [];
      const restored = new AddressBook({ storage: new FileStorage(directory), onWarning: (message) => warnings.push(message) });
      restored.addAddress(tcp(1, publicHost(1)), SOURCE);
      const result = await restored.load();
      expect(result.loaded).toBe(0);
      expect(result.warning).toMatch(/truncated or corrupt/);
      expect(warnings).toEqual([result.warning]);
      expect(restored.size()).toBe(0);
      // The next save replaces the corrupt file with a valid one.
      await restored.save();
      expect((await new AddressBook({ storage: new FileStorage(directory) }).load()).warning).toBeUndefined();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('gives a warning and an empty book for a garbage file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'meshlink-addrbook-'));
    try {
      await writeFile(join(directory, 'address-book'), new Uint8Array([0xff, 0xfe, 0x00, 0x42, 0x13, 0x37]));
      const restored = new AddressBook({ storage: new FileStorage(directory) });
      const result = await restored.load();
      expect(result).toMatchObject({ loaded: 0, skipped: 0 });
      expect(result.warning).toBeDefined();
      expect(restored.size()).toBe(0);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it.each([
    ['valid JSON of another shape', '{"hello":"world"}', /not a meshlink address book/],
    ['a future format version', '{"format":"meshlink-address-book","version":99}', /unsupported format version 99/],
    ['a missing key', '{"format":"meshlink-address-book","version":1,"entries":[]}', /bucket key/],
    ['JSON null', 'null', /not a meshlink address book/],
  ])('gives a warning for %s', async (_name, text, pattern) => {
    const storage = new MemoryStorage();
    await storage.set('address-book', new TextEncoder().encode(text));
    const result = await new AddressBook({ storage }).load();
    expect(result.loaded).toBe(0);
    expect(result.warning).toMatch(pattern);
  });

  it('skips malformed or now-refused entries and keeps the rest, with a warning', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock();
    // Saved by a LAN book; loaded by a strict one, which refuses the private addresses.
    const lan = new AddressBook({ storage, now: clock.now, allowLocal: true });
    lan.addAddress(tcp(1, publicHost(1)), SOURCE);
    lan.addAddress(`tcp://${nodeId(2)}@192.168.1.2:26656`, SOURCE);
    await lan.save();
    const bytes = (await storage.get('address-book'))!;
    const document = JSON.parse(new TextDecoder().decode(bytes)) as { entries: unknown[] };
    document.entries.push({ address: 42 }, 'junk', { ...(document.entries[0] as object), attempts: -1 });
    await storage.set('address-book', new TextEncoder().encode(JSON.stringify(document)));

    const strict = new AddressBook({ storage, now: clock.now });
    const result = await strict.load();
    expect(result).toMatchObject({ loaded: 1, skipped: 4 });
    expect(result.warning).toMatch(/4 stored/);
    expect(strict.has(nodeId(1))).toBe(true);
    expect(strict.isDirty).toBe(true);
  });

  it('keeps the mark of hearsay named from two source groups across a restart; a file cannot mark an entry by its own source', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock();
    const book = new AddressBook({ storage, now: clock.now, random: seededRandom(3) });
    const named = Array.from({ length: 20 }, (_, n) => tcp(n + 1, publicHost(n + 1)));
    for (const address of named) book.addAddress(address, SOURCE);
    for (const address of named.slice(0, 12)) book.addAddress(address, tcp(9998, publicHost(78)));
    await book.save();
    const restored = new AddressBook({ storage, now: clock.now });
    await restored.load();
    // Before: none corroborated after a load, so answers shrank to 32 hearsay until the addresses were named again.
    expect(named.filter((address) => restored.get(address)!.corroborated)).toEqual(named.slice(0, 12));

    const bytes = (await storage.get('address-book'))!;
    const document = JSON.parse(new TextDecoder().decode(bytes)) as { entries: Record<string, unknown>[] };
    const byAddress = (address: string): Record<string, unknown> => document.entries.find((entry) => entry['address'] === address)!;
    // The group of SOURCE, which told us of every one of them.
    byAddress(named[12]!)['corroboratedBy'] = `ipv4:${publicHost(77).split('.').slice(0, 2).join('.')}`;
    byAddress(named[13]!)['corroboratedBy'] = 42;
    byAddress(named[14]!)['corroboratedBy'] = 'x'.repeat(5000);
    await storage.set('address-book', new TextEncoder().encode(JSON.stringify(document)));
    const hostile = new AddressBook({ storage, now: clock.now });
    expect(await hostile.load()).toMatchObject({ loaded: 18, skipped: 2 });
    expect(hostile.get(named[12]!)!.corroborated).toBe(false);
    expect(hostile.has(named[13]!)).toBe(false);
    expect(hostile.has(named[14]!)).toBe(false);
    expect(hostile.selfCheck()).toEqual([]);
  });

  it('keeps a node\'s refusal and its inbound word across a restart, so answers hand it out still; a file\'s times are checked', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock();
    const book = new AddressBook({ storage, now: clock.now, random: seededRandom(3) });
    const reached = Array.from({ length: 4 }, (_, n) => tcp(n + 1, publicHost(n + 1)));
    for (const address of reached) {
      book.addAddress(address, SOURCE);
      book.markAttempt(address);
      book.markGood(address);
    }
    const [full, dialsUs, gone] = reached;
    clock.advance(23 * 60 * 60 * 1000);
    // Full: it refused our dial itself.
    book.markAttempt(full!);
    book.markRefused(full!);
    // It only dials us now, naming the address we reached it at.
    book.confirmInbound(nodeId(2), [dialsUs!]);
    book.markAttempt(gone!);
    expect(reached.map((address) => book.hasLapsed(address))).toEqual([false, false, true, false]);
    await book.save();
    clock.advance(2 * 60 * 60 * 1000);
    const restored = new AddressBook({ storage, now: clock.now });
    await restored.load();
    // Before: the refusal was not saved (the full node lapsed at once: a failed dial), nor could an inbound claim refresh it (lapsed 24 h after we reached it).
    expect(reached.map((address) => restored.hasLapsed(address))).toEqual([false, false, true, true]);

    const bytes = (await storage.get('address-book'))!;
    const document = JSON.parse(new TextDecoder().decode(bytes)) as { entries: Record<string, unknown>[] };
    const byAddress = (address: string): Record<string, unknown> => document.entries.find((entry) => entry['address'] === address)!;
    byAddress(full!)['lastRefusal'] = -5;
    byAddress(dialsUs!)['lastClaimedInbound'] = '1e99';
    // A clock that ran ahead (or a forged file) must not keep an entry confirmed for ever.
    byAddress(reached[3]!)['lastClaimedInbound'] = Number.MAX_SAFE_INTEGER;
    await storage.set('address-book', new TextEncoder().encode(JSON.stringify(document)));
    const hostile = new AddressBook({ storage, now: clock.now });
    expect(await hostile.load()).toMatchObject({ loaded: 2, skipped: 2 });
    expect(hostile.hasLapsed(reached[3]!)).toBe(false);
    clock.advance(24 * 60 * 60 * 1000 + 1);
    expect(hostile.hasLapsed(reached[3]!)).toBe(true);
    expect(hostile.selfCheck()).toEqual([]);
  });

  it('re-buckets entries saved with a different geometry, within the new capacity', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock();
    const original = populatedBook(storage, clock);
    await original.save();
    const small = new AddressBook({ storage, now: clock.now, newBucketCount: 4, oldBucketCount: 2, bucketSize: 8 });
    const result = await small.load();
    expect(result.loaded).toBeLessThanOrEqual(small.capacity);
    expect(result.loaded).toBeGreaterThan(0);
    expect(result.loaded + result.skipped).toBe(original.size());
    expect(result.warning).toMatch(/over capacity/);
    expect(small.selfCheck()).toEqual([]);
  });

  it('leaves the book as it is when nothing is stored', async () => {
    const book = new AddressBook({ storage: new MemoryStorage() });
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    expect(await book.load()).toEqual({ loaded: 1, skipped: 0 });
    expect(book.size()).toBe(1);
  });

  it('turns a failing storage read into a warning, not a rejection', async () => {
    const storage: Storage = {
      get: () => Promise.reject(new Error('EACCES')),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    };
    const result = await new AddressBook({ storage }).load();
    expect(result.warning).toMatch(/EACCES/);
  });

  it('rejects save and load without storage', async () => {
    const book = new AddressBook();
    await expect(book.save()).rejects.toBeInstanceOf(MeshlinkError);
    await expect(book.load()).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' });
  });

  it('keeps the book dirty when a save fails', async () => {
    const storage: Storage = {
      get: () => Promise.resolve(undefined),
      set: () => Promise.reject(new MeshlinkError('ERR_STORAGE', 'disk full')),
      delete: () => Promise.resolve(),
    };
    const book = new AddressBook({ storage });
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    await expect(book.save()).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    expect(book.isDirty).toBe(true);
  });

  it('never throws and stays consistent whatever bytes are stored', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock();
    await populatedBook(storage, clock).save();
    const valid = (await storage.get('address-book'))!;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.nat({ max: valid.length }).map((cut) => valid.subarray(0, cut)),
          fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
            const copy = valid.slice();
            copy[at] = byte;
            return copy;
          }),
        ),
        async (bytes) => {
          const target = new MemoryStorage();
          await target.set('address-book', bytes);
          const book = new AddressBook({ storage: target, now: clock.now });
          const result = await book.load();
          expect(result.loaded).toBe(book.size());
          expect(book.size()).toBeLessThanOrEqual(book.capacity);
          expect(book.selfCheck()).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('AddressBook.startAutoSave', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function countingStorage(): Storage & { writes: number } {
    const inner = new MemoryStorage();
    const storage = {
      writes: 0,
      get: (key: string) => inner.get(key),
      set: async (key: string, value: Uint8Array) => {
        storage.writes++;
        await inner.set(key, value);
      },
      delete: (key: string) => inner.delete(key),
    };
    return storage;
  }

  it('saves on the interval only when something changed, and once more on stop', async () => {
    const storage = countingStorage();
    const book = new AddressBook({ storage });
    const autoSave = book.startAutoSave(1000);
    await vi.advanceTimersByTimeAsync(3000);
    expect(storage.writes).toBe(0);
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    await vi.advanceTimersByTimeAsync(1000);
    expect(storage.writes).toBe(1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(storage.writes).toBe(1);
    book.addAddress(tcp(2, publicHost(2)), SOURCE);
    await autoSave.stop();
    expect(storage.writes).toBe(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(storage.writes).toBe(2);
    expect(book.isDirty).toBe(false);
  });

  it('queues no save behind one still being written, however slow the storage (one write when it returns)', async () => {
    const inner = new MemoryStorage();
    const releases: (() => void)[] = [];
    let started = 0;
    const storage: Storage = {
      get: (key) => inner.get(key),
      set: async (key, value) => {
        started++;
        await new Promise<void>((release) => releases.push(release));
        await inner.set(key, value);
      },
      delete: (key) => inner.delete(key),
    };
    const book = new AddressBook({ storage });
    const autoSave = book.startAutoSave(1000);
    for (let i = 1; i <= 100; i++) {
      book.addAddress(tcp(i, publicHost(i)), SOURCE);
      await vi.advanceTimersByTimeAsync(1000);
    }
    // Before: 100 saves queued, each to encode the whole book and write it in turn.
    expect(started).toBe(1);
    releases.shift()!();
    await vi.advanceTimersByTimeAsync(1000);
    expect(started).toBe(2);
    const stopped = autoSave.stop();
    releases.shift()!();
    await vi.advanceTimersByTimeAsync(0);
    while (releases.length > 0) {
      releases.shift()!();
      await vi.advanceTimersByTimeAsync(0);
    }
    await stopped;
    expect(started).toBeLessThanOrEqual(3);
    expect(book.isDirty).toBe(false);
    const reloaded = new AddressBook({ storage: inner });
    await reloaded.load();
    expect(reloaded.size()).toBe(100);
    expect(book.size()).toBe(100);
  });

  it('saves a book that peers made large less often: at most 16 KiB a second on average, a small one at every tick', async () => {
    const storage = countingStorage();
    const written: number[] = [];
    const measuring: Storage = { ...storage, set: async (key, value) => { written.push(value.length); await storage.set(key, value); } };
    const book = new AddressBook({ storage: measuring });
    const autoSave = book.startAutoSave(1000);
    for (let i = 1; i <= 5; i++) {
      book.addAddress(tcp(i, publicHost(i)), SOURCE);
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(written).toHaveLength(5); // a small book: every tick, as before
    written.length = 0;
    // Long addresses from many sources (each source group has its own buckets): a book of ~100 KB.
    const long = (i: number): string => `ws://${nodeId(i + 10)}@${publicHost(i + 10)}:443/${'p'.repeat(800)}`;
    for (let i = 0; i < 120; i++) book.addAddress(long(i), tcp(9000, publicHost(200 + (i % 40))));
    for (let second = 0; second < 30; second++) {
      book.markAttempt(long(second)); // a dial: the book changed
      await vi.advanceTimersByTimeAsync(1000);
    }
    const bytes = written.reduce((sum, n) => sum + n, 0);
    expect(written[0]!).toBeGreaterThan(50_000);
    // Before: 30 writes, one each second, the whole book each time.
    expect(written.length).toBeLessThan(12);
    expect(bytes).toBeLessThanOrEqual(16 * 1024 * 30 + written[0]!);
    await autoSave.stop();
  });

  it('reports failed saves to onWarning instead of crashing', async () => {
    const warnings: string[] = [];
    const storage: Storage = {
      get: () => Promise.resolve(undefined),
      set: () => Promise.reject(new Error('disk full')),
      delete: () => Promise.resolve(),
    };
    const book = new AddressBook({ storage, onWarning: (message) => warnings.push(message) });
    const autoSave = book.startAutoSave(1000);
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    await vi.advanceTimersByTimeAsync(1000);
    expect(warnings).toEqual(['address book auto-save failed: disk full']);
    await expect(autoSave.stop()).rejects.toThrow('disk full');
  });

  it('refuses a second auto-save, a bad interval, and a book without storage', () => {
    const book = new AddressBook({ storage: new MemoryStorage() });
    expect(() => book.startAutoSave(0)).toThrow(MeshlinkError);
    const autoSave = book.startAutoSave(1000);
    expect(() => book.startAutoSave(1000)).toThrow(/already running/);
    void autoSave.stop();
    expect(() => new AddressBook().startAutoSave(1000)).toThrow(/no storage/);
  });
});
