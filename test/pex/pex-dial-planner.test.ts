import { describe, expect, it } from 'vitest';
import { AddressBook } from '../../src/pex/address-book.js';
import { backoffRemainingMs, diversityMayYield, networkGroupOf, newBiasPercent, planCrawl, planDials, relayedGroupOf, type DialPlanContext } from '../../src/pex/pex-dial-planner.js';
import { firstHandFirst } from '../../src/pex/pex-answers.js';
import { resolvePexConfig } from '../../src/pex/config.js';
import { ConfigError } from '../../src/errors.js';
import { FakeClock, FIXED_KEY, nodeId, publicHost, seededRandom, tcp } from './address-book-helpers.js';

const config = resolvePexConfig({ dialBackoffBaseMs: 1000, dialBackoffMaxMs: 8000 });

function setup(): { book: AddressBook; clock: FakeClock; context: (overrides?: Partial<DialPlanContext>) => DialPlanContext } {
  const clock = new FakeClock();
  const random = seededRandom(3);
  const book = new AddressBook({ now: clock.now, random, bucketKey: FIXED_KEY });
  const context = (overrides: Partial<DialPlanContext> = {}): DialPlanContext => ({
    book,
    config,
    nowMs: clock.ms,
    random,
    maxOutbound: 10,
    outbound: 0,
    outboundSources: [],
    outboundGroups: [],
    trustedSources: new Set<string>(),
    isBusy: () => false,
    hungUp: () => false,
    isBanned: () => false,
    canDial: (protocol) => protocol === 'tcp',
    isConnected: () => false,
    seedCanHelp: false,
    ...overrides,
  });
  return { book, clock, context };
}

/**
 * A LAN node's book: five addresses in the /16 of its one outbound peer (127.5), and `other` (node 50) in
 * a group with room; `crowded` plans with that peer counted.
 */
function crowdedLan(): { book: AddressBook; other: string; crowded: (overrides?: Partial<DialPlanContext>) => DialPlanContext } {
  const clock = new FakeClock();
  const random = seededRandom(8);
  const book = new AddressBook({ now: clock.now, random, bucketKey: FIXED_KEY, allowLocal: true });
  for (let i = 1; i <= 5; i++) book.addAddress(`tcp://${nodeId(i)}@127.5.0.${i}:26656`, `tcp://${nodeId(100 + i)}@127.9.0.${i}:26656`);
  const other = `tcp://${nodeId(50)}@127.6.0.1:26656`;
  book.addAddress(other, `tcp://${nodeId(150)}@127.9.0.9:26656`);
  const { context } = setup();
  // Eight slots: enough random picks that the crowded /16 is always among them.
  const crowded = (overrides: Partial<DialPlanContext> = {}): DialPlanContext =>
    context({ book, random, nowMs: clock.ms, outboundGroups: ['ipv4:127.5'], outbound: 1, ...overrides });
  return { book, other, crowded };
}

