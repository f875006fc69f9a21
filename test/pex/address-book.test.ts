import { describe, expect, it } from 'vitest';
import { AddressBook, type AddressBookOptions } from '../../src/pex/address-book.js';
import { MAX_GET_SELECTION, STALE_AFTER_MS, RECENT_ATTEMPT_GRACE_MS } from '../../src/pex/constants.js';
import { resolveAddressBookConfig } from '../../src/pex/config.js';
import { MeshlinkError } from '../../src/errors.js';
import { FakeClock, FIXED_KEY, nodeId, publicHost, seededRandom, tcp } from './address-book-helpers.js';

const SOURCE = tcp(9999, publicHost(77));

function makeBook(options: AddressBookOptions = {}): { book: AddressBook; clock: FakeClock } {
  const clock = new FakeClock();
  const book = new AddressBook({ now: clock.now, random: seededRandom(1), bucketKey: FIXED_KEY, ...options });
  return { book, clock };
}

describe('AddressBook.tryAddAddresses (a peer\'s answer as one batch)', () => {
  it('a trusted source (a seed) naming addresses another source told us first vouches for them: entriesLearnedFrom(seed) lists them', () => {
    const { book } = makeBook();
    const seed = tcp(500, publicHost(50));
    const seedId = nodeId(500);
    const known = [1, 2, 3].map((n) => tcp(n, publicHost(n)));
    book.tryAddAddresses(known, SOURCE, 100);
    // Without trust, the seed naming them changes nothing (before: even from a seed, they stayed the peer's).
    book.tryAddAddresses(known.slice(0, 1), seed, 100);
    expect(book.entriesLearnedFrom(new Set([seedId])).map((e) => e.address)).toEqual([]);
    book.tryAddAddresses(known.slice(0, 2), seed, 100, { trusted: true });
    const vouched = book.entriesLearnedFrom(new Set([seedId]));
    expect(vouched.map((e) => e.address).sort()).toEqual(known.slice(0, 2).sort());
    expect(vouched.every((e) => e.vouchedBy === seedId && e.source === SOURCE)).toBe(true);
    expect(book.get(known[2]!)?.vouchedBy).toBe('');
    expect(book.selfCheck()).toEqual([]);
  });

  it('adds nothing when one address does not parse or names no node, and says which', () => {
    const { book } = makeBook();
    const good = [1, 2, 3].map((n) => tcp(n, publicHost(n)));
    expect(book.tryAddAddresses([...good, 'nonsense'], SOURCE, 100)).toEqual({ added: 0, refused: { address: 'nonsense', outcome: 'invalid-address' } });
    expect(book.tryAddAddresses([good[0]!, 'tcp://8.8.8.8:26656', good[1]!], SOURCE, 100)).toEqual({
      added: 0,
      refused: { address: 'tcp://8.8.8.8:26656', outcome: 'no-node-id' },
    });
    expect(book.size()).toBe(0);
  });

  it('adds in order up to maxNew new entries, counts repeats and refusals as no new entry, and keeps the book consistent', () => {
    const { book } = makeBook();
    const held = tcp(1, publicHost(1));
    book.addAddress(held, SOURCE);
    const fresh = Array.from({ length: 20 }, (_, i) => tcp(10 + i, publicHost(10 + i)));
    const batch = [held, `tcp://${nodeId(2)}@10.0.0.1:26656`, fresh[0]!, fresh[0]!, ...fresh.slice(1)];
    expect(book.tryAddAddresses(batch, SOURCE, 5)).toEqual({ added: 5 });
    expect(book.size()).toBe(6);
    expect(fresh.slice(0, 5).every((address) => book.has(address))).toBe(true);
    expect(book.has(fresh[5]!)).toBe(false);
    expect(book.selfCheck()).toEqual([]);
  });

  it('adds as one by one would: a held address that an insert earlier in the batch evicted comes in afresh', () => {
    // One bucket of one slot: every new address from the source's group evicts the one before it.
    const options = { newBucketCount: 1, oldBucketCount: 1, bucketSize: 1 };
    const first = tcp(1, publicHost(1));
    const batch = [tcp(2, publicHost(2)), first];
    const sameGroup = tcp(9998, publicHost(77));
    const { book } = makeBook(options);
    book.addAddress(first, SOURCE);
    expect(book.tryAddAddresses(batch, sameGroup, 100).added).toBe(2);
    const { book: oneByOne } = makeBook(options);
    oneByOne.addAddress(first, SOURCE);
    for (const address of batch) oneByOne.addAddress(address, sameGroup);
    expect(book.entries()).toEqual(oneByOne.entries());
    expect(book.has(first)).toBe(true);
    expect(book.selfCheck()).toEqual([]);
  });
});

