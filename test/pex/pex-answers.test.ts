import { describe, expect, it } from 'vitest';
import { AddressBook } from '../../src/pex/address-book.js';
import { resolvePexConfig } from '../../src/pex/config.js';
import { AnswerCache, answerFor } from '../../src/pex/pex-answers.js';
import type { Peer } from '../../src/switch/peer.js';
import { FakeClock, FIXED_KEY, nodeId, publicHost, seededRandom, tcp } from './address-book-helpers.js';

function setup(seedMode = false, failingNetwork?: (address: string) => boolean): { book: AddressBook; answer: (askerId: string) => string[]; clock: FakeClock } {
  const clock = new FakeClock();
  const random = seededRandom(5);
  const book = new AddressBook({ now: clock.now, random, bucketKey: FIXED_KEY });
  const config = resolvePexConfig({ seedMode });
  // answerFor reads only the asker's id when the node relays no WebRTC.
  const answer = (askerId: string): string[] =>
    answerFor({ id: askerId } as Peer, { book, config, sw: undefined, relayWebRtc: false, random, ...(failingNetwork && { failingNetwork }) });
  return { book, answer, clock };
}

describe('answerFor (what a pexRequest gets)', () => {
  it('never hands out a WebRTC address from the book, even one we reached, nor the asker its own address', () => {
    const { book, answer } = setup();
    const source = tcp(900, publicHost(60));
    for (let n = 1; n <= 40; n++) book.addAddress(tcp(n, publicHost(n)), source);
    const relayed = `webrtc://${nodeId(41)}?via=${nodeId(900)}`;
    expect(book.addAddress(relayed, source)).toBe(true);
    expect(book.markGood(relayed)).toBe(true);
    book.markGood(tcp(7, publicHost(7)));
    for (let round = 0; round < 20; round++) {
      const addresses = answer(nodeId(3));
      expect(addresses.length).toBeGreaterThanOrEqual(32);
      expect(addresses).not.toContain(relayed);
      expect(addresses).not.toContain(tcp(3, publicHost(3)));
      // The one first-hand address always goes first.
      expect(addresses[0]).toBe(tcp(7, publicHost(7)));
      expect(new Set(addresses).size).toBe(addresses.length);
    }
  });

  it('with an AnswerCache, hands every asker from one network one sample until it is old or the book has outgrown it; a seed samples afresh', () => {
    const clock = new FakeClock();
    const random = seededRandom(5);
    const book = new AddressBook({ now: clock.now, random, bucketKey: FIXED_KEY });
    const source = tcp(900, publicHost(60));
    // Named by two source groups: hearsay from one alone makes up only a small answer (see the last test).
    for (let n = 1; n <= 200; n++) for (const from of [source, tcp(950, publicHost(59))]) book.addAddress(tcp(n, publicHost(n)), from);
    const cache = new AnswerCache(600_000);
    const answer = (askerId: string, seedMode = false, network = 'ipv4:66.6'): string[] =>
      answerFor({ id: askerId } as Peer, { book, config: resolvePexConfig({ seedMode }), sw: undefined, relayWebRtc: false, random, reuse: { cache, nowMs: clock.ms, network } });
    const first = answer(nodeId(5000));
    expect(first).toHaveLength(book.selectionSize());
    for (let asker = 5001; asker < 5010; asker++) expect(answer(nodeId(asker))).toEqual(first);
    // An asker from another network gets a sample of its own (honest nodes' answers stay diverse).
    expect(answer(nodeId(5010), false, 'ipv4:77.7')).not.toEqual(first);
    // The asker's own address is left out of the same sample, and one the book dropped is not handed on.
    const own = first[3]!;
    expect(answer(own.slice('tcp://'.length, 'tcp://'.length + 40))).toEqual(first.filter((address) => address !== own));
    book.removeAddress(first[0]!);
    expect(answer(nodeId(5011))).toEqual(first.slice(1));
    // A seed shares its book: a new sample each time.
    expect(answer(nodeId(5012), true)).not.toEqual(answer(nodeId(5013), true));
    // Ten minutes on, a new sample.
    clock.advance(600_000);
    const later = answer(nodeId(5014));
    expect(later).not.toEqual(first.slice(1));
    // The book grows past twice the sample: a new one at once (a node that drew its sample while small).
    for (let n = 201; n <= 1200; n++) {
      for (const from of [tcp(901 + (n % 50), publicHost(61 + (n % 50))), source]) book.addAddress(tcp(n, publicHost(n)), from);
    }
    expect(answer(nodeId(5015)).length).toBeGreaterThan(2 * later.length);
  });

  it('a seed does not vouch for a node whose last dial failed since it was reached (gone: churn, or a made-up self-report)', () => {
    const { book, answer } = setup(true);
    const nodes = Array.from({ length: 10 }, (_, n) => tcp(n + 1, publicHost(n + 1)));
    for (const address of nodes) {
      book.addAddress(address, address);
      book.markAttempt(address);
      book.markGood(address);
    }
    const gone = nodes.slice(0, 4);
    for (const address of gone) book.markAttempt(address);
    for (let round = 0; round < 10; round++) {
      const addresses = answer(nodeId(999));
      // Before: all 10, the 4 gone ones among them, for as long as the entries stayed good (days).
      expect(addresses.sort()).toEqual(nodes.slice(4).sort());
    }
  });

  it('a node stops handing out a first-hand node whose dial failed since it was reached, or that nothing confirmed for a day', () => {
    const clock = new FakeClock();
    const random = seededRandom(5);
    const book = new AddressBook({ now: clock.now, random, bucketKey: FIXED_KEY });
    const config = resolvePexConfig();
    const answer = (): string[] => answerFor({ id: nodeId(999) } as Peer, { book, config, sw: undefined, relayWebRtc: false, random });
    const reached = Array.from({ length: 10 }, (_, n) => tcp(n + 1, publicHost(n + 1)));
    for (const address of reached) {
      book.addAddress(address, tcp(900, publicHost(60)));
      book.markAttempt(address);
      book.markGood(address);
    }
    const selfTold = tcp(20, publicHost(20));
    book.addAddress(selfTold, selfTold);
    const gone = reached.slice(0, 4);
    for (const address of gone) book.markAttempt(address);
    // Full: the node itself refused our dial, so it is there.
    book.markAttempt(reached[4]!);
    book.markRefused(reached[4]!);
    clock.advance(60 * 60 * 1000);
    // Before: all 11, the 4 gone ones among them, for as long as the entries stayed good (days).
    for (let round = 0; round < 5; round++) expect(answer().sort()).toEqual([...reached.slice(4), selfTold].sort());
    // A day on, neither a connection nor the node's own word has confirmed any of them.
    clock.advance(24 * 60 * 60 * 1000);
    expect(answer()).toEqual([]);
    // Reached again: handed out again.
    book.markAttempt(reached[5]!);
    book.markGood(reached[5]!);
    expect(answer()).toEqual([reached[5]]);
  });

  it('only a node itself, naming the address we reached it at, confirms its entry by connecting to us', () => {
    const clock = new FakeClock();
    const book = new AddressBook({ now: clock.now, random: seededRandom(5), bucketKey: FIXED_KEY });
    const [reached, heardOf] = [tcp(1, publicHost(1)), tcp(2, publicHost(2))];
    book.addAddress(reached, tcp(900, publicHost(60)));
    book.markAttempt(reached);
    book.markGood(reached);
    book.addAddress(heardOf, heardOf);
    clock.advance(20 * 60 * 60 * 1000);
    // Another node naming it, the node naming only its id, or naming an address of it we never reached: nothing.
    book.confirmInbound(nodeId(3), [reached]);
    book.confirmInbound(nodeId(1), [nodeId(1), tcp(1, publicHost(1), 4000)]);
    book.confirmInbound(nodeId(2), [heardOf]);
    clock.advance(5 * 60 * 60 * 1000);
    expect(book.hasLapsed(reached)).toBe(true);
    expect(book.hasLapsed(heardOf)).toBe(true);
    book.confirmInbound(nodeId(1), [tcp(7, publicHost(7)), reached]);
    expect(book.hasLapsed(reached)).toBe(false);
    clock.advance(24 * 60 * 60 * 1000 + 1);
    expect(book.hasLapsed(reached)).toBe(true);
  });

  it('hearsay we dialled and never reached leaves answers, and its room is not given to other addresses', () => {
    const { book, answer: answerTo, clock } = setup();
    const answer = (): string[] => answerTo(nodeId(999));
    const named = Array.from({ length: 200 }, (_, n) => tcp(n + 1, publicHost(n + 1)));
    // Named from two source groups each: corroborated hearsay.
    for (const address of named) for (const source of [tcp(900, publicHost(240)), tcp(901, publicHost(241))]) book.addAddress(address, source);
    const full = answer();
    expect(full.length).toBeGreaterThan(40);
    // Three in four gone (churn): dialled, never reached.
    const dead = named.slice(0, 150);
    for (const address of dead) book.markAttempt(address);
    // One of them refused our dial itself (full): it is there.
    book.markRefused(dead[0]!);
    clock.advance(5 * 60 * 1000);
    const after = answer();
    // Before: they stayed in answers until their third failed dial made them bad.
    expect(after.filter((address) => dead.includes(address) && address !== dead[0])).toEqual([]);
    // A sample of the book as before, less the dead: not topped up with the live quarter (a liar's addresses never fail).
    expect(after.length).toBeLessThan(full.length / 2);
  });

  it('a seed vouches only for first-hand addresses once it has any', () => {
    const { book, answer } = setup(true);
    const source = tcp(900, publicHost(60));
    for (let n = 1; n <= 40; n++) book.addAddress(tcp(n, publicHost(n)), source);
    expect(answer(nodeId(1))).toHaveLength(32);
    const selfReported = tcp(50, publicHost(50));
    book.addAddress(selfReported, selfReported);
    expect(answer(nodeId(1))).toEqual([selfReported]);
    // Asked by that node itself, it has nothing first-hand left to vouch for, so it samples the book.
    expect(answer(nodeId(50))).toHaveLength(32);
  });
});