describe('PEX dial planning', () => {
  it('backs off exponentially per address from its attempts and last attempt, capped', () => {
    const { book, clock } = setup();
    const address = tcp(1, publicHost(1));
    book.addAddress(address, tcp(9, publicHost(9)));
    expect(backoffRemainingMs(book.get(address)!, clock.ms, config)).toBe(0);
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      book.markAttempt(address);
      waits.push(backoffRemainingMs(book.get(address)!, clock.ms, config));
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    clock.advance(8000);
    expect(backoffRemainingMs(book.get(address)!, clock.ms, config)).toBe(0);
    book.markGood(address);
    expect(book.get(address)!.attempts).toBe(0);
  });

  it('skips busy, banned, undialable and backing-off addresses, one per node id', () => {
    const { book, context } = setup();
    const source = tcp(99, publicHost(50));
    const addresses = [1, 2, 3, 4, 5].map((n) => tcp(n, publicHost(n)));
    for (const address of addresses) book.addAddress(address, source);
    book.addAddress(`ws://${nodeId(6)}@${publicHost(6)}:443/`, source);
    book.markAttempt(addresses[3]!);
    const plan = planDials(
      context({ isBusy: (id) => id === nodeId(1), isBanned: (address) => address === addresses[1], maxOutbound: 10 }),
      10,
    );
    // 1 busy, 2 banned, 4 backing off, 6 is ws:// which we cannot dial: 3 and 5 remain.
    expect(plan.addresses.sort()).toEqual([addresses[2], addresses[4]].sort());
  });

  it('dials a WebRTC address only through a relay it is connected to', () => {
    const { book, context } = setup();
    const source = tcp(99, publicHost(50));
    const [connectedRelay, goneRelay] = [nodeId(70), nodeId(71)];
    const throughConnected = `webrtc://${nodeId(1)}?via=${connectedRelay}`;
    const throughGone = `webrtc://${nodeId(2)}?via=${goneRelay}`;
    book.addAddress(throughConnected, source);
    book.addAddress(throughGone, source);
    const plan = planDials(context({ canDial: (protocol) => protocol === 'webrtc', isConnected: (id) => id === connectedRelay }), 10);
    // The other would fail at once ("not connected to relay") and back its address off for nothing.
    expect(plan.addresses).toEqual([throughConnected]);
  });

  it("groups WebRTC addresses by their relay's network: pages through relay keys of one host are one group", () => {
    const { book, context } = setup();
    // Five relay keys connected from one host (one /16), each handing us a page; another relay elsewhere.
    const sameHost = [70, 71, 72, 73, 74].map(nodeId);
    const elsewhere = nodeId(75);
    const networks = new Map<string, string>([...sameHost.map((id): [string, string] => [id, 'ipv4:203.0']), [elsewhere, 'ipv4:198.51']]);
    for (const [i, relay] of [...sameHost, elsewhere].entries()) book.addAddress(`webrtc://${nodeId(i + 1)}?via=${relay}`, tcp(99, publicHost(50 + i)));
    const plan = planDials(
      context({ canDial: (protocol) => protocol === 'webrtc', isConnected: (id) => networks.has(id), relayNetwork: (id) => networks.get(id) }),
      10,
    );
    // One page per network (maxOutboundPerGroup 1): before, by relay id, all six were dialled at once.
    expect(plan.addresses).toHaveLength(2);
    expect(plan.addresses.filter((address) => address.endsWith(`via=${elsewhere}`))).toHaveLength(1);
    expect(relayedGroupOf(`webrtc://${nodeId(1)}?via=${sameHost[0]}`, 'webrtc:x', (id) => networks.get(id))).toBe('webrtc:ipv4:203.0');
    // A relay not connected (or an address of another kind): the address's own group.
    expect(relayedGroupOf(`webrtc://${nodeId(1)}?via=${nodeId(90)}`, 'webrtc:x', (id) => networks.get(id))).toBe('webrtc:x');
    expect(relayedGroupOf(tcp(1, publicHost(1)), 'ipv4:1.0', (id) => networks.get(id))).toBe('ipv4:1.0');
  });

  it('fills at most the per-source quota from one source group while others are available, and the rest only when nothing else is left', () => {
    const { book, context } = setup();
    const flooder = tcp(500, publicHost(70));
    const honest = tcp(501, publicHost(71));
    for (let n = 1; n <= 60; n++) book.addAddress(tcp(n, publicHost(n)), flooder);
    for (let n = 61; n <= 64; n++) book.addAddress(tcp(n, publicHost(n)), honest);
    // Quota: ceil(10 * 0.34) = 4 per source group; 3 outbound peers already come from the flooder.
    const plan = planDials(context({ outbound: 3, outboundSources: [flooder, flooder, flooder] }), 7);
    const fromFlooder = plan.addresses.filter((address) => book.get(address)!.source === flooder);
    expect(fromFlooder.length).toBeLessThanOrEqual(1);
    expect(plan.quotaLimited).toBe(true);
    // When the quota is all that stands in the way, the held-back addresses are dialled after all.
    const onlyFlooder = planDials(context({ outbound: 4, outboundSources: [flooder, flooder, flooder, flooder], isBusy: (id) => Number.parseInt(id, 16) > 60 }), 3);
    expect(onlyFlooder.addresses.length).toBeGreaterThan(0);
  });

  it('while a seed can answer, holds outbound peers learned from others to 1 − trustedOutboundShare and leaves the rest for seed-given addresses', () => {
    const { book, context } = setup();
    const seed = tcp(900, publicHost(60));
    const trustedSources = new Set([nodeId(900)]);
    for (let n = 1; n <= 2; n++) book.addAddress(tcp(n, publicHost(n)), seed);
    for (let n = 100; n < 200; n++) book.addAddress(tcp(n, publicHost(n)), tcp(1000 + n, publicHost(n + 1000)));
    // Default share 0.9: at most floor(10 × 0.1) = 1 slot from other sources; the 2 seed-given fill theirs.
    const capped = planDials(context({ trustedSources, seedCanHelp: true }), 10);
    const fromOthers = capped.addresses.filter((address) => book.get(address)!.source !== seed);
    expect(config.trustedOutboundShare).toBe(0.9);
    expect(capped.addresses.filter((address) => book.get(address)!.source === seed)).toHaveLength(2);
    expect(fromOthers).toHaveLength(1);
    expect(capped.trustedShort).toBe(true);
    // No seed will answer (none configured, or all failing): nothing holds the slots back.
    const uncapped = planDials(context({ trustedSources, seedCanHelp: false }), 10);
    expect(uncapped.addresses).toHaveLength(10);
    expect(uncapped.trustedShort).toBe(false);
  });

  it('asks a seed again when the seed-given addresses left to dial are ones that failed before', () => {
    const { book, clock, context } = setup();
    const seed = tcp(900, publicHost(60));
    const trustedSources = new Set([nodeId(900)]);
    const full = tcp(1, publicHost(1));
    book.addAddress(full, seed);
    for (let n = 100; n < 120; n++) book.addAddress(tcp(n, publicHost(n)), tcp(1000 + n, publicHost(n + 1000)));
    // Nine outbound peers, eight of them seed-given: one trusted slot left.
    const outboundSources = [...Array<string>(8).fill(seed), tcp(2000, publicHost(200))];
    const fresh = planDials(context({ trustedSources, seedCanHelp: true, outbound: 9, outboundSources }), 1);
    expect(fresh.addresses).toEqual([full]);
    expect(fresh.trustedShort).toBe(false);
    // Its dial failed (its inbound slots were full); once its backoff is over it is the only one left.
    book.markAttempt(full);
    clock.advance(60 * 60 * 1000);
    const retry = planDials(context({ trustedSources, seedCanHelp: true, outbound: 9, outboundSources, nowMs: clock.ms }), 1);
    expect(retry.addresses).toEqual([full]);
    expect(retry.trustedShort).toBe(true);
  });

  it('never holds back a seed-given address for the per-source quota', () => {
    const { book, context } = setup();
    const seed = tcp(900, publicHost(60));
    for (let n = 1; n <= 12; n++) book.addAddress(tcp(n, publicHost(n)), seed);
    // ceil(10 × 0.34) = 4 per source group would stop at 4; a trusted source is not a flooder.
    const plan = planDials(context({ trustedSources: new Set([nodeId(900)]), outbound: 4, outboundSources: [seed, seed, seed, seed], seedCanHelp: true }), 6);
    expect(plan.addresses).toHaveLength(6);
    expect(plan.quotaLimited).toBe(false);
  });

  it('fills the trusted slots (trustedOutboundShare of maxOutbound) with seed-given addresses first, whatever the buckets hold', () => {
    const { book, context } = setup();
    const seed = tcp(900, publicHost(60));
    for (let n = 1; n <= 5; n++) book.addAddress(tcp(n, publicHost(n)), seed);
    // A flood from many colluding sources: far more addresses, far more buckets.
    for (let n = 100; n < 400; n++) book.addAddress(tcp(n, publicHost(n)), tcp(1000 + n, publicHost(n + 1000)));
    const trustedSources = new Set([nodeId(900)]);
    const plan = planDials(context({ trustedSources }), 10);
    const trusted = plan.addresses.filter((address) => book.get(address)!.source === seed);
    expect(trusted.length).toBeGreaterThanOrEqual(3);
    // Once ceil(10 * 0.9) = 9 outbound peers came from the seed, no slot is reserved any more.
    const later = planDials(context({ trustedSources, outbound: 9, outboundSources: Array<string>(9).fill(seed) }), 1);
    expect(later.addresses).toHaveLength(1);
  });

  it('answers with first-hand addresses first (reached, or self-reported), topped up from the sample, same size', () => {
    const { book } = setup();
    const source = tcp(900, publicHost(60));
    for (let n = 1; n <= 40; n++) book.addAddress(tcp(n, publicHost(n)), source);
    const reached = [3, 7, 11].map((n) => tcp(n, publicHost(n)));
    for (const address of reached) book.markGood(address);
    const selfReported = tcp(41, publicHost(41));
    book.addAddress(selfReported, selfReported);
    reached.push(selfReported);
    const wanted = book.selectionSize(250);
    const answer = firstHandFirst(book, wanted);
    expect(answer).toHaveLength(wanted);
    expect(new Set(answer).size).toBe(answer.length);
    for (const address of reached) expect(answer).toContain(address);
  });

  it('prefers vetted (old) addresses with few outbound peers and new ones with many, as CometBFT', () => {
    expect([0, 1, 4, 8, 20].map(newBiasPercent)).toEqual([10, 20, 50, 90, 90]);
  });

  it('rejects impossible PEX options with ConfigError', () => {
    expect(() => resolvePexConfig({ ensurePeersIntervalMs: 0 })).toThrow(ConfigError);
    expect(() => resolvePexConfig({ maxAddressesPerResponse: 251 })).toThrow(/maxAddressesPerResponse/);
    expect(() => resolvePexConfig({ maxOutboundSharePerSource: 0 })).toThrow(ConfigError);
    expect(() => resolvePexConfig({ dialBackoffBaseMs: 10, dialBackoffMaxMs: 5 })).toThrow(ConfigError);
    expect(resolvePexConfig({ ensurePeersIntervalMs: 3000 }).minRequestIntervalMs).toBe(1000);
  });
});

