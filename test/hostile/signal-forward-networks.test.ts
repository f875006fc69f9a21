import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { CANDIDATE, OFFER, pageBehindRelay, SIGNALS_PER_ANSWER, stopNodes } from '../webrtc/signalling-scene.js';

/**
 * A relay forwards to a page that dialled it within one lane (ten times what the page announced it takes
 * from one peer, 3/4 of it), each sender within its share. Keys are free: one host of 16 keys, each
 * offering the page what the relay takes from it, spent the lane between them (each of the 16 tracked
 * senders a share of a tenth of it, and every sender past them a full fresh one), and a node of another
 * network offering the page through the relay was dropped there, told `unreachable`. The lane is now
 * split between the networks of the senders (the relay's view of each: its IPv4 /16), so that host is one
 * network. Over TCP: the flooders from 127.0.0.1, the honest nodes from 127.3.0.1 and 127.4.0.1 (all of
 * 127/8 is loopback on Linux, and the relay sees each /16 as a network).
 */
afterEach(stopNodes);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const FLOODERS = 16;

/** `agent` sends `to` through `relay` an offer and 13 candidates, as wrtc does. */
function offerAndCandidates(agent: { sendSignal: (via: string, to: string, data: typeof OFFER) => boolean }, relay: string, to: string): boolean[] {
  return Array.from({ length: SIGNALS_PER_ANSWER }, (_, i) => agent.sendSignal(relay, to, i === 0 ? OFFER : CANDIDATE));
}

async function floodedPage() {
  const scene = await pageBehindRelay();
  const flooders = await Promise.all(Array.from({ length: FLOODERS }, (_, i) => scene.joined(`flooder-${i}`)));
  // Each flooder offers the page what the relay takes from it (20/s, burst 100; its pace 3/4 of that: 75
  // at once, then 15 a second), 200 each: together ~2,400 a second for the first moment, then 240.
  for (const { agent } of flooders) for (let i = 0; i < 200; i++) agent.sendSignal(scene.relay.nodeId, scene.page.nodeId, i % 14 === 0 ? OFFER : CANDIDATE);
  await sleep(3_000);
  return { ...scene, flooders };
}

describe('sixteen flooder keys of one host offering a page through its relay', () => {
  it("leave a node of another network its offer's way: 14 of 14 arrive (before: dropped at the relay)", async () => {
    const { relay, relayAgent, page, heard, flooders, joined } = await floodedPage();
    const honest = await joined('honest', '127.3.0.1');
    const pacedBefore = relayAgent.stats.paced;
    expect(offerAndCandidates(honest.agent, relay.nodeId, page.nodeId).every(Boolean)).toBe(true);
    await waitFor(() => (heard.get(honest.sw.nodeId) ?? 0) >= SIGNALS_PER_ANSWER, 3000, "the honest node's offer").catch(() => undefined);
    const flooded = flooders.reduce((sum, { sw }) => sum + (heard.get(sw.nodeId) ?? 0), 0);
    console.log(`flooders: ${flooded} taken by the page, ${relayAgent.stats.paced} paced at the relay (${relayAgent.stats.paced - pacedBefore} after the honest node's offer)`);
    expect(heard.get(honest.sw.nodeId) ?? 0, "the honest node's offer and candidates, all at the page").toBe(SIGNALS_PER_ANSWER);
    expect(relayAgent.stats.paced, 'the flooders were paced at the relay').toBeGreaterThan(FLOODERS * 50);
    expect(page.getPeer(relay.nodeId), 'the page keeps its relay').toBeDefined();
    for (const { sw } of [honest, ...flooders]) expect(sw.getPeer(relay.nodeId), 'the relay keeps every sender').toBeDefined();
  }, 30_000);

  it('leave three pages behind one NAT of another network their offers, one a second', async () => {
    const { relay, page, heard, joined } = await floodedPage();
    const natted = await Promise.all(Array.from({ length: 3 }, (_, i) => joined(`natted-${i}`, '127.4.0.1')));
    for (const { agent } of natted) {
      expect(offerAndCandidates(agent, relay.nodeId, page.nodeId).every(Boolean)).toBe(true);
      await sleep(1_000);
    }
    await waitFor(() => natted.every(({ sw }) => (heard.get(sw.nodeId) ?? 0) >= SIGNALS_PER_ANSWER), 3000, 'the three offers').catch(() => undefined);
    expect(natted.map(({ sw }) => heard.get(sw.nodeId) ?? 0), "each page's offer and candidates").toEqual(natted.map(() => SIGNALS_PER_ANSWER));
  }, 30_000);
});