describe('AddressBook.addAddress', () => {
  it('adds a routable address with a node id to one new bucket', () => {
    const { book, clock } = makeBook();
    const address = tcp(1, publicHost(1));
    expect(book.addAddress(address, SOURCE)).toBe(true);
    expect(book.size()).toBe(1);
    expect(book.has(address)).toBe(true);
    expect(book.has(nodeId(1))).toBe(true);
    expect(book.get(address)).toMatchObject({
      address,
      nodeId: nodeId(1),
      source: SOURCE,
      group: 'ipv4:21.0',
      attempts: 0,
      lastAttempt: 0,
      lastSuccess: 0,
      lastSeen: clock.ms,
      bucketType: 'new',
      bad: false,
    });
    expect(book.get(address)!.buckets).toHaveLength(1);
    expect(book.selfCheck()).toEqual([]);
  });

  it('stores the canonical form, so spellings of one address are one entry', () => {
    const { book } = makeBook();
    const id = nodeId(0xabc);
    expect(book.tryAddAddress(`TCP://${id.toUpperCase()}@[2606:4700:0:0::1]:26656`, SOURCE)).toBe('added');
    expect(book.tryAddAddress(`tcp://${id}@[2606:4700::1]:26656`, SOURCE)).toBe('known');
    expect(book.entries().map((entry) => entry.address)).toEqual([`tcp://${id}@[2606:4700::1]:26656`]);
  });

  it('accepts a bare node id or an address as the source', () => {
    const { book } = makeBook();
    expect(book.tryAddAddress(tcp(1, publicHost(1)), nodeId(5).toUpperCase())).toBe('added');
    expect(book.get(nodeId(1))!.source).toBe(nodeId(5));
    expect(book.tryAddAddress(tcp(2, publicHost(2)), 'tcp://8.8.8.8:1234')).toBe('added');
    expect(book.tryAddAddress(tcp(3, publicHost(3)), 'not a source')).toBe('invalid-source');
  });

  it.each([
    ['not an address', 'invalid-address'],
    ['tcp://1.2.3.4', 'invalid-address'],
    [`tcp://${nodeId(1)}@21.0.0.1:0`, 'invalid-address'],
    ['tcp://21.0.0.1:26656', 'no-node-id'],
    [`tcp://${nodeId(1)}@0.0.0.0:26656`, 'invalid-address'],
    [`tcp://${nodeId(1)}@224.0.0.1:26656`, 'invalid-address'],
    [`tcp://${nodeId(1)}@127.1:26656`, 'invalid-address'],
    [`tcp://${nodeId(1)}@127.0.0.1:26656`, 'unroutable'],
    [`tcp://${nodeId(1)}@10.0.0.1:26656`, 'unroutable'],
    [`tcp://${nodeId(1)}@192.168.1.20:26656`, 'unroutable'],
    [`tcp://${nodeId(1)}@169.254.0.1:26656`, 'unroutable'],
    [`tcp://${nodeId(1)}@[::1]:26656`, 'unroutable'],
    [`tcp://${nodeId(1)}@[fe80::1]:26656`, 'unroutable'],
    [`tcp://${nodeId(1)}@localhost:26656`, 'unroutable'],
    [`memory://${nodeId(1)}@n1`, 'unroutable'],
  ])('refuses %s as %s', (address, outcome) => {
    const { book } = makeBook();
    expect(book.tryAddAddress(address, SOURCE)).toBe(outcome);
    expect(book.addAddress(address, SOURCE)).toBe(false);
    expect(book.size()).toBe(0);
  });

  it('accepts loopback, private, link-local and memory addresses with allowLocal', () => {
    const { book } = makeBook({ allowLocal: true });
    const local = [
      `tcp://${nodeId(1)}@127.0.0.1:26656`,
      `tcp://${nodeId(2)}@10.0.0.1:26656`,
      `tcp://${nodeId(3)}@[fe80::1]:26656`,
      `memory://${nodeId(4)}@n4`,
    ];
    for (const address of local) expect(book.tryAddAddress(address, SOURCE)).toBe('added');
    // Still never the unspecified or multicast address.
    expect(book.tryAddAddress(`tcp://${nodeId(5)}@0.0.0.0:26656`, SOURCE)).toBe('invalid-address');
  });

  it('accepts webrtc addresses, grouped by their relay', () => {
    const { book } = makeBook();
    expect(book.tryAddAddress(`webrtc://${nodeId(1)}?via=${nodeId(2)}`, SOURCE)).toBe('added');
    expect(book.get(nodeId(1))!.group).toBe(`webrtc:${nodeId(2)}`);
  });

  it('refuses our own node id and our own listen addresses', () => {
    const { book } = makeBook({ ourNodeId: nodeId(42) });
    expect(book.tryAddAddress(tcp(42, publicHost(1)), SOURCE)).toBe('self');
    book.addOurAddress(`tcp://${publicHost(2)}:26656`);
    // Whatever id an address claims, if it points at our listener it is us.
    expect(book.tryAddAddress(tcp(7, publicHost(2)), SOURCE)).toBe('self');
    expect(book.isOurAddress(tcp(8, publicHost(2)))).toBe(true);
    expect(book.isOurAddress(tcp(8, publicHost(3)))).toBe(false);
  });

  it('takes our addresses as an option too', () => {
    const { book } = makeBook({ ourAddresses: [`tcp://${publicHost(3)}:26656`] });
    expect(book.tryAddAddress(tcp(43, publicHost(3)), SOURCE)).toBe('self');
    expect(book.tryAddAddress(tcp(43, publicHost(3), 26657), SOURCE)).toBe('added');
  });

  it('addOurAddress removes entries at that place, and leaves the id it names alone', () => {
    const { book } = makeBook();
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    book.addAddress(tcp(2, publicHost(2)), SOURCE);
    // After a self-dial through an address claiming node 3, node 3 itself must stay welcome elsewhere.
    book.addOurAddress(tcp(3, publicHost(1)));
    expect(book.has(nodeId(1))).toBe(false);
    expect(book.has(nodeId(2))).toBe(true);
    expect(book.tryAddAddress(tcp(3, publicHost(5)), SOURCE)).toBe('added');
    expect(() => book.addOurAddress('garbage')).toThrow(MeshlinkError);
  });

  it('keeps at most maxAddressesPerNodeId addresses per node, replacing bad ones', () => {
    const { book, clock } = makeBook({ maxAddressesPerNodeId: 3 });
    for (let port = 1; port <= 3; port++) expect(book.tryAddAddress(tcp(1, publicHost(1), port), SOURCE)).toBe('added');
    expect(book.tryAddAddress(tcp(1, publicHost(1), 4), SOURCE)).toBe('too-many-addresses');
    for (let i = 0; i < 3; i++) book.markAttempt(tcp(1, publicHost(1), 2));
    clock.advance(RECENT_ATTEMPT_GRACE_MS + 1);
    expect(book.tryAddAddress(tcp(1, publicHost(1), 4), SOURCE)).toBe('added');
    expect(book.has(tcp(1, publicHost(1), 2))).toBe(false);
    expect(book.addressesOf(nodeId(1))).toHaveLength(3);
  });

  it('keeps one address for a place however its query is spelt: the dialers read none but webrtc\'s via', () => {
    const { book } = makeBook();
    const real = tcp(1, publicHost(1));
    expect(book.tryAddAddress(real, SOURCE)).toBe('added');
    // Before: each spelling was an address of its own, 8 of them filled node 1's slots.
    for (let i = 0; i < 10; i++) book.tryAddAddress(`${real}?x=${i}`, SOURCE);
    const ws = `ws://${nodeId(2)}@${publicHost(2)}:443/relay`;
    for (let i = 0; i < 10; i++) book.tryAddAddress(`${ws}?token=${i}`, SOURCE);
    const relayId = nodeId(9);
    book.tryAddAddress(`webrtc://${nodeId(3)}?via=${relayId}&x=1`, SOURCE);
    expect(book.addressesOf(nodeId(1))).toEqual([real]);
    expect(book.addressesOf(nodeId(2))).toEqual([ws]);
    expect(book.addressesOf(nodeId(3))).toEqual([`webrtc://${nodeId(3)}?via=${relayId}`]);
    expect(book.has(`${real}?x=3`)).toBe(true);
  });

  it('keeps one address for a ws place however its path is spelt: the WebSocket client requests the same path for each', () => {
    const { book } = makeBook();
    const real = `ws://${nodeId(2)}@${publicHost(2)}:443/relay`;
    expect(book.tryAddAddress(real, SOURCE)).toBe('added');
    const respelt = ['/./relay', '/%2e/relay', '/%2E/relay', '/x/../relay', '/x/%2e%2e/relay', '/./././relay', '/relay#1', '/relay#2', '/y/./../relay', '/a/b/../../relay'];
    for (const path of respelt) book.tryAddAddress(`ws://${nodeId(2)}@${publicHost(2)}:443${path}`, SOURCE);
    // Before: each spelling was an address of its own, 8 of them filled the node's slots.
    expect(book.addressesOf(nodeId(2))).toEqual([real]);
    expect(book.has(`ws://${nodeId(2)}@${publicHost(2)}:443/x/../relay`)).toBe(true);
    // A path that is another request stays another address.
    expect(book.tryAddAddress(`ws://${nodeId(2)}@${publicHost(2)}:443/relay/`, SOURCE)).toBe('added');
    // The book's form is never longer than what a peer sent (escaping é would make this one 1,820
    // characters): an address an older node holds as it is never becomes one over the cap, refused and
    // its sender punished.
    const accented = `ws://${nodeId(7)}@${publicHost(7)}:443/${'é'.repeat(300)}`;
    expect(book.tryAddAddress(accented, SOURCE)).toBe('added');
    // Our own place respelt is ours (before: a made-up id there was kept, and dialled, reaching us).
    book.addOurAddress(`ws://${nodeId(5)}@${publicHost(5)}:443/mesh`);
    expect(book.tryAddAddress(`ws://${nodeId(6)}@${publicHost(5)}:443/x/../mesh`, SOURCE)).toBe('self');
    book.addOurAddress(`ws://${nodeId(5)}@${publicHost(6)}:443/./mesh#declared`);
    expect(book.tryAddAddress(`ws://${nodeId(6)}@${publicHost(6)}:443/mesh`, SOURCE)).toBe('self');
  });

  it('keeps one address per place however its host, port or path escapes are spelt', () => {
    const { book } = makeBook();
    const places: Record<string, string[]> = {
      [`tcp://${nodeId(1)}@[2606:4700::1]:443`]: ['[2606:4700:0:0:0:0:0:1]:443', '[2606:4700:0000::0001]:443', '[2606:4700::0:1]:00443', '[2606:4700:0::1]:0443'],
      [`tcp://${nodeId(2)}@8.8.4.4:26656`]: ['[::ffff:8.8.4.4]:26656', '[::ffff:808:404]:26656', '[0:0:0:0:0:ffff:8.8.4.4]:26656', '[::FFFF:0808:0404]:26656'],
      [`tcp://${nodeId(3)}@seed.example.org:26656`]: ['seed.example.org.:26656', 'SEED.example.ORG.:26656'],
      [`ws://${nodeId(4)}@${publicHost(4)}:443/ab`]: ['/a%62', '/%61b', '/%61%62', '/./a%62'],
      [`ws://${nodeId(5)}@${publicHost(5)}:443/é/x%2F`]: ['/%c3%a9/x%2f', '/%C3%A9/x%2F', '/%c3%A9/x%2f', '/é/x%2f'],
      [`ws://${nodeId(6)}@${publicHost(6)}:443/"{~}`]: ['/%22%7b%7e%7d', '/%22%7B~}', '/"%7B%7E%7D'],
    };
    for (const [canonical, spellings] of Object.entries(places)) {
      const prefix = canonical.slice(0, canonical.indexOf('@') + 1);
      const hostPort = canonical.startsWith('ws://') ? canonical.slice(0, canonical.indexOf('/', 'ws://'.length)) : prefix;
      for (const spelling of spellings) {
        const address = spelling.startsWith('/') ? hostPort + spelling : prefix + spelling;
        expect(['added', 'known'], address).toContain(book.tryAddAddress(address, SOURCE));
      }
      expect(book.tryAddAddress(canonical, SOURCE), canonical).toBe('known');
      // Before: one address per spelling, up to the node's 8 slots (a liar filled them with one place).
      expect(book.addressesOf(canonical.slice(canonical.indexOf('://') + 3, canonical.indexOf('@')))).toEqual([canonical]);
    }
    // An escape that is another request stays one: %2F is not a path separator, %20 and %25 not unescapable.
    expect(book.tryAddAddress(`ws://${nodeId(4)}@${publicHost(4)}:443/a%2Fb`, SOURCE)).toBe('added');
    expect(book.tryAddAddress(`ws://${nodeId(4)}@${publicHost(4)}:443/a/b`, SOURCE)).toBe('added');
    expect(book.tryAddAddress(`ws://${nodeId(4)}@${publicHost(4)}:443/a%20b`, SOURCE)).toBe('added');
    expect(book.has(`ws://${nodeId(4)}@${publicHost(4)}:443/a%2fb`)).toBe(true);
    expect(book.selfCheck()).toEqual([]);
  });

  it('lets a known new address join more buckets when other sources repeat it, at most maxNewBucketsPerAddress', () => {
    const { book } = makeBook({ random: () => 0 });
    const address = tcp(1, publicHost(1));
    book.addAddress(address, SOURCE);
    for (let source = 0; source < 50; source++) book.tryAddAddress(address, tcp(5000 + source, publicHost(100 + source)));
    expect(book.get(address)!.buckets).toHaveLength(4);
    expect(book.size()).toBe(1);
    expect(book.selfCheck()).toEqual([]);
  });

  it('refreshes lastSeen when an address is advertised again', () => {
    const { book, clock } = makeBook();
    const address = tcp(1, publicHost(1));
    book.addAddress(address, SOURCE);
    clock.advance(1000);
    expect(book.tryAddAddress(address, SOURCE)).toBe('known');
    expect(book.get(address)!.lastSeen).toBe(clock.ms);
  });
});

