/**
 * What a seed's crawl round costs per entry of a book that peers filled (long addresses, from many
 * networks): the round looks at every entry, and each look must not parse the entry's address again.
 *
 * A stranger getting itself banned by a seed (one malformed PEX message over real TCP: a 24 h ban of its
 * node id), so that the seed's ban list is no longer empty: each crawl round asks the ban list about
 * every address in the book, and with any ban held each address was parsed and made canonical (a book
 * of 54,000 long addresses: ~350 ms of one turn every crawl round, against 60–80 ms with no ban).
 * With only node ids banned, an address is now looked up by the node id at its start, unparsed.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { parseAddress } from '../../src/transport/address.js';
import { canonicalForm } from '../../src/transport/canonical-address.js';
import { waitFor } from '../helpers/wait.js';
import { nodeId, publicHost, tcp } from '../pex/address-book-helpers.js';
import { RogueAgent, startPexNode, stopPexNodes } from '../pex/pex-helpers.js';
import { guardProcessFaults } from './raw-peer.js';

// Counts how often anything makes an address canonical (the parse a ban lookup of an address did).
vi.mock('../../src/transport/canonical-address.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/transport/canonical-address.js')>();
  return { ...real, canonicalForm: vi.fn(real.canonicalForm) };
});

vi.mock('../../src/transport/address.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/transport/address.js')>();
  return { ...real, parseAddress: vi.fn(real.parseAddress) };
});

guardProcessFaults();
afterEach(stopPexNodes);

const BOOK_ENTRIES = 6_000;

it('a seed whose ban list holds a stranger\'s id crawls its book without parsing every address in it', { timeout: 30_000 }, async () => {
  // Crawl rounds only when the test calls them.
  const seed = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: { seedMode: true, crawlIntervalMs: 3_600_000, feelerIntervalMs: 0 } });
  // ws addresses, which this seed (TCP only) cannot dial: the crawl looks at each and dials none.
  for (let n = 1; n <= BOOK_ENTRIES; n++) seed.pex!.book.tryAddAddress(`ws://${nodeId(n)}@${publicHost(n % 300, n)}:443/${'p'.repeat(200)}`, tcp(1_000_000 + (n % 120), publicHost(1000 + (n % 120))));
  expect(seed.pex!.book.size(), 'entries in the seed\'s book').toBeGreaterThan(BOOK_ENTRIES / 2);

  const stranger = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, agents: { rogue: new RogueAgent() } });
  const peer = await stranger.sw.dial(seed.address);
  peer.connection.trySend(PEX_CHANNEL_ID, new Uint8Array([0xc1])); // never valid msgpack
  await waitFor(() => seed.sw.bans.isBanned(stranger.key.nodeId), 5000, 'the stranger banned');

  vi.mocked(canonicalForm).mockClear();
  seed.pex!.crawl();
  // Before: one per entry (6,000 here), each round.
  expect(vi.mocked(canonicalForm).mock.calls.length, 'addresses made canonical by one crawl round').toBeLessThan(100);

  // The ban still holds however its id is written in an address, and an address ban is still by place.
  expect(seed.sw.bans.isBanned(`tcp://${stranger.key.nodeId.toUpperCase()}@${publicHost(7)}:26656`)).toBe(true);
  expect(seed.sw.bans.isBanned(`webrtc://${stranger.key.nodeId}?via=${nodeId(3)}`)).toBe(true);
  expect(seed.sw.bans.isBanned(`tcp://${nodeId(5)}@${publicHost(7)}:26656`)).toBe(false);
  seed.sw.ban(`tcp://${publicHost(7)}:26656`, 60_000);
  expect(seed.sw.bans.isBanned(`tcp://${nodeId(5)}@[::ffff:${publicHost(7)}]:26656`), 'an address ban, respelt').toBe(true);
  seed.sw.bans.unban(`tcp://${publicHost(7)}:26656`);
  expect(seed.sw.bans.isBanned(`tcp://${nodeId(5)}@${publicHost(7)}:26656`)).toBe(false);
  vi.mocked(canonicalForm).mockClear();
  seed.pex!.crawl();
  expect(vi.mocked(canonicalForm).mock.calls.length, 'once the address ban is lifted').toBeLessThan(100);
});

it('a seed crawling hearsay it may dial asks whether each entry\'s network is failing without parsing the entry\'s address', { timeout: 30_000 }, async () => {
  const seed = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: { seedMode: true, crawlIntervalMs: 3_600_000, feelerIntervalMs: 0 } });
  // Hearsay on loopback (the book here keeps local addresses), at ports nothing listens on: the crawl's
  // few dials are refused at once, and no packet leaves the machine.
  for (let n = 1; n <= BOOK_ENTRIES; n++) seed.pex!.book.tryAddAddress(`tcp://${nodeId(n)}@127.${1 + (n % 200)}.${n >> 8 & 255}.${1 + (n % 250)}:${1024 + (n % 500)}`, tcp(1_000_000 + (n % 120), publicHost(1000 + (n % 120))));
  expect(seed.pex!.book.size(), 'entries in the seed\'s book').toBeGreaterThan(BOOK_ENTRIES / 2);

  vi.mocked(parseAddress).mockClear();
  seed.pex!.crawl();
  // Before: one parse per hearsay entry (FailingNetworks.waitMs of its address), each round, whether any
  // network was failing or not. Now: the entry's group, parsed when it came in; parses left are the dials'.
  expect(vi.mocked(parseAddress).mock.calls.length, 'addresses parsed by one crawl round').toBeLessThan(200);
});
