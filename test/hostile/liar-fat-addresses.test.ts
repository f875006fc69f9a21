/**
 * A liar silencing an honest node's PEX answers: it feeds the node valid addresses of multi-byte
 * characters (a ws path), each within the 1,024-character cap but ~2.9 KB, until the node's answers no
 * longer fit what askers take (PEX_MAX_MESSAGE_BYTES counts a byte per character), and answers that cost
 * more than honest ones to send. Over real TCP; the
 * addresses are ws:// ones, which the nodes here cannot dial, so nothing is ever dialled there.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { PEX_MAX_ANSWER_BYTES } from '../../src/pex/constants.js';
import { waitFor } from '../helpers/wait.js';
import { nodeId, publicHost } from '../pex/address-book-helpers.js';
import { RogueAgent, response, startPexNode, stopPexNodes } from '../pex/pex-helpers.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();
afterEach(stopPexNodes);

const LISTEN = 'tcp://127.0.0.1:0';
/** 1,012 characters, 2,912 bytes: `€` is three bytes in UTF-8. */
function fatAddress(n: number): string {
  return `ws://${nodeId(10_000 + n)}@${publicHost(n)}:80/${'€'.repeat(950)}`;
}
/** What fits under the honest node's PEX capacity in one answer of the liar. */
const PER_ANSWER = 80;
const ANSWERS = 6;

describe('addresses of multi-byte characters in an honest node book', () => {
  it('its answers are cut to what the asker takes, not left unsent', async () => {
    let sent = 0;
    const liarAgent = new RogueAgent(() => {
      if (sent >= ANSWERS * PER_ANSWER) return [response([])];
      const batch = Array.from({ length: PER_ANSWER }, (_, i) => fatAddress(sent + i));
      sent += PER_ANSWER;
      return [response(batch)];
    });
    const liar = await startPexNode({ transports: [tcpTransport()], listen: LISTEN, pex: false, agents: { rogue: liarAgent } });
    // Asks the peer it dialled every round while its book is small: the liar answers each time. Its
    // network's allowance of new entries is lifted: what is tested is a book that holds such addresses
    // (from many networks, in the wild), not how they got in.
    const honest = await startPexNode({
      transports: [tcpTransport()],
      listen: LISTEN,
      pex: { feelerIntervalMs: 0, minRequestIntervalMs: 50, newAddressBurstPerNetwork: ANSWERS * PER_ANSWER },
    });
    await honest.sw.dial(liar.address);
    await waitFor(() => honest.pex!.stats().responsesReceived >= ANSWERS, 10_000, 'the liar answered six times');
    expect(honest.pex!.stats().misbehaviours).toBe(0);
    expect(honest.pex!.book.size()).toBeGreaterThanOrEqual(400);

    // An asker with the default PEX capacity asks the honest node.
    const asker = await startPexNode({ transports: [tcpTransport()], listen: LISTEN, pex: { ensurePeersIntervalMs: 60_000, feelerIntervalMs: 0 } });
    const answers: number[] = [];
    asker.pex!.on('addresses', ({ received }) => answers.push(received));
    await asker.sw.dial(honest.address);
    await waitFor(() => honest.pex!.stats().requestsReceived >= 1, 3000, 'the asker asked');
    // onRequest answers at once. Before: 0, the answer (~110 such addresses, ~320 KB) was over the
    // asker's 256,814 bytes and was not sent at all, to this asker or any other, while the book held them.
    expect(honest.pex!.stats().responsesSent).toBe(1);
    await waitFor(() => answers.length > 0, 3000, 'an answer');
    // As many as fit in PEX_MAX_ANSWER_BYTES (64 KiB: 22 of these): a stranger's 17-byte request no longer
    // makes the node encode and send all it takes (before: 89 of the 110 here, ~250 KB, 1.4 ms of encoding).
    expect(answers[0]).toBeGreaterThanOrEqual(Math.floor(PEX_MAX_ANSWER_BYTES / 3000));
    expect(answers[0]).toBeLessThanOrEqual(Math.floor(PEX_MAX_ANSWER_BYTES / 2912) + 2); // + the liar's own, short
    expect(asker.pex!.stats().misbehaviours).toBe(0);
  });
});
