/**
 * A node banned in the address book keeps the entries it had, to put back when the ban ends. Those
 * entries are what peers told us (up to 8 addresses of ~1 KiB per node id, from one PEX answer), and once
 * banned they leave the tables and every per-source cap there. A liar handing a page the addresses of
 * nodes that answer from another network (ERR_INCOMPATIBLE_PEER from the node's own key: the PEX dialer
 * bans it, markBad) grew the page's saved book with each such dial while its tables stayed empty: 1,024
 * of them, 17 MB written to IndexedDB and read back (and re-validated) at every start of the page.
 */
import { describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { AddressBook } from '../../src/pex/address-book.js';
import { ADDRESS_BOOK_STORAGE_KEY, MAX_BANNED_ENTRY_BYTES, MAX_BANNED_NODE_IDS } from '../../src/pex/constants.js';
import { MemoryStorage } from '../../src/storage/storage.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('a liar’s nodes from another network, each banned once the page dialled it', () => {
  it('keep the saved book small: the bans stay, their entries only up to MAX_BANNED_ENTRY_BYTES', async () => {
    const storage = new MemoryStorage();
    let now = 1_000_000;
    const clock = { now: () => now, setTimeout, clearTimeout, setInterval, clearInterval } as never;
    const book = new AddressBook({ storage, clock });
    // The liar: a peer the page dialled at a long address of its own.
    const source = `ws://${generateNodeKey().nodeId}@9.9.9.9:443/${'s'.repeat(900)}`;
    const banned: string[] = [];
    for (let i = 0; i < MAX_BANNED_NODE_IDS; i++) {
      const id = generateNodeKey().nodeId;
      // One answer: 8 long addresses of the node, in 8 networks.
      const addresses = Array.from({ length: 8 }, (_, j) => `ws://${id}@${j + 20}.${i % 250}.${Math.floor(i / 250)}.1:443/${'p'.repeat(900)}`);
      expect(book.tryAddAddresses(addresses, source, 100).added).toBe(8);
      // The page dials one; the node answers with its key, from another network: banned with its entries.
      expect(book.markBad(id, DAY_MS)).toBe(true);
      banned.push(id);
      now += 10;
    }
    expect(book.size()).toBe(0);
    await book.save();
    const bytes = (await storage.get(ADDRESS_BOOK_STORAGE_KEY))!.length;
    // Before: 17,019,734 bytes (1,024 bans × 8 entries of ~2 KiB); now ~353 KB.
    expect(bytes).toBeLessThan(MAX_BANNED_ENTRY_BYTES + MAX_BANNED_NODE_IDS * 100 + 4096);

    // A reload: the book loads, and every node is still banned.
    const reloaded = new AddressBook({ storage, clock });
    const result = await reloaded.load();
    expect(result.warning).toBeUndefined();
    expect(reloaded.stats().bannedCount).toBe(MAX_BANNED_NODE_IDS);
    for (const id of banned) expect(reloaded.isBanned(id)).toBe(true);
    expect(reloaded.addAddress(`ws://${banned[0]}@20.0.0.1:443/`, source)).toBe(false);
  });

  it('still puts back an honest ban’s entries when it ends', () => {
    let now = 1_000_000;
    const clock = { now: () => now, setTimeout, clearTimeout, setInterval, clearInterval } as never;
    const book = new AddressBook({ clock });
    const id = generateNodeKey().nodeId;
    const source = `ws://${generateNodeKey().nodeId}@9.9.9.9:443/`;
    expect(book.addAddress(`ws://${id}@20.1.2.3:443/`, source)).toBe(true);
    expect(book.addAddress(`tcp://${id}@21.1.2.3:26656`, source)).toBe(true);
    book.markBad(id, 1000);
    expect(book.size()).toBe(0);
    now += 2000;
    book.reinstateExpiredBans();
    expect(book.addressesOf(id).sort()).toEqual([`tcp://${id}@21.1.2.3:26656`, `ws://${id}@20.1.2.3:443/`]);
  });
});
