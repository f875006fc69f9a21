import { afterEach, describe, expect, it } from 'vitest';
import { SIGNAL_RELAY_ROUTES_PER_PEER, SIGNAL_ROUTE_REPLIES_PER_SIGNAL } from '../../src/webrtc/constants.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import { waitFor } from '../helpers/wait.js';
import { CANDIDATE, OFFER, pageBehindRelay, SIGNALS_PER_ANSWER, stopNodes } from '../webrtc/signalling-scene.js';

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
const ANSWER: SignalData = { type: 'answer', sdp: 'v=0 answer' };

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

  it("keeps the route of a node of another network while keys of one host get the page to answer 16 of their offers: its 40 signals go at once (before: pushed out, 22 of 40)", async () => {
    const { relay, relayAgent, page, pageAgent, heard, negotiating, joined } = await pageBehindRelay();
    // A node of another network (127.3/16) offers the page, which answers: an answer and 13 candidates
    // through the relay, so the node is one of the page's routes there, with 64 replies banked.
    const honest = await joined('honest', '127.3.0.1');
    negotiating.add(honest.sw.nodeId);
    expect(honest.agent.sendSignal(relay.nodeId, page.nodeId, OFFER)).toBe(true);
    await waitFor(() => heard.has(honest.sw.nodeId), 3000, 'the honest offer at the page');
    for (let i = 0; i < SIGNALS_PER_ANSWER; i++) expect(pageAgent.sendSignal(relay.nodeId, honest.sw.nodeId, i === 0 ? ANSWER : CANDIDATE)).toBe(true);
    await waitFor(() => relayAgent.stats.relayed >= 1 + SIGNALS_PER_ANSWER, 3000, 'the answer relayed');

    // Keys of one host (127.0.0.1) each offer the page once; it answers each, as it answers any offer
    // within its answer allowance: 16 newer routes of the page at the relay.
    const flooders = await Promise.all(Array.from({ length: SIGNAL_RELAY_ROUTES_PER_PEER }, (_, i) => joined(`flooder-${i}`)));
    for (const { agent } of flooders) agent.sendSignal(relay.nodeId, page.nodeId, OFFER);
    await waitFor(() => flooders.every(({ sw }) => heard.has(sw.nodeId)), 3000, 'every flooder offer at the page');
    for (const { sw } of flooders) expect(pageAgent.sendSignal(relay.nodeId, sw.nodeId, ANSWER)).toBe(true);
    await waitFor(() => relayAgent.stats.relayed >= 1 + SIGNALS_PER_ANSWER + 2 * flooders.length, 3000, 'the flooders answered');

    // The honest node's ICE candidates, 40 (a browser with a few interfaces trickles that many): its
    // route's replies go at once; paced, the relay takes 22 at once from one sender toward this page.
    const CANDIDATES = 40;
    for (let i = 0; i < CANDIDATES; i++) expect(honest.agent.sendSignal(relay.nodeId, page.nodeId, CANDIDATE)).toBe(true);
    await waitFor(() => (heard.get(honest.sw.nodeId) ?? 0) >= 1 + CANDIDATES, 3000, 'the candidates').catch(() => undefined);
    expect((heard.get(honest.sw.nodeId) ?? 0) - 1, "the honest node's candidates at the page").toBe(CANDIDATES);
  }, 30_000);
});