describe('AddressBook eviction', () => {
  it('never grows a full bucket: the least fresh entry goes', () => {
    const { book, clock } = makeBook({ newBucketCount: 1, newBucketsPerSourceGroup: 1, bucketSize: 4 });
    for (let i = 1; i <= 6; i++) {
      book.addAddress(tcp(i, publicHost(i)), SOURCE);
      clock.advance(1000);
    }
    expect(book.size()).toBe(4);
    expect(book.has(nodeId(1))).toBe(false);
    expect(book.has(nodeId(2))).toBe(false);
    expect(book.has(nodeId(6))).toBe(true);
  });

  it('evicts a bad entry before an older good one', () => {
    const { book, clock } = makeBook({ newBucketCount: 1, newBucketsPerSourceGroup: 1, bucketSize: 3 });
    for (let i = 1; i <= 3; i++) book.addAddress(tcp(i, publicHost(i)), SOURCE);
    for (let i = 0; i < 3; i++) book.markAttempt(nodeId(3));
    clock.advance(RECENT_ATTEMPT_GRACE_MS + 1);
    expect(book.get(nodeId(3))!.bad).toBe(true);
    book.addAddress(tcp(4, publicHost(4)), SOURCE);
    expect(book.has(nodeId(3))).toBe(false);
    expect(book.has(nodeId(1))).toBe(true);
  });

  it('makes a flooding source displace its own entries, never another source\'s good ones (addrman keeps the incumbent)', () => {
    const { book, clock } = makeBook({ newBucketCount: 1, newBucketsPerSourceGroup: 1, bucketSize: 4 });
    const honest = tcp(9000, publicHost(500));
    for (let i = 1; i <= 3; i++) book.addAddress(tcp(i, publicHost(i)), honest);
    clock.advance(1000);
    const attacker = tcp(9001, publicHost(501));
    // The one free slot, taken again and again by the flood; its other addresses find the bucket full.
    const outcomes = Array.from({ length: 100 }, (_, i) => book.tryAddAddress(tcp(100 + i, publicHost(100 + i)), attacker));
    expect(outcomes.filter((outcome) => outcome === 'added')).toHaveLength(100);
    const sources = (): string[] => book.entries().map((entry) => entry.source);
    expect(sources().filter((source) => source === attacker)).toHaveLength(1);
    expect(sources().filter((source) => source === honest)).toHaveLength(3);
    // A bucket full of another source's good entries keeps them: the flood gets nothing (before: its first
    // address took the least fresh honest entry's slot, each made-up address being fresher).
    const { book: full, clock: fullClock } = makeBook({ newBucketCount: 1, newBucketsPerSourceGroup: 1, bucketSize: 4 });
    for (let i = 1; i <= 4; i++) full.addAddress(tcp(i, publicHost(i)), honest);
    fullClock.advance(1000);
    for (let i = 100; i < 200; i++) expect(full.tryAddAddress(tcp(i, publicHost(i)), attacker)).toBe('bucket-full');
    expect(full.entries().map((entry) => entry.source)).toEqual(Array<string>(4).fill(honest));
    expect(full.selfCheck()).toEqual([]);
  });

  it('lets a newcomer from another source take the place of a bad entry, and the node\'s own word that of hearsay', () => {
    const { book, clock } = makeBook({ newBucketCount: 1, newBucketsPerSourceGroup: 1, bucketSize: 2 });
    const honest = tcp(9000, publicHost(500));
    for (let i = 1; i <= 2; i++) book.addAddress(tcp(i, publicHost(i)), honest);
    const other = tcp(9001, publicHost(501));
    expect(book.tryAddAddress(tcp(3, publicHost(3)), other)).toBe('bucket-full');
    for (let i = 0; i < 3; i++) book.markAttempt(nodeId(2));
    clock.advance(RECENT_ATTEMPT_GRACE_MS + 1);
    expect(book.tryAddAddress(tcp(3, publicHost(3)), other)).toBe('added');
    expect(book.has(nodeId(2))).toBe(false);
    // A node telling us of itself (first-hand) displaces hearsay from another source.
    const selfReported = tcp(5, publicHost(5));
    expect(book.tryAddAddress(selfReported, selfReported)).toBe('added');
    expect(book.has(selfReported)).toBe(true);
    expect(book.size()).toBe(2);
    expect(book.selfCheck()).toEqual([]);
  });

  it('without test-before-evict, a full old bucket sends its stalest entry back to the new table', () => {
    const { book, clock } = makeBook({ oldBucketCount: 1, oldBucketsPerGroup: 1, bucketSize: 2, testBeforeEvict: false });
    for (let i = 1; i <= 3; i++) {
      book.addAddress(tcp(i, publicHost(i)), SOURCE);
      book.markGood(nodeId(i));
      clock.advance(1000);
    }
    expect(book.get(nodeId(1))!.bucketType).toBe('new');
    expect(book.get(nodeId(2))!.bucketType).toBe('old');
    expect(book.get(nodeId(3))!.bucketType).toBe('old');
    expect(book.stats()).toMatchObject({ size: 3, newCount: 1, oldCount: 2 });
    expect(book.selfCheck()).toEqual([]);
  });
});

