/**
 * Book scraping: a stranger connecting again and again with fresh keys (free to make), each connection
 * asking once (the first request of a connection is always allowed), to learn our whole address book:
 * every node we know, which it can then crawl, or dial to surround us. Real switches over TCP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import type { PEXAgent } from '../../src/pex/pex-agent.js';
import { PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { waitFor } from '../helpers/wait.js';
import { fakeAddresses, request, RogueAgent, startPexNode, stopPexNodes } from '../pex/pex-helpers.js';

afterEach(stopPexNodes);

describe('a stranger scraping our address book with fresh keys', () => {
  it('gets the same sample on every connection for a while, not the whole book', async () => {
    // No dials of its own during the test: the book's made-up addresses stay good.
    const victim = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: { ensurePeersIntervalMs: 600_000 } });
    const book = (victim.pex as PEXAgent).book;
    const addresses = fakeAddresses(1000);
    addresses.forEach((address, i) => book.addAddress(address, `tcp://${(i + 5000).toString(16).padStart(40, 'b')}@127.${1 + (i % 200)}.0.1:26656`));
    expect(book.size()).toBeGreaterThan(900);
    const learned = new Set<string>();
    let answers = 0;
    for (let connection = 0; connection < 16; connection++) {
      const rogue = new RogueAgent();
      const scraper = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, agents: { pex: rogue } });
      const peer = await scraper.sw.dial(victim.address);
      peer.trySend(PEX_CHANNEL_ID, request());
      await waitFor(() => rogue.received.some((message) => message.type === 'pexResponse'), 5_000, 'an answer');
      for (const message of rogue.received) if (message.type === 'pexResponse') for (const address of message.addresses) learned.add(address);
      answers++;
      await scraper.sw.stop();
    }
    expect(answers).toBe(16);
    // One answer is 23% of the book (at most 250). Before: 16 connections learned ~98% of it (1 - 0.77^16).
    expect(learned.size).toBeLessThanOrEqual(book.selectionSize(250));
  }, 60_000);

  it('does not learn our peers of the moment from one answer', async () => {
    // Our outbound peers are first-hand (we reached them), and first-hand addresses led every answer:
    // with fewer of them than an answer takes, one request named every peer we had.
    const victim = await startPexNode({
      transports: [tcpTransport()],
      listen: 'tcp://127.0.0.1:0',
      pex: { ensurePeersIntervalMs: 600_000 },
      switchOptions: { maxOutbound: 16 },
    });
    const book = (victim.pex as PEXAgent).book;
    // Hearsay spread over 200 network groups, two nodes in each, each named by two sources (hearsay one
    // source group alone names only makes up a small answer: see firstHandFirst).
    const hearsay: string[] = [];
    for (let i = 0; i < 400; i++) {
      const address = `tcp://${(i + 1).toString(16).padStart(40, 'a')}@127.${1 + (i % 200)}.7.${1 + (i >> 8)}:${20000 + i}`;
      hearsay.push(address);
      book.addAddress(address, `tcp://${(i + 5000).toString(16).padStart(40, 'b')}@127.${1 + ((i * 7) % 200)}.0.1:26656`);
      book.addAddress(address, `tcp://${(i + 6000).toString(16).padStart(40, 'b')}@127.${1 + ((i * 11 + 1) % 200)}.0.2:26656`);
    }
    const peers: string[] = [];
    for (let i = 0; i < 16; i++) {
      // Each in a network group of its own, as peers on the internet are (an answer takes few from one group).
      const peer = await startPexNode({ transports: [tcpTransport()], listen: `tcp://127.${210 + i}.0.1:0`, pex: false });
      book.addAddress(peer.address, peer.address);
      await victim.sw.dial(peer.address);
      peers.push(peer.address);
    }
    await waitFor(() => peers.every((address) => (book.get(address)?.lastSuccess ?? 0) > 0), 5_000, 'peers marked good');
    const rogue = new RogueAgent();
    const stranger = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, agents: { pex: rogue } });
    (await stranger.sw.dial(victim.address)).trySend(PEX_CHANNEL_ID, request());
    await waitFor(() => rogue.received.some((message) => message.type === 'pexResponse'), 5_000, 'an answer');
    const answer = rogue.received.flatMap((message) => (message.type === 'pexResponse' ? message.addresses : []));
    // Hearsay our PEX dialled meanwhile and never reached (nobody listens there) leaves its place empty.
    const unreached = hearsay.filter((address) => book.hasLapsed(address)).length;
    expect(answer.length).toBeGreaterThanOrEqual(book.selectionSize(250) - 1 - unreached);
    // As likely as any entry now: the sample is fair between groups, 16 of 216 here, ~7 of 95 picks (before:
    // all 16, at the front of the answer).
    expect(peers.filter((address) => answer.includes(address)).length).toBeLessThanOrEqual(12);
  }, 30_000);
});
