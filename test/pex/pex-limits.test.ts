import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { ProtocolError, type MeshlinkError } from '../../src/errors.js';
import { encode } from '@msgpack/msgpack';
import { DEFAULT_MIN_REQUEST_GAP_MS, PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { decodePexMessage } from '../../src/pex/pex-messages.js';
import { DEFAULT_PEX_CONFIG } from '../../src/pex/config.js';
import { waitFor } from '../helpers/wait.js';
import { fakeAddresses, RogueAgent, request, response, startPexNode, stopPexNodes, type PexNode } from './pex-helpers.js';
import type { Peer } from '../../src/switch/peer.js';

afterEach(stopPexNodes);

let counter = 0;
/**
 * An honest PEX node and a rogue one on a fresh memory network. The honest node's rounds are slow
 * (one at start, then every minute), so it asks the rogue only when the rogue is its outbound peer.
 */
async function pair(answer: (peer: Peer) => Uint8Array[] = () => []) {
  const network = new MemoryNetwork();
  const honest = await startPexNode({
    transports: [network.transport()],
    listen: `memory://honest-${++counter}`,
    pex: { minRequestIntervalMs: 1000, ensurePeersIntervalMs: 60_000 },
  });
  const rogueAgent = new RogueAgent(answer);
  const rogue = await startPexNode({ transports: [network.transport()], listen: `memory://rogue-${counter}`, pex: false, agents: { rogue: rogueAgent } });
  // Let the honest node's first round (at start, with no peers) pass before anyone connects.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const errors: MeshlinkError[] = [];
  honest.sw.on('peer:error', ({ error }) => errors.push(error as MeshlinkError));
  const misbehaviours: string[] = [];
  honest.pex!.on('misbehaviour', ({ error }) => misbehaviours.push(error.code));
  return { honest, rogue, rogueAgent, errors, misbehaviours };
}

/** The honest node stopped the rogue with `code`, banned it in the switch and in the book. */
async function expectPunished(setup: Awaited<ReturnType<typeof pair>>, code: string): Promise<void> {
  const { honest, rogue, errors, misbehaviours } = setup;
  await waitFor(() => errors.length > 0, 3000, `peer error ${code}`);
  expect(errors[0]).toBeInstanceOf(ProtocolError);
  expect(errors[0]).toMatchObject({ code, peerId: rogue.sw.nodeId });
  expect(misbehaviours).toEqual([code]);
  await waitFor(() => honest.sw.peers.length === 0, 2000, 'rogue disconnected');
  expect(honest.sw.bans.isBanned(rogue.sw.nodeId)).toBe(true);
  expect(honest.pex!.book.isBanned(rogue.sw.nodeId)).toBe(true);
  await expect(rogue.sw.dial(honest.address)).rejects.toMatchObject({ code: 'ERR_BANNED' });
}

describe('PEXAgent per-peer limits', () => {
  it('answers a pexRequest with a sample of its book that leaves out the asker', async () => {
    const setup = await pair();
    const { honest, rogue, rogueAgent } = setup;
    for (const address of fakeAddresses(40, 'memory')) honest.pex!.book.addAddress(address, address);
    honest.pex!.book.addAddress(`memory://${rogue.sw.nodeId}@elsewhere`, `memory://${rogue.sw.nodeId}@elsewhere`);
    const peer = await rogue.sw.dial(honest.address);
    peer.trySend(PEX_CHANNEL_ID, request());
    await waitFor(() => rogueAgent.received.some((message) => message.type === 'pexResponse'), 2000, 'response');
    const answer = rogueAgent.received.find((message) => message.type === 'pexResponse');
    const addresses = answer?.type === 'pexResponse' ? answer.addresses : [];
    // getSelection: about 32 (MIN_GET_SELECTION) of 41, never the whole book, never the asker.
    expect(addresses.length).toBeGreaterThanOrEqual(30);
    expect(addresses.length).toBeLessThan(honest.pex!.book.size());
    expect(addresses.some((address) => address.includes(rogue.sw.nodeId))).toBe(false);
    expect(setup.errors).toEqual([]);
  });

  it('in seed mode vouches only for nodes it reached or that spoke for themselves, never for hearsay', async () => {
    const network = new MemoryNetwork();
    const seed = await startPexNode({ transports: [network.transport()], listen: 'memory://vouching-seed', pex: { seedMode: true, crawlIntervalMs: 60_000 } });
    const asker = new RogueAgent(() => []);
    const rogue = await startPexNode({ transports: [network.transport()], listen: 'memory://vouching-asker', pex: false, agents: { rogue: asker } });
    const hearsay = fakeAddresses(40, 'memory');
    const source = fakeAddresses(1, 'memory', 500)[0]!;
    for (const address of hearsay) seed.pex!.book.addAddress(address, source);
    const vouched = fakeAddresses(3, 'memory', 100);
    for (const address of vouched) seed.pex!.book.addAddress(address, address); // each told us of itself
    const peer = await rogue.sw.dial(seed.address);
    peer.trySend(PEX_CHANNEL_ID, request());
    await waitFor(() => asker.received.some((message) => message.type === 'pexResponse'), 2000, 'response');
    const answer = asker.received.find((message) => message.type === 'pexResponse');
    const addresses = answer?.type === 'pexResponse' ? answer.addresses : [];
    // The asker told the seed of itself too (its NodeInfo), but is never handed back its own address.
    expect([...addresses].sort()).toEqual([...vouched].sort());
  });

  it('stops and bans a peer that asks again before minRequestIntervalMs: ERR_PEX_REQUEST_TOO_SOON', async () => {
    const setup = await pair();
    const peer = await setup.rogue.sw.dial(setup.honest.address);
    peer.trySend(PEX_CHANNEL_ID, request());
    peer.trySend(PEX_CHANNEL_ID, request());
    await expectPunished(setup, 'ERR_PEX_REQUEST_TOO_SOON');
    expect(setup.honest.pex!.stats().requestsReceived).toBe(1);
  });

  it('stops and bans a peer that sends addresses we did not ask for: ERR_PEX_UNSOLICITED_RESPONSE', async () => {
    const setup = await pair();
    // Inbound peers are not asked (only outbound ones are), so this response is unsolicited.
    const peer = await setup.rogue.sw.dial(setup.honest.address);
    peer.trySend(PEX_CHANNEL_ID, response(fakeAddresses(3)));
    await expectPunished(setup, 'ERR_PEX_UNSOLICITED_RESPONSE');
    expect(setup.honest.pex!.book.size()).toBe(0);
  });

  it('accepts one solicited response of 250 addresses, then treats a second one as unsolicited', async () => {
    const setup = await pair(() => [response(fakeAddresses(250, 'memory')), response(fakeAddresses(250, 'memory', 250))]);
    await setup.honest.sw.dial(setup.rogue.address);
    await expectPunished(setup, 'ERR_PEX_UNSOLICITED_RESPONSE');
    expect(setup.honest.pex!.stats()).toMatchObject({ requestsSent: 1, responsesReceived: 1, addressesReceived: 250 });
    // One response adds at most maxNewAddressesPerResponse entries; the rest of it is ignored, not punished.
    const cap = setup.honest.pex!.config.maxNewAddressesPerResponse;
    expect(cap).toBe(DEFAULT_PEX_CONFIG.maxNewAddressesPerResponse);
    expect(setup.honest.pex!.book.size()).toBe(cap);
    expect(setup.honest.pex!.stats().addressesAdded).toBe(cap);
  });

  it('stops and bans a peer whose response has more than 250 addresses: ERR_PEX_TOO_MANY_ADDRESSES', async () => {
    const setup = await pair(() => [response(fakeAddresses(251))]);
    await setup.honest.sw.dial(setup.rogue.address);
    await expectPunished(setup, 'ERR_PEX_TOO_MANY_ADDRESSES');
    expect(setup.errors[0]!.detail).toMatchObject({ count: 251, max: 250 });
    expect(setup.honest.pex!.book.size()).toBe(0);
  });

  it.each([
    ['a malformed address', (_self: string) => 'not an address'],
    ['an address without a node id', (_self: string) => 'tcp://127.0.0.1:26656'],
    ['our own node id', (self: string) => `memory://${self}@somewhere`],
    ['an undialable host (port 0)', (_self: string) => `tcp://${'c'.repeat(40)}@127.0.0.1:0`],
    // Terminal escapes and a forged log line in a ws path or a memory name, which apps would print or hand on.
    ['a ws path holding terminal escapes', (_self: string) => `ws://${'c'.repeat(40)}@1.2.3.4:80/\u001b[2J\nconnected`],
    ['a memory name holding a bidi override', (_self: string) => `memory://${'c'.repeat(40)}@a\u202eb`],
  ])('stops and bans a peer that sends %s: ERR_PEX_INVALID_ADDRESS, adding none of the response', async (_what, bad) => {
    let honestId = '';
    const setup = await pair(() => [response([...fakeAddresses(5, 'memory'), bad(honestId)])]);
    honestId = setup.honest.sw.nodeId;
    await setup.honest.sw.dial(setup.rogue.address);
    await expectPunished(setup, 'ERR_PEX_INVALID_ADDRESS');
    for (const error of setup.errors) expect(String((error.detail as { address?: unknown } | undefined)?.address ?? '')).not.toMatch(/[\p{Cc}\u202e]/u);
  });

  it('stops and bans a peer that sends a malformed PEX message: ERR_MALFORMED_MESSAGE', async () => {
    const setup = await pair();
    const peer = await setup.rogue.sw.dial(setup.honest.address);
    peer.trySend(PEX_CHANNEL_ID, encode({ type: 'pexGossip' }));
    await expectPunished(setup, 'ERR_MALFORMED_MESSAGE');
  });

  it('learns a peer’s listen addresses, marks a dialled one good, and asks new outbound peers', async () => {
    const setup = await pair(() => [response(fakeAddresses(10, 'memory'))]);
    const { honest, rogue, rogueAgent } = setup;
    await honest.sw.dial(rogue.address);
    await waitFor(() => honest.pex!.stats().responsesReceived === 1, 2000, 'response');
    expect(rogueAgent.received).toEqual([{ type: 'pexRequest' }]);
    expect(honest.pex!.book.get(rogue.address)).toMatchObject({ bucketType: 'old', attempts: 0 });
    expect(honest.pex!.book.size()).toBe(11);
    expect(setup.errors).toEqual([]);
  });
});

describe('PEXAgent request pacing', () => {
  it('asks each peer at most once per ensurePeers interval, so honest nodes never trip each other', async () => {
    const network = new MemoryNetwork();
    const a: PexNode = await startPexNode({ transports: [network.transport()], listen: 'memory://pace-a', pex: { ensurePeersIntervalMs: 150 } });
    const b: PexNode = await startPexNode({ transports: [network.transport()], listen: 'memory://pace-b', pex: { ensurePeersIntervalMs: 150 } });
    const errors: unknown[] = [];
    for (const node of [a, b]) node.sw.on('peer:error', ({ error }) => errors.push(error));
    await a.sw.dial(b.address);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(errors).toEqual([]);
    expect(a.sw.peers).toHaveLength(1);
    // Both books are tiny (below needAddressThreshold), so both keep asking: about once per 150 ms.
    expect(a.pex!.stats().requestsSent).toBeGreaterThanOrEqual(3);
    expect(a.pex!.stats().requestsSent).toBeLessThanOrEqual(8);
    expect(decodePexMessage(request())).toEqual({ type: 'pexRequest' });
  });

  it('asks only the peers it dialled while it has one: a peer that dialled us never gets to fill our book', async () => {
    const network = new MemoryNetwork();
    const a: PexNode = await startPexNode({ transports: [network.transport()], listen: 'memory://asks-a', pex: { ensurePeersIntervalMs: 150 } });
    const b: PexNode = await startPexNode({ transports: [network.transport()], listen: 'memory://asks-b', pex: { ensurePeersIntervalMs: 150 } });
    const c: PexNode = await startPexNode({ transports: [network.transport()], listen: 'memory://asks-c', pex: false });
    await a.sw.dial(c.address); // a's one outbound peer (no PEX: it never answers)
    await b.sw.dial(a.address);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(a.sw.peers.map((peer) => peer.direction).sort()).toEqual(['inbound', 'outbound']);
    // Both books are tiny, so both want addresses every 150 ms: b asks a (its outbound peer), a never asks b.
    expect(b.pex!.stats().requestsSent).toBeGreaterThanOrEqual(3);
    expect(a.pex!.stats().requestsReceived).toBe(b.pex!.stats().requestsSent);
    expect(b.pex!.stats().requestsReceived).toBe(0);
  });

  it('with no outbound peer at all, asks whoever dialled it rather than stay without addresses', async () => {
    const network = new MemoryNetwork();
    const a: PexNode = await startPexNode({ transports: [network.transport()], listen: 'memory://lonely-a', pex: { ensurePeersIntervalMs: 150 } });
    const b: PexNode = await startPexNode({ transports: [network.transport()], listen: 'memory://lonely-b', pex: { ensurePeersIntervalMs: 150 } });
    await b.sw.dial(a.address);
    await waitFor(() => b.pex!.stats().requestsReceived > 0, 3000, 'a asks the peer that dialled it');
    expect(a.sw.peers.map((peer) => peer.direction)).toEqual(['inbound']);
  });
});

describe('PEX request pacing between nodes with different timings', () => {
  it('never asks a peer again within minRequestGapMs, so a fast node is not banned by a node on the defaults', async () => {
    const network = new MemoryNetwork();
    const fast: PexNode = await startPexNode({ transports: [network.transport()], listen: 'memory://fast', pex: { ensurePeersIntervalMs: 100, minRequestGapMs: DEFAULT_MIN_REQUEST_GAP_MS } });
    const onDefaults: PexNode = await startPexNode({ transports: [network.transport()], listen: 'memory://defaults', pex: { ensurePeersIntervalMs: 30_000, minRequestIntervalMs: 10_000 } });
    const errors: unknown[] = [];
    for (const node of [fast, onDefaults]) node.sw.on('peer:error', ({ error }) => errors.push(error));
    await fast.sw.dial(onDefaults.address);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(errors).toEqual([]);
    expect(fast.sw.peers).toHaveLength(1);
    expect(fast.pex!.stats().requestsSent).toBe(1);
  });
});

describe('PEXAgent dial failures', () => {
  it('bans a node on another network (ERR_INCOMPATIBLE_PEER) and backs off from an unreachable address', async () => {
    const network = new MemoryNetwork();
    const stranger = await startPexNode({ transports: [network.transport()], listen: 'memory://stranger', pex: false, switchOptions: { network: 'other-net' } });
    const node = await startPexNode({ transports: [network.transport()], listen: 'memory://dialer', pex: { ensurePeersIntervalMs: 100, dialJitterMs: 0 } });
    const unreachable = fakeAddresses(1, 'memory')[0]!;
    node.pex!.book.addAddress(stranger.address, stranger.address);
    node.pex!.book.addAddress(unreachable, unreachable);
    await waitFor(() => node.pex!.book.isBanned(stranger.sw.nodeId), 3000, 'stranger banned in the book');
    await new Promise((resolve) => setTimeout(resolve, 700));
    // Backoff 100, 200, 400 ms…: a handful of tries in 0.8 s, not one per 100 ms round.
    const info = node.pex!.book.get(unreachable);
    expect(info!.attempts).toBeGreaterThanOrEqual(2);
    expect(info!.attempts).toBeLessThanOrEqual(5);
    expect(node.sw.peers).toHaveLength(0);
  });
});