describe('AddressBook.markAttempt / markGood / removeAddress', () => {
  it('markAttempt counts attempts and stamps the time', () => {
    const { book, clock } = makeBook();
    const address = tcp(1, publicHost(1));
    book.addAddress(address, SOURCE);
    expect(book.markAttempt(address)).toBe(true);
    clock.advance(5);
    expect(book.markAttempt(nodeId(1))).toBe(true);
    expect(book.get(address)).toMatchObject({ attempts: 2, lastAttempt: clock.ms });
    expect(book.markAttempt(tcp(2, publicHost(2)))).toBe(false);
  });

  it('markGood moves the address to an old bucket and resets attempts', () => {
    const { book, clock } = makeBook();
    const address = tcp(1, publicHost(1));
    book.addAddress(address, SOURCE);
    book.markAttempt(address);
    clock.advance(10);
    expect(book.markGood(address)).toBe(true);
    expect(book.get(address)).toMatchObject({ bucketType: 'old', attempts: 0, lastSuccess: clock.ms, lastAttempt: clock.ms });
    expect(book.get(address)!.buckets).toHaveLength(1);
    expect(book.stats()).toMatchObject({ newCount: 0, oldCount: 1 });
    expect(book.markGood(tcp(2, publicHost(2)))).toBe(false);
    expect(book.selfCheck()).toEqual([]);
  });

  it('markGood by node id picks the address tried most recently', () => {
    const { book, clock } = makeBook();
    book.addAddress(tcp(1, publicHost(1), 1), SOURCE);
    book.addAddress(tcp(1, publicHost(1), 2), SOURCE);
    clock.advance(10);
    book.markAttempt(tcp(1, publicHost(1), 2));
    book.markGood(nodeId(1));
    expect(book.get(tcp(1, publicHost(1), 2))!.bucketType).toBe('old');
    expect(book.get(tcp(1, publicHost(1), 1))!.bucketType).toBe('new');
  });

  it('removeAddress removes one address, or all of a node id', () => {
    const { book } = makeBook();
    book.addAddress(tcp(1, publicHost(1), 1), SOURCE);
    book.addAddress(tcp(1, publicHost(1), 2), SOURCE);
    book.addAddress(tcp(2, publicHost(2)), SOURCE);
    book.markGood(tcp(2, publicHost(2)));
    expect(book.removeAddress(tcp(1, publicHost(1), 1))).toBe(true);
    expect(book.addressesOf(nodeId(1))).toEqual([tcp(1, publicHost(1), 2)]);
    expect(book.removeAddress(nodeId(2))).toBe(true);
    expect(book.removeAddress(nodeId(2))).toBe(false);
    expect(book.size()).toBe(1);
    expect(book.selfCheck()).toEqual([]);
  });
});