describe('answerFor against one host holding many first-hand entries', () => {
  /**
   * 40 honest nodes, each in its own /16 and first-hand (it told us of itself), and one liar host: 64
   * fresh keys connecting from it, each claiming 8 ports of that host (a node's word about its own host
   * is first-hand), as many as its bucket keeps.
   */
  function crowdedSeed(): { book: AddressBook; answer: (askerId: string) => string[]; liarHost: string } {
    const { book, answer } = setup(true);
    for (let n = 1; n <= 40; n++) book.addAddress(tcp(n, publicHost(n)), tcp(n, publicHost(n)));
    const liarHost = publicHost(200);
    for (let key = 0; key < 64; key++) {
      for (let port = 0; port < 8; port++) book.addAddress(tcp(1000 + key, liarHost, 30_000 + key * 8 + port), tcp(1000 + key, liarHost, 40_000));
    }
    return { book, answer, liarHost };
  }

  it('a seed hands out at most 2 of its 32 addresses from one network group while other groups have some', () => {
    const { book, answer, liarHost } = crowdedSeed();
    expect(book.sampleFirstHand(10_000).filter((address) => address.includes(`@${liarHost}:`)).length).toBeGreaterThanOrEqual(32);
    let most = 0;
    for (let round = 0; round < 50; round++) {
      const addresses = answer(nodeId(999));
      expect(addresses.length).toBe(32);
      most = Math.max(most, addresses.filter((address) => address.includes(`@${liarHost}:`)).length);
    }
    // Before: a uniform sample of the first-hand entries, the liar's host ~20 of every 32 (up to 23 in 50 answers).
    expect(most).toBe(2);
  });

  it('a non-seed answer tops up with hearsay about other networks before more of the crowded group', () => {
    const { book, answer } = setup(false);
    const liarHost = publicHost(200);
    for (let key = 0; key < 64; key++) book.addAddress(tcp(1000 + key, liarHost, 30_000 + key), tcp(1000 + key, liarHost, 40_000));
    for (let n = 1; n <= 5; n++) book.addAddress(tcp(n, publicHost(n)), tcp(n, publicHost(n)));
    // Hearsay about 100 nodes in other networks, each from two of a few sources.
    for (let n = 100; n < 200; n++) {
      for (const from of [tcp(900 + (n % 5), publicHost(300 + (n % 5))), tcp(905 + (n % 5), publicHost(305 + (n % 5)))]) book.addAddress(tcp(n, publicHost(n)), from);
    }
    const wanted = book.selectionSize();
    expect(wanted).toBe(38);
    let most = 0;
    for (let round = 0; round < 50; round++) {
      const addresses = answer(nodeId(999));
      expect(addresses.length).toBe(wanted);
      most = Math.max(most, addresses.filter((address) => address.includes(`@${liarHost}:`)).length);
    }
    // Before: a uniform sample of the 69 first-hand entries, up to all 38 from the crowded group.
    // Now a group's share (3 of 38) from each of the two samples.
    expect(most).toBeLessThanOrEqual(6);
  });

  it('the other groups make up the number when they run short: an answer never shrinks', () => {
    const { book, answer } = setup(true);
    const host = publicHost(7);
    for (let key = 0; key < 40; key++) book.addAddress(tcp(key + 1, host, 30_000 + key), tcp(key + 1, host, 40_000));
    expect(answer(nodeId(999)).length).toBe(32);
  });

  it('leaves out addresses we never reached in a network whose last dials all failed, not a node we reached there', () => {
    const failing = publicHost(7).split('.').slice(0, 2).join('.') + '.';
    const { book, answer } = setup(false, (address) => address.includes(`@${failing}`));
    const source = tcp(900, publicHost(60));
    for (let n = 1; n <= 40; n++) book.addAddress(tcp(n, publicHost(n)), source);
    // A liar's made-up nodes at the hosts of one /16 (group 7), beside an honest node there we reached.
    for (let host = 2; host <= 20; host++) book.addAddress(tcp(1000 + host, publicHost(7, host)), source);
    book.markGood(tcp(7, publicHost(7)));
    for (let round = 0; round < 20; round++) {
      const addresses = answer(nodeId(5000));
      expect(addresses.filter((address) => address.includes(`@${failing}`))).toEqual([tcp(7, publicHost(7))]);
      expect(addresses.length).toBeGreaterThanOrEqual(32);
    }
  });

  it('hands on hearsay only one source group named just to make up a small answer: made-up nodes a liar names stay with us', () => {
    const { book, answer } = setup(false);
    for (let n = 1; n <= 5; n++) book.addAddress(tcp(n, publicHost(n)), tcp(n, publicHost(n)));
    // 50 honest nodes, each named by two peers in two networks (every peer that knows a node names it).
    for (let n = 100; n < 150; n++) {
      for (const from of [tcp(900 + (n % 5), publicHost(300 + (n % 5))), tcp(905 + (n % 5), publicHost(305 + (n % 5)))]) book.addAddress(tcp(n, publicHost(n)), from);
    }
    // A liar in one /16 names 300 made-up nodes inside the honest nodes' networks.
    const liar = tcp(999, publicHost(400));
    for (let n = 0; n < 300; n++) book.addAddress(tcp(2000 + n, publicHost(100 + (n % 50), 2 + n)), liar);
    expect(book.size()).toBe(355);
    const madeUp = (address: string): boolean => Number.parseInt(address.slice('tcp://'.length, 'tcp://'.length + 40), 16) >= 2000;
    for (let round = 0; round < 20; round++) {
      const addresses = answer(nodeId(998));
      // Before: 81 addresses (23 % of the book), ~65 of them made up.
      expect(addresses.filter(madeUp)).toEqual([]);
      expect(addresses).toHaveLength(55);
    }
    // A young book with nothing vetted still names MIN_GET_SELECTION (32) of what it heard.
    const young = setup(false);
    for (let n = 0; n < 300; n++) young.book.addAddress(tcp(2000 + n, publicHost(100 + (n % 50), 2 + n)), liar);
    expect(young.answer(nodeId(998))).toHaveLength(32);
  });
});
