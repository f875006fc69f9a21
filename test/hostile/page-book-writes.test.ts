/**
 * A page saves its address book to IndexedDB whenever it changed, once a second (an unloading page
 * loses a write started late). What a relay hands the page by PEX decides how big that book is, and the
 * page's own dials of those addresses change it every second: a hostile relay that hands out long
 * addresses that never answer made the page rewrite the whole book every second for as long as it stayed.
 * The browser createNode runs here in Node (the page's WebSocket seen through the browser's surface); its
 * Storage records every write. Real ws:// and PEX on 127.0.0.1.
 */
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BROWSER_BOOK_WRITE_BYTES_PER_SECOND } from '../../platforms/browser/index.js';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import type { PEXAgent } from '../../src/pex/pex-agent.js';
import { PEX_CHANNEL_ID, PEX_MAX_MESSAGE_BYTES } from '../../src/pex/constants.js';
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

/** A port nothing listens on: dials to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A relay's PEX that answers every request with 100 fresh addresses of ~1 KiB that never answer. */
class LongAddressPex extends BaseAgent {
  readonly channels = [{ id: PEX_CHANNEL_ID, priority: 1, recvMessageCapacity: PEX_MAX_MESSAGE_BYTES }];
  answered = 0;
  constructor(private readonly port: number) {
    super();
  }
  receive(_channelId: number, peer: Peer, bytes: Uint8Array): void {
    if (decodePexMessage(bytes).type !== 'pexRequest') return;
    const addresses = Array.from({ length: 100 }, () => `ws://${randomBytes(20).toString('hex')}@127.0.0.1:${this.port}/${'p'.repeat(900)}`);
    if (peer.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses }))) this.answered++;
  }
}

/** A MemoryStorage that counts what is written under each key. */
class RecordingStorage extends MemoryStorage {
  readonly writes: { key: string; bytes: number; at: number }[] = [];
  override async set(key: string, value: Uint8Array): Promise<void> {
    this.writes.push({ key, bytes: value.length, at: Date.now() });
    await super.set(key, value);
  }
}

describe('a relay filling a page’s address book with long addresses that never answer', () => {
  it('does not make the page rewrite the whole book to storage every second', async () => {
    const pex = new LongAddressPex(await closedPort());
    const relay = await startNode({ agents: { pex }, transports: [wsTransport()], listen: ['ws://127.0.0.1:0/'] });
    const storage = new RecordingStorage();
    const page = await startPageBehind(relay.address, storage);
    pages.push(page);
    await waitFor(() => pex.answered > 0, 5000, 'the relay to answer the page');
    const seconds = 8;
    const start = Date.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const book = storage.writes.filter((write) => write.key === 'address-book' && write.at >= start);
    const bytes = book.reduce((sum, write) => sum + write.bytes, 0);
    const largest = Math.max(...book.map((write) => write.bytes));
    // The book holds the relay's first answer: ~100 addresses of ~1 KiB, ~75 KB saved.
    expect(largest).toBeGreaterThan(60_000);
    // Before: 8 writes in 8 s, 602 KB (the whole book every second, for as long as the relay liked).
    expect(book.length).toBeLessThanOrEqual(3);
    expect(bytes).toBeLessThanOrEqual(BROWSER_BOOK_WRITE_BYTES_PER_SECOND * seconds + largest);

    // What was kept back is written when the page stops: the stored book is the page's last.
    const { book: pageBook } = page.getAgent<PEXAgent>('pex')!;
    await page.stop();
    const stored = JSON.parse(new TextDecoder().decode((await storage.get('address-book'))!)) as { entries: { attempts: number }[] };
    const attempts = (entries: readonly { attempts: number }[]): number => entries.reduce((sum, entry) => sum + entry.attempts, 0);
    expect(attempts(pageBook.entries())).toBeGreaterThan(seconds / 2);
    expect(attempts(stored.entries)).toBe(attempts(pageBook.entries()));
  }, 20_000);
});