describe('AddressBook.markBad / isBanned', () => {
  it('bans the node id: its addresses leave the book and are refused until the ban ends', () => {
    const { book, clock } = makeBook();
    const address = tcp(1, publicHost(1));
    book.addAddress(address, SOURCE);
    book.addAddress(tcp(1, publicHost(1), 2), SOURCE);
    expect(book.markBad(address, 60_000)).toBe(true);
    expect(book.size()).toBe(0);
    expect(book.isBanned(address)).toBe(true);
    expect(book.isBanned(nodeId(1))).toBe(true);
    expect(book.isBanned(tcp(1, publicHost(5)))).toBe(true);
    expect(book.tryAddAddress(address, SOURCE)).toBe('banned');
    clock.advance(60_000);
    expect(book.isBanned(address)).toBe(false);
    expect(book.reinstateExpiredBans()).toBe(2);
    expect(book.get(address)).toMatchObject({ bucketType: 'new', lastBanTime: clock.ms - 60_000 });
    expect(book.stats().bannedCount).toBe(0);
  });

  it('can ban a node that is not in the book; cannot ban an address without a node id', () => {
    const { book } = makeBook();
    expect(book.markBad(nodeId(3), 1000)).toBe(true);
    expect(book.tryAddAddress(tcp(3, publicHost(3)), SOURCE)).toBe('banned');
    expect(book.markBad('tcp://21.0.0.1:1', 1000)).toBe(false);
    expect(book.markBad('garbage', 1000)).toBe(false);
  });

  it('rejects a negative or non-numeric ban length', () => {
    const { book } = makeBook();
    expect(() => book.markBad(nodeId(1), -1)).toThrow(MeshlinkError);
    expect(() => book.markBad(nodeId(1), Number.NaN)).toThrow(MeshlinkError);
  });

  it('remembers at most maxBannedNodeIds bans', () => {
    const { book } = makeBook({ maxBannedNodeIds: 5 });
    for (let i = 1; i <= 20; i++) book.markBad(nodeId(i), 1000 * i);
    expect(book.stats().bannedCount).toBe(5);
    // The longest bans are kept.
    expect(book.isBanned(nodeId(20))).toBe(true);
    expect(book.isBanned(nodeId(1))).toBe(false);
  });
});

