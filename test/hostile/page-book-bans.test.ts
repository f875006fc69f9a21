/**
 * A node banned in the address book keeps the entries it had, to put back when the ban ends. Those
 * entries are what peers told us (up to 8 addresses of ~1 KiB per node id, from one PEX answer), and once
 * banned they leave the tables and every per-source cap there. A liar handing a page the addresses of
 * nodes that answer from another network (ERR_INCOMPATIBLE_PEER from the node's own key: the PEX dialer
 * bans it, markBad) grew the page's saved book with each such dial while its tables stayed empty: 1,024
 * of them, 17 MB written to IndexedDB and read back (and re-validated) at every start of the page.
 * The book's own API plays the answers and bans first; then the browser createNode's PEX over real ws
 * dials such nodes (a network group each, in loopback /16s) and bans them itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { AddressBook } from '../../src/pex/address-book.js';
import { ADDRESS_BOOK_STORAGE_KEY, MAX_BANNED_ENTRY_BYTES, MAX_BANNED_NODE_IDS, PEX_CHANNEL_ID, PEX_MAX_MESSAGE_BYTES } from '../../src/pex/constants.js';
import type { PEXAgent } from '../../src/pex/pex-agent.js';
import { decodePexMessage, encodePexMessage } from '../../src/pex/pex-messages.js';
import { MemoryStorage } from '../../src/storage/storage.js';
import { BaseAgent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import type { Switch } from '../../src/switch/switch.js';
import { startPageBehind } from '../helpers/page-node.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

const pages: Switch[] = [];
afterEach(async () => {
  await Promise.all(pages.splice(0).map((sw) => sw.stop()));
  await stopAll();
});

/** A relay's PEX that answers a request with the given addresses once `release()` is called. */
class FixedPex extends BaseAgent {
  readonly channels = [{ id: PEX_CHANNEL_ID, priority: 1, recvMessageCapacity: PEX_MAX_MESSAGE_BYTES }];
  asked: Peer | undefined;
  constructor(private readonly addresses: string[]) {
    super();
  }
  receive(_channelId: number, peer: Peer, bytes: Uint8Array): void {
    if (decodePexMessage(bytes).type === 'pexRequest') this.asked = peer;
  }
  release(): void {
    this.asked?.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses: this.addresses }));
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

describe('a liar’s nodes from another network, each banned once the page dialled it', () => {
  it('keep the saved book small: the bans stay, their entries only up to MAX_BANNED_ENTRY_BYTES', async () => {
    const storage = new MemoryStorage();
    let now = 1_000_000;
    const clock = { now: () => now, setTimeout, clearTimeout, setInterval, clearInterval, afterBurst: (callback: () => void) => setImmediate(callback) } as never;
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
    const clock = { now: () => now, setTimeout, clearTimeout, setInterval, clearInterval, afterBurst: (callback: () => void) => setImmediate(callback) } as never;
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

  it('through a page’s own PEX dials over ws: the bans are made, their entries not kept past the bound', async () => {
    // Six nodes of another network, each at 8 addresses in 8 /16s of loopback (one listener each).
    const others = [];
    for (let i = 0; i < 6; i++) {
      others.push(await startNode({ transports: [wsTransport()], listen: Array.from({ length: 8 }, (_, j) => `ws://127.${10 + i}.${j}.1:0/`), network: 'other' }));
    }
    const pex = new FixedPex(others.flatMap((node) => node.sw.addresses));
    const relay = await startNode({ agents: { pex }, transports: [wsTransport()], listen: ['ws://127.0.0.1:0/'] });
    const storage = new MemoryStorage();
    const page = await startPageBehind(relay.address, storage);
    pages.push(page);
    const book = (page.getAgent('pex') as PEXAgent).book;
    // Earlier bans have used up the bound: 300 liar's nodes with 8 long entries each.
    const source = `ws://${generateNodeKey().nodeId}@9.9.9.9:443/${'s'.repeat(900)}`;
    for (let i = 0; i < 300; i++) {
      const id = generateNodeKey().nodeId;
      book.tryAddAddresses(Array.from({ length: 8 }, (_, j) => `ws://${id}@${j + 20}.${i}.0.1:443/${'p'.repeat(900)}`), source, 100);
      book.markBad(id, DAY_MS);
    }
    await book.save();
    const before = (await storage.get(ADDRESS_BOOK_STORAGE_KEY))!.length;
    expect(before).toBeGreaterThan(MAX_BANNED_ENTRY_BYTES);
    await waitFor(() => pex.asked !== undefined, 5000, 'the page to ask the relay');
    pex.release();
    await waitFor(() => book.stats().bannedCount === 300 + others.length, 20_000, 'the page to dial and ban each node of the other network');
    for (const node of others) expect(book.isBanned(node.sw.nodeId)).toBe(true);
    // Writes of a large book are paced (PacedStorage): the last save is written when the node stops.
    await page.stop();
    const grown = (await storage.get(ADDRESS_BOOK_STORAGE_KEY))!.length - before;
    // Six ban records (~100 B each); before: their 48 entries too (~10 KB), past any bound.
    expect(grown).toBeLessThan(2000);
  }, 30_000);
});
