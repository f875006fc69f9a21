import { afterEach, describe, expect, it } from 'vitest';
import { SIGNAL_ROUTE_REPLIES_PER_SIGNAL } from '../../src/webrtc/constants.js';
import { waitFor } from '../helpers/wait.js';
import { CANDIDATE, OFFER, pageBehindRelay, stopNodes } from '../webrtc/signalling-scene.js';

/**
 * A relay forwards at once, unpaced, to a peer that dialled it the signals of nodes that peer signalled
 * through it (its routes: its dials and its answers). A flooder needs only an answer to one offer (a
 * page answers any offer within its answer allowance) to become a route; before, its signals then went
 * unpaced for as long as the route was remembered, crossing the page's link only to be dropped there
 * once the negotiation was over. Now each signal the page sends a node lets a negotiation's worth of
 * that node's replies through at once; past them they are paced like anyone's. Over TCP on 127.0.0.1.
 */
afterEach(stopNodes);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const FLOODERS = 8;

describe('a relay forwarding to a peer that dialled it the signals of nodes that peer answered', () => {
  it('lets through a negotiation\'s worth at once, and paces the rest', async () => {
    const { relay, relayAgent, page, pageAgent, heard, joined } = await pageBehindRelay();
    const flooders = await Promise.all(Array.from({ length: FLOODERS }, (_, i) => joined(`flooder-${i}`)));
    // Each flooder offers; the page answers each (one signal back through the relay), as it answers any
    // offer within its allowance, and the negotiation soon fails (the flooder never connects).
    for (const { agent } of flooders) agent.sendSignal(relay.nodeId, page.nodeId, OFFER);
    await waitFor(() => flooders.every(({ sw }) => heard.has(sw.nodeId)), 3000, 'every offer at the page');
    for (const { sw } of flooders) expect(pageAgent.sendSignal(relay.nodeId, sw.nodeId, { type: 'answer', sdp: 'v=0 answer' })).toBe(true);
    await waitFor(() => relayAgent.stats.relayed >= 2 * FLOODERS, 3000, 'the answers relayed');
    await sleep(200);

    // Then each floods what the relay takes from it, twice over 6 s.
    for (let round = 0; round < 2; round++) {
      for (const { agent } of flooders) for (let i = 0; i < 100; i++) agent.sendSignal(relay.nodeId, page.nodeId, CANDIDATE);
      await sleep(3_000);
    }
    const droppedAtPage = pageAgent.stats.dropped;
    console.log(`answered flooders' signals: ${droppedAtPage} dropped at the page, ${relayAgent.stats.paced} paced at the relay, ${relayAgent.stats.relayed} relayed`);
    // Before: ~560 of their 1,600 crossed the page's link to be dropped there (0 paced at the relay).
    expect(droppedAtPage).toBeLessThanOrEqual(FLOODERS * SIGNAL_ROUTE_REPLIES_PER_SIGNAL);
    expect(relayAgent.stats.paced).toBeGreaterThan(FLOODERS * 50);
    expect(page.getPeer(relay.nodeId), 'the page keeps its relay').toBeDefined();
  }, 30_000);
});