describe('AddressBook.pickAddress', () => {
  it('returns undefined on an empty book and the only entry of a one-entry book', () => {
    const { book } = makeBook();
    expect(book.pickAddress(50)).toBeUndefined();
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    for (const bias of [0, 50, 100, -5, 500]) expect(book.pickAddress(bias)).toBe(tcp(1, publicHost(1)));
  });

  it('falls back to the other table when the preferred one is empty', () => {
    const { book } = makeBook();
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    book.markGood(nodeId(1));
    expect(book.pickAddress(100)).toBe(tcp(1, publicHost(1)));
  });

  it('rejects NaN bias', () => {
    const { book } = makeBook();
    expect(() => book.pickAddress(Number.NaN)).toThrow(MeshlinkError);
  });

  it('picks network groups about equally however many addresses one group holds (sparse book)', () => {
    const { book } = makeBook({ random: seededRandom(9) });
    // 60 addresses in one /16 and 6 others each in a /16 of its own, all from many sources: every entry
    // sits alone in its bucket, so without the group rule the crowded /16 would get 60/66 of the picks.
    for (let n = 1; n <= 60; n++) book.addAddress(tcp(n, publicHost(500, n)), tcp(1000 + n, publicHost(600 + n)));
    for (let n = 61; n <= 66; n++) book.addAddress(tcp(n, publicHost(n)), tcp(1000 + n, publicHost(700 + n)));
    let crowded = 0;
    const draws = 3000;
    for (let i = 0; i < draws; i++) if (book.get(book.pickAddress(100)!)!.group === book.get(nodeId(1))!.group) crowded++;
    // Seven groups: about 1/7 (14 %) each; well under a quarter, and far from 91 %.
    expect(crowded / draws).toBeGreaterThan(0.07);
    expect(crowded / draws).toBeLessThan(0.25);
  });

  it('does not spin when random() always returns the same value', () => {
    const { book } = makeBook({ random: () => 0.999999 });
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    expect(book.pickAddress(50)).toBe(tcp(1, publicHost(1)));
  });
});