describe('Outbound network-group diversity', () => {
  it('never plans two outbound peers in one /16, however many addresses that /16 has', () => {
    const { book, context } = setup();
    // 300 addresses in one /16 (from many sources), 5 in other /16s.
    for (let i = 1; i <= 300; i++) book.addAddress(tcp(i, publicHost(5, i)), tcp(8000 + i, publicHost(100 + i)));
    for (let i = 0; i < 5; i++) book.addAddress(tcp(1000 + i, publicHost(10 + i)), tcp(9000 + i, publicHost(400 + i)));
    for (let round = 0; round < 20; round++) {
      const groups = planDials(context({ maxOutbound: 8 }), 8).addresses.map(networkGroupOf);
      expect(new Set(groups).size).toBe(groups.length);
    }
  });

  it('skips groups its current outbound peers already cover', () => {
    const { book, context } = setup();
    for (let i = 1; i <= 20; i++) book.addAddress(tcp(i, publicHost(5, i)), tcp(8000 + i, publicHost(100 + i)));
    const taken = networkGroupOf(tcp(1, publicHost(5, 1)));
    expect(planDials(context({ outboundGroups: [taken], outbound: 1 }), 7).addresses).toEqual([]);
    expect(planDials(context({ outboundGroups: [taken], outbound: 1, config: resolvePexConfig({ maxOutboundPerGroup: 3 }) }), 7).addresses).toHaveLength(2);
  });

  it('lets the rule yield for loopback/LAN and WebRTC addresses when nothing else is dialable, never for public ones', () => {
    const clock = new FakeClock();
    const random = seededRandom(8);
    const book = new AddressBook({ now: clock.now, random, bucketKey: FIXED_KEY, allowLocal: true });
    for (let i = 1; i <= 5; i++) book.addAddress(`tcp://${nodeId(i)}@127.5.0.${i}:26656`, `tcp://${nodeId(100 + i)}@127.9.0.${i}:26656`);
    const { context } = setup();
    const lan = context({ book, random, outboundGroups: ['ipv4:127.5'], outbound: 1 });
    expect(diversityMayYield(`tcp://${nodeId(1)}@127.5.0.1:26656`)).toBe(true);
    expect(diversityMayYield(`webrtc://${nodeId(1)}?via=${nodeId(2)}`)).toBe(true);
    expect(diversityMayYield(tcp(1, publicHost(5, 1)))).toBe(false);
    // All five share the /16 we already have a peer in: held back, then one a round is dialled because nothing else is.
    expect(planDials(lan, 3).addresses).toHaveLength(1);
    // With one address of another group in the book, that one is dialled and the /16 waits.
    book.addAddress(`tcp://${nodeId(50)}@127.6.0.1:26656`, `tcp://${nodeId(150)}@127.9.0.9:26656`);
    expect(planDials(context({ book, random, outboundGroups: ['ipv4:127.5'], outbound: 1 }), 3).addresses).toEqual([`tcp://${nodeId(50)}@127.6.0.1:26656`]);
  });

  it('does not yield while an address of another group is only waiting: being dialled, or backing off after a failed dial or two', () => {
    const { book, other, crowded } = crowdedLan();
    const dialling = (id: string): boolean => id === nodeId(50);
    expect(planDials(crowded({ isBusy: dialling }), 8).addresses).toEqual([]);
    // The dial failed (load, a timeout): the address backs off, and the /16 still waits for it.
    book.markAttempt(other);
    expect(planDials(crowded(), 8).addresses).toEqual([]);
    book.markAttempt(other);
    expect(planDials(crowded(), 8).addresses).toEqual([]);
    // A third failure: no longer worth waiting for; one of the crowded /16 is dialled.
    book.markAttempt(other);
    expect(planDials(crowded(), 8).addresses).toHaveLength(1);
    // Connected (inbound), a seed, or banned: nothing to wait for either.
    const fresh = `tcp://${nodeId(51)}@127.7.0.1:26656`;
    book.addAddress(fresh, `tcp://${nodeId(151)}@127.9.0.9:26656`);
    const freshBusy = (id: string): boolean => id === nodeId(51);
    expect(planDials(crowded({ isBusy: freshBusy }), 8).addresses).toEqual([]);
    expect(planDials(crowded({ isBusy: freshBusy, isConnected: freshBusy }), 8).addresses).toHaveLength(1);
    expect(planDials(crowded({ isBusy: freshBusy, trustedSources: new Set([nodeId(51)]) }), 8).addresses).toHaveLength(1);
    expect(planDials(crowded({ isBusy: freshBusy, isBanned: (address) => address === fresh }), 8).addresses).toHaveLength(1);
    // A WebRTC address whose relay we are not connected to waits for nothing (it cannot be dialled).
    const viaRelay = `webrtc://${nodeId(52)}?via=${nodeId(53)}`;
    expect(book.addAddress(viaRelay, `tcp://${nodeId(152)}@127.9.0.9:26656`)).toBe(true);
    const rtc = (overrides: Partial<DialPlanContext> = {}): DialPlanContext =>
      crowded({ isBusy: freshBusy, isConnected: freshBusy, canDial: (protocol) => protocol === 'tcp' || protocol === 'webrtc', ...overrides });
    expect(planDials(rtc(), 8).addresses.filter((address) => address.startsWith('tcp://'))).toHaveLength(1);
    expect(planDials(rtc({ isConnected: (id) => id === nodeId(51) || id === nodeId(53) }), 8).addresses).toEqual([viaRelay]);
  });

  it('yields although a node of another group hung up on us: a liar that accepts and hangs up at once must not hold the yield', () => {
    // A liar's one address in a group with room: each time its hang-up wait (seedRedialIntervalMs, 60 s)
    // ends we dial it, it accepts and closes at once, and for 60 s more it is busy. Counted as waiting,
    // it held the crowded group's yield back for as long as it kept doing so: a page or LAN node never
    // got a second peer through its relay or /16.
    const { book, other: liar, crowded } = crowdedLan();
    book.markGood(liar); // it accepted our dial
    const hungUp = (id: string): boolean => id === nodeId(50);
    const plan = planDials(crowded({ isBusy: hungUp, hungUp }), 8);
    // Before: [] in every round while the liar kept hanging up.
    expect(plan.addresses).toHaveLength(1);
    expect(plan.addresses[0]).toMatch(/@127\.5\.0\.\d:26656$/);
  });

  it('yields to a page known through the relay while its other address, from a page past the untrusted share, has no turn', () => {
    // A page of the demo: outbound to the relay (a seed), to a first page through it, and to a second
    // page it heard of from the first (the one slot of ten for peers' addresses while the seed answers).
    // It knows a third page through the relay (a full group) and through the second page (room).
    const { book, context } = setup();
    const [relay, first, second, third] = [nodeId(70), nodeId(71), nodeId(72), nodeId(73)];
    const relaySource = tcp(70, publicHost(70));
    const secondSource = `webrtc://${second}?via=${first}`;
    const throughRelay = `webrtc://${third}?via=${relay}`;
    const throughSecond = `webrtc://${third}?via=${second}`;
    book.addAddress(throughRelay, relaySource);
    book.addAddress(throughSecond, secondSource);
    const page = (overrides: Partial<DialPlanContext> = {}): DialPlanContext =>
      context({
        outbound: 3,
        outboundSources: [relaySource, `webrtc://${first}?via=${relay}`],
        outboundGroups: [`webrtc:${relay}`, `webrtc:${first}`],
        trustedSources: new Set([relay]),
        seedCanHelp: true,
        canDial: (protocol) => protocol === 'webrtc',
        isConnected: (id) => [relay, first, second].includes(id),
        ...overrides,
      });
    // Before: the address through the second page counted as waiting its turn, which it never gets while
    // the relay answers, so the one through the relay was never dialled (and the third page, in the same
    // state, never dialled this one: the pair stayed apart).
    expect(planDials(page(), 8).addresses).toEqual([throughRelay]);
    // With the cap lifted (no seed answers), that address has its turn: it is dialled, not the crowded group.
    expect(planDials(page({ seedCanHelp: false }), 8).addresses).toEqual([throughSecond]);
  });

  it('the yield never dials a liar\'s address past the untrusted share, however many it sends', () => {
    // Red team of the yield above: with peers' addresses at their share while the seed answers, a liar
    // that floods the book with pages through the crowded relay (or through itself) gets none dialled,
    // round after round; the yield takes only the seed's.
    const { book, context } = setup();
    const [relay, first, liar] = [nodeId(70), nodeId(71), nodeId(72)];
    const relaySource = tcp(70, publicHost(70));
    const liarSource = `webrtc://${liar}?via=${first}`;
    for (let n = 100; n < 160; n++) book.addAddress(`webrtc://${nodeId(n)}?via=${n % 2 === 0 ? relay : liar}`, liarSource);
    const page = (seedCanHelp: boolean): DialPlanContext =>
      context({
        outbound: 3,
        outboundSources: [relaySource, `webrtc://${first}?via=${relay}`, liarSource],
        outboundGroups: [`webrtc:${relay}`, `webrtc:${first}`, `webrtc:${liar}`],
        trustedSources: new Set([relay]),
        canDial: (protocol) => protocol === 'webrtc',
        isConnected: (id) => [relay, first, liar].includes(id),
        seedCanHelp,
      });
    for (let round = 0; round < 20; round++) expect(planDials(page(true), 8).addresses).toEqual([]);
    const fromSeed = `webrtc://${nodeId(200)}?via=${relay}`;
    book.addAddress(fromSeed, relaySource);
    expect(planDials(page(true), 8).addresses).toEqual([fromSeed]);
    // They are in the book and dialable: with the share lifted (no seed answers), the yield takes one.
    book.markAttempt(fromSeed);
    expect(planDials(page(false), 8).addresses).toHaveLength(1);
  });

  it('groups IPv4 by /16, IPv6 by /32, names by domain, WebRTC by relay, memory by host', () => {
    const id = 'ab'.repeat(20);
    expect(networkGroupOf(`tcp://${id}@127.1.0.1:1`)).toBe('ipv4:127.1');
    expect(networkGroupOf(`tcp://${id}@127.1.9.9:2`)).toBe('ipv4:127.1');
    expect(networkGroupOf(`tcp://${id}@[2001:db8:1:2::1]:1`)).toBe('ipv6:20010db8');
    expect(networkGroupOf(`wss://${id}@a.relay.example.com:443`)).toBe('dns:example.com');
    expect(networkGroupOf(`webrtc://${id}?via=${'cd'.repeat(20)}`)).toBe(`webrtc:${'cd'.repeat(20)}`);
    expect(networkGroupOf(`memory://${id}@n-1`)).toBe('memory:n-1');
  });

  it('a seed crawls one address per public host (one per domain for names) a round: made-up ids at a victim host are no reflector', () => {
    const { book, context } = setup();
    const victim = publicHost(7);
    const liar = tcp(999, publicHost(40));
    // 30 made-up node ids on the victim's ports, 10 under subdomains of one domain pointing at it, 5 real nodes.
    for (let i = 0; i < 30; i++) expect(book.addAddress(tcp(100 + i, victim, 1000 + i), liar)).toBe(true);
    for (let i = 0; i < 10; i++) expect(book.addAddress(tcp(200 + i, `n${i}.victim-pointer.com`), liar)).toBe(true);
    for (let i = 0; i < 5; i++) expect(book.addAddress(tcp(300 + i, publicHost(50 + i)), liar)).toBe(true);
    const plan = planCrawl(context(), 10);
    expect(plan.filter((address) => address.includes(`@${victim}:`)), 'dials at the victim host this round').toHaveLength(1);
    expect(plan.filter((address) => address.includes('victim-pointer.com')), 'dials under the one domain').toHaveLength(1);
    expect(plan, 'the real nodes are crawled with the free slots').toHaveLength(7);
  });

  it('a seed crawl gives every other slot to first-hand addresses due a revisit, however many never-tried ones liars supply', () => {
    const { book, clock, context } = setup();
    const reached = Array.from({ length: 6 }, (_, i) => tcp(100 + i, publicHost(10 + i)));
    for (const address of reached) {
      book.addAddress(address, address);
      book.markAttempt(address);
      book.markGood(address);
    }
    clock.advance(3 * 60_000);
    // A liar's made-up nodes, never tried, each in a place of its own.
    for (let i = 0; i < 60; i++) book.addAddress(tcp(1000 + i, publicHost(100 + i)), tcp(999, publicHost(40)));
    const plan = planCrawl(context({ nowMs: clock.ms }), 10);
    expect(plan).toHaveLength(10);
    // Before: never-tried first, so 0 of 10, round after round while the liars kept naming new ones.
    expect(plan.filter((address) => reached.includes(address))).toHaveLength(5);
  });

  it('the crawl place of an IPv6 address is its /64, and an IPv4-mapped one is its IPv4: no more dials at one victim by rewriting its address', () => {
    const { book, context } = setup();
    const liar = tcp(999, publicHost(40));
    // A host is given a whole /64 (a VPS's routed prefix): every address in it reaches the victim.
    for (let i = 0; i < 20; i++) expect(book.addAddress(tcp(100 + i, `[2a01:4f8:1:2::${(i + 1).toString(16)}]`), liar)).toBe(true);
    const victimV4 = publicHost(7);
    expect(book.addAddress(tcp(200, victimV4), liar)).toBe(true);
    expect(book.addAddress(tcp(201, `[::ffff:${victimV4}]`, 26657), liar)).toBe(true);
    for (let i = 0; i < 5; i++) expect(book.addAddress(tcp(300 + i, publicHost(50 + i)), liar)).toBe(true);
    const plan = planCrawl(context(), 10);
    // Before: 20 distinct places in one /64, so 4 of the 5 free slots of a 10-slot round went there every round.
    expect(plan.filter((address) => address.includes('2a01:4f8:1:2:')), 'dials into the victim /64 this round').toHaveLength(1);
    expect(plan.filter((address) => address.includes(victimV4)), 'dials at the victim IPv4 this round').toHaveLength(1);
    expect(plan, 'the real nodes are crawled with the free slots').toHaveLength(7);
  });

  it('neither a round nor a crawl dials into a network that is waiting after failed dials there (FailingNetworks)', () => {
    const { book, context } = setup();
    const liar = tcp(999, publicHost(40));
    const victim = publicHost(7);
    for (let i = 0; i < 20; i++) expect(book.addAddress(tcp(100 + i, victim, 1000 + i), liar)).toBe(true);
    for (let i = 0; i < 5; i++) expect(book.addAddress(tcp(300 + i, publicHost(50 + i)), liar)).toBe(true);
    const waiting = ({ address }: { address: string }): number => (address.includes(`@${victim}:`) ? 30_000 : 0);
    for (const plan of [planCrawl(context({ networkWaitMs: waiting }), 10), planDials(context({ networkWaitMs: waiting }), 10).addresses]) {
      expect(plan.filter((address) => address.includes(`@${victim}:`))).toEqual([]);
      expect(plan.length).toBeGreaterThan(0);
    }
    // Not waiting: one dial there a round, as before.
    expect(planCrawl(context(), 10).filter((address) => address.includes(`@${victim}:`))).toHaveLength(1);
  });

  it('still dials a node it reached before in a waiting network: made-up nodes named there must not keep us from it', () => {
    const { book, context } = setup();
    const liar = tcp(999, publicHost(40));
    const honest = tcp(500, publicHost(7, 2));
    expect(book.addAddress(honest, liar)).toBe(true);
    book.markGood(honest);
    for (let i = 0; i < 20; i++) expect(book.addAddress(tcp(100 + i, publicHost(7), 1000 + i), liar)).toBe(true);
    // The honest node shares the made-up nodes' /16: the whole network waits after their dials failed.
    const waiting = ({ address }: { address: string }): number => (address.includes(`@${publicHost(7)}:`) || address === honest ? 30_000 : 0);
    const plan = planDials(context({ networkWaitMs: waiting }), 10).addresses;
    expect(plan).toContain(honest);
    expect(plan.filter((address) => address.includes(`@${publicHost(7)}:`))).toEqual([]);
  });
});
