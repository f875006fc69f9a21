/**
 * A liar framing an honest node: it feeds the honest node an address that the honest node's book
 * rewrote into a form no peer accepts, so that everyone the honest node answers bans it. Over real TCP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { PEX_MAX_ADDRESS_CHARS } from '../../src/pex/constants.js';
import { waitFor } from '../helpers/wait.js';
import { RogueAgent, response, startPexNode, stopPexNodes } from '../pex/pex-helpers.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();
afterEach(stopPexNodes);

const LISTEN = 'tcp://127.0.0.1:0';
/** Slow rounds: each node asks only the peer it dials, once. */
const QUIET = { ensurePeersIntervalMs: 60_000, feelerIntervalMs: 0 };

/**
 * 966 characters, under every cap; its canonical form (each `:` in the query becomes `%3A`) has 2,766.
 * A protocol of a custom transport, whose query the book keeps (of tcp, ws and memory addresses it
 * keeps none, of webrtc ones only `via`: no dialer of ours reads any other).
 */
const LENGTHENING = `quic://${'e'.repeat(40)}@127.0.0.9:26656?x=${':'.repeat(900)}`;

describe('a liar framing an honest node through its PEX answers', () => {
  it('an address that grows past the cap when made canonical is refused, so the honest node never hands it on', async () => {
    expect(LENGTHENING.length).toBeLessThanOrEqual(PEX_MAX_ADDRESS_CHARS);
    const liar = await startPexNode({ transports: [tcpTransport()], listen: LISTEN, pex: false, agents: { rogue: new RogueAgent(() => [response([LENGTHENING])]) } });
    const honest = await startPexNode({ transports: [tcpTransport()], listen: LISTEN, pex: QUIET });
    const asker = await startPexNode({ transports: [tcpTransport()], listen: LISTEN, pex: QUIET });
    const honestMisbehaviours: string[] = [];
    honest.pex!.on('misbehaviour', ({ peer, error }) => honestMisbehaviours.push(`${peer.id}:${error.code}`));
    const askerMisbehaviours: string[] = [];
    asker.pex!.on('misbehaviour', ({ peer, error }) => askerMisbehaviours.push(`${peer.id}:${error.code}`));

    // The honest node dials the liar and asks it for addresses (its book is small); the liar answers.
    await honest.sw.dial(liar.address);
    await waitFor(() => honestMisbehaviours.length > 0 || honest.pex!.stats().responsesReceived > 0, 3000, 'the liar answered');
    // Nothing it holds is longer than any peer accepts.
    expect(honest.pex!.book.entries().filter((entry) => entry.address.length > PEX_MAX_ADDRESS_CHARS)).toEqual([]);
    // An honest book never holds such an address, so only a liar sends one: it is refused and banned.
    expect(honestMisbehaviours).toEqual([`${liar.sw.nodeId}:ERR_PEX_INVALID_ADDRESS`]);

    // Another node dials the honest one and asks it: it gets an answer it accepts and keeps the node.
    await asker.sw.dial(honest.address);
    await waitFor(() => askerMisbehaviours.length > 0 || asker.pex!.stats().responsesReceived > 0, 3000, 'the honest node answered');
    // Before: the honest node's answer held the 2,765-character form, the asker cut it as malformed
    // (ERR_MALFORMED_MESSAGE) and banned it for 24 h; every node it answered did the same.
    expect(askerMisbehaviours).toEqual([]);
    expect(asker.sw.bans.isBanned(honest.sw.nodeId)).toBe(false);
    expect(asker.sw.getPeer(honest.sw.nodeId)).toBeDefined();
  });
});