describe('AddressBook.getSelection', () => {
  it('returns nothing from an empty book', () => {
    expect(makeBook().book.getSelection()).toEqual([]);
  });

  it('returns the whole book when it is smaller than MIN_GET_SELECTION', () => {
    const { book } = makeBook();
    for (let i = 1; i <= 10; i++) book.addAddress(tcp(i, publicHost(i)), SOURCE);
    expect(new Set(book.getSelection())).toEqual(new Set(book.entries().map((entry) => entry.address)));
  });

  it('returns 23% of a mid-sized book, capped at MAX_GET_SELECTION and at max', () => {
    const { book } = makeBook();
    for (let i = 1; i <= 400; i++) book.addAddress(tcp(i, publicHost(i), 1000 + i), tcp(50_000 + i, publicHost(1000 + i)));
    const size = book.size();
    const selection = book.getSelection();
    expect(selection).toHaveLength(Math.floor((size * 23) / 100));
    expect(new Set(selection).size).toBe(selection.length);
    expect(book.getSelection(10)).toHaveLength(10);
    expect(book.getSelection(0)).toEqual([]);
    for (let i = 401; i <= 2000; i++) book.addAddress(tcp(i, publicHost(i), 1000 + i), tcp(50_000 + i, publicHost(1000 + i)));
    expect(book.getSelection(10_000)).toHaveLength(MAX_GET_SELECTION);
  });

  it('leaves out bad entries', () => {
    const { book, clock } = makeBook();
    for (let i = 1; i <= 5; i++) book.addAddress(tcp(i, publicHost(i)), SOURCE);
    for (let i = 0; i < 3; i++) book.markAttempt(nodeId(1));
    clock.advance(RECENT_ATTEMPT_GRACE_MS + 1);
    expect(book.getSelection()).not.toContain(tcp(1, publicHost(1)));
    expect(book.getSelection()).toHaveLength(4);
  });
});

