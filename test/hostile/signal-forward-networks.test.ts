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

describe('networks taking turns to offer a page through its relay, each quiet for 15 s between turns', () => {
  it("leave a network new to the page's lane the newcomers' seat: its offer and candidates, 14 of 14 (before: 3 of 14)", async () => {
    // A page announcing a slow pace with a large burst (2/s, burst 100): its lane at the relay is 15 a
    // second, 750 at once, and the newcomers' seat earns 14 in ~9 s while ten networks hold seats.
    const { relay, page, heard, joined } = await pageBehindRelay({ ratePerSecond: 2, burstMessages: 100 });
    // Eight networks of three keys each: past the 16 senders the relay tracks per page, a key's own share
    // starts full again, so each turn spends its network's share of the lane and what no share holds.
    const rotating = await Promise.all(
      Array.from({ length: 8 }, (_, i) => Promise.all(Array.from({ length: 3 }, (_, key) => joined(`rotating-${i}-${key}`, `127.${10 + i}.0.1`)))),
    );
    const honest = await Promise.all([joined('honest-0', '127.20.0.1'), joined('honest-1', '127.21.0.1')]);
    const start = Date.now();
    const at = (ms: number): Promise<void> => sleep(Math.max(0, start + ms - Date.now()));
    // Network i floods at 2i s and again 16 s later (a seat lasts 15 s): from 16 s on, one comes back
    // every 2 s. Each key 60 signals a turn, within what the relay takes from one peer at once.
    const turns = (async () => {
      for (let ms = 0; ms < 40_000; ms += 2_000) {
        await at(ms);
        for (const { agent } of rotating[(ms / 2_000) % rotating.length]!) {
          for (let i = 0; i < 60; i++) agent.sendSignal(relay.nodeId, page.nodeId, CANDIDATE);
        }
      }
    })();
    // The newcomers, 1 s after a network came back (at 25 s and 37 s); the seat was last taken at 14 s.
    for (const [index, ms] of [25_000, 37_000].entries()) {
      await at(ms);
      expect(offerAndCandidates(honest[index]!.agent, relay.nodeId, page.nodeId).every(Boolean)).toBe(true);
    }
    await turns;
    await waitFor(() => honest.every(({ sw }) => (heard.get(sw.nodeId) ?? 0) >= SIGNALS_PER_ANSWER), 3000, "the newcomers' offers").catch(() => undefined);
    const arrived = honest.map(({ sw }) => heard.get(sw.nodeId) ?? 0);
    console.log(`newcomers' signals at the page: ${arrived.join(', ')} of ${SIGNALS_PER_ANSWER} each`);
    // Before: 3 and 3: each network coming back after 15 s was a newcomer again and took the seat, 1 s before.
    expect(arrived).toEqual([SIGNALS_PER_ANSWER, SIGNALS_PER_ANSWER]);
  }, 60_000);
});
