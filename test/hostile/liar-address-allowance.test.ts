import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { DEFAULT_PEX_CONFIG } from '../../src/pex/config.js';
import { waitFor } from '../helpers/wait.js';
import { fakeAddresses, RogueAgent, response, startPexNode, stopPexNodes, type PexNode } from '../pex/pex-helpers.js';

afterEach(stopPexNodes);

/** Book entries whose address is one of `addresses`. */
function held(node: PexNode, addresses: readonly string[]): number {
  return addresses.filter((address) => node.pex!.book.has(address)).length;
}

/**
 * A liar we dialled answers each of our requests with 40 made-up nodes, fresh every time; we ask it again
 * and again while the book wants more (under needAddressThreshold). Real Switches and PEXAgents over a
 * memory network, rounds every 100 ms.
 */
describe('a liar answering every request with fresh made-up nodes', () => {
  it('adds no more than its network’s allowance to our book, while another network’s first answer still counts', async () => {
    const network = new MemoryNetwork();
    const honest = await startPexNode({
      transports: [network.transport()],
      listen: 'memory://allowance-honest',
      pex: { ensurePeersIntervalMs: 100, minRequestIntervalMs: 10, feelerIntervalMs: 0 },
    });
    let offset = 0;
    const told: string[] = [];
    const liar = new RogueAgent(() => {
      const fakes = fakeAddresses(40, 'memory', 1000 + offset);
      offset += 40;
      told.push(...fakes);
      return [response(fakes)];
    });
    const liarNode = await startPexNode({ transports: [network.transport()], listen: 'memory://allowance-liar', pex: false, agents: { liar } });
    await honest.sw.dial(liarNode.address);
    await waitFor(() => liar.received.length >= 8 && honest.pex!.stats().responsesReceived >= 8, 10_000, 'eight answers');
    // Before: every answer's 40 (320 or more); now the burst, and what a few seconds earn at 1 a minute.
    const burst = DEFAULT_PEX_CONFIG.newAddressBurstPerNetwork;
    expect(told.length).toBeGreaterThanOrEqual(320);
    expect(held(honest, told)).toBe(burst);
    expect(honest.sw.peers.map((peer) => peer.id)).toContain(liarNode.sw.nodeId);

    // An honest node on another network: its first answer is not held back by the liar's spending.
    const otherTold = fakeAddresses(30, 'memory', 50_000);
    const other = new RogueAgent(() => [response(otherTold)]);
    const otherNode = await startPexNode({ transports: [network.transport()], listen: 'memory://allowance-other', pex: false, agents: { other } });
    await honest.sw.dial(otherNode.address);
    await waitFor(() => other.received.length >= 1 && held(honest, otherTold) === 30, 5000, 'the other network’s answer');
  });
});