describe('AddressBook staleness and bad entries', () => {
  it('judges a never-reached address bad once nobody advertised it for STALE_AFTER_MS', () => {
    const { book, clock } = makeBook();
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    book.addAddress(tcp(2, publicHost(2)), SOURCE);
    clock.advance(STALE_AFTER_MS / 2);
    book.addAddress(tcp(2, publicHost(2)), SOURCE);
    clock.advance(STALE_AFTER_MS / 2 + 1);
    expect(book.get(nodeId(1))!.bad).toBe(true);
    expect(book.get(nodeId(2))!.bad).toBe(false);
    expect(book.removeBad()).toBe(1);
    expect(book.has(nodeId(1))).toBe(false);
  });

  it('never judges an old entry stale for age alone, but does after many failures', () => {
    const { book, clock } = makeBook();
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    book.markGood(nodeId(1));
    clock.advance(30 * STALE_AFTER_MS);
    expect(book.get(nodeId(1))!.bad).toBe(false);
    for (let i = 0; i < 10; i++) book.markAttempt(nodeId(1));
    clock.advance(RECENT_ATTEMPT_GRACE_MS + 1);
    expect(book.get(nodeId(1))!.bad).toBe(true);
  });

  it('never judges an address bad within a minute of trying it', () => {
    const { book } = makeBook();
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    for (let i = 0; i < 5; i++) book.markAttempt(nodeId(1));
    expect(book.get(nodeId(1))!.bad).toBe(false);
  });
});

describe('AddressBook size helpers', () => {
  it('needMoreAddresses is true below the threshold', () => {
    const { book } = makeBook({ needAddressThreshold: 2 });
    expect(book.needMoreAddresses()).toBe(true);
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    book.addAddress(tcp(2, publicHost(2)), SOURCE);
    expect(book.needMoreAddresses()).toBe(false);
  });

  it('clear forgets entries and bans but not our own addresses', () => {
    const { book } = makeBook({ ourNodeId: nodeId(99) });
    book.addAddress(tcp(1, publicHost(1)), SOURCE);
    book.markBad(nodeId(2), 1000);
    book.clear();
    expect(book.size()).toBe(0);
    expect(book.isBanned(nodeId(2))).toBe(false);
    expect(book.tryAddAddress(tcp(99, publicHost(1)), SOURCE)).toBe('self');
    expect(book.selfCheck()).toEqual([]);
  });

  it('forEachNodeId counts every entry once, under its node id, and agrees with entries()', () => {
    const { book } = makeBook();
    for (let port = 1; port <= 3; port++) book.addAddress(tcp(1, publicHost(1), port), SOURCE);
    book.addAddress(tcp(2, publicHost(2)), SOURCE);
    book.markGood(tcp(2, publicHost(2)));
    const counts = new Map<string, number>();
    book.forEachNodeId((id, addressCount) => counts.set(id, addressCount));
    expect(counts).toEqual(new Map([[nodeId(1), 3], [nodeId(2), 1]]));
    const fromEntries = new Map<string, number>();
    for (const entry of book.entries()) fromEntries.set(entry.nodeId, (fromEntries.get(entry.nodeId) ?? 0) + 1);
    expect(counts).toEqual(fromEntries);
    book.removeAddress(nodeId(1));
    const after: string[] = [];
    book.forEachNodeId((id) => after.push(id));
    expect(after).toEqual([nodeId(2)]);
  });

  it('reports capacity from the geometry', () => {
    expect(new AddressBook().capacity).toBe(1024 * 64 + 256 * 64);
    expect(new AddressBook({ newBucketCount: 8, oldBucketCount: 2, bucketSize: 4 }).capacity).toBe(40);
  });
});

describe('AddressBook configuration', () => {
  it('rejects impossible geometry and bad keys with ConfigError', () => {
    expect(() => resolveAddressBookConfig({ bucketSize: 0 })).toThrow(/bucketSize/);
    expect(() => resolveAddressBookConfig({ newBucketCount: 4, newBucketsPerSourceGroup: 8 })).toThrow(/newBucketsPerSourceGroup/);
    expect(() => resolveAddressBookConfig({ oldBucketCount: 1.5 })).toThrow(MeshlinkError);
    expect(() => new AddressBook({ bucketKey: new Uint8Array(31) })).toThrow(/32 bytes/);
    expect(resolveAddressBookConfig({}).newBucketCount).toBe(1024);
  });

  it('uses a fresh random bucket key per book by default', () => {
    const address = tcp(1, publicHost(1));
    const buckets = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const book = new AddressBook();
      book.addAddress(address, SOURCE);
      buckets.add(book.get(address)!.buckets[0]!);
    }
    expect(buckets.size).toBeGreaterThan(1);
  });
});
