import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { CANDIDATE, OFFER, pageBehindRelay, SIGNALS_PER_ANSWER, stopNodes } from '../webrtc/signalling-scene.js';

/**
 * A relay forwarding to a peer that dialled it (a page that chose it as its relay). Past its relayed
 * allowance (ten times what it announced) and one sender's share of it (what it announced), that peer
 * drops what is not part of a negotiation it has under way; before, the relay forwarded everything at
 * once, so flooders' signals crossed the page's link only to be dropped there. Now the relay paces them
 * to that peer as it does to a peer it dialled, except the signals of nodes the peer itself signalled
 * through it (its negotiations), which go at once. Over TCP on 127.0.0.1.
 */
afterEach(stopNodes);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const FLOODERS = 12;

describe('a relay forwarding to a peer that dialled it', () => {
  it('paces flooders to what that peer takes, and still passes its negotiations at once', async () => {
    const { relay, relayAgent, page, pageAgent, heard, negotiating, joined } = await pageBehindRelay();
    // A node the page dials through the relay, and one that dials the page through it.
    const dialled = await joined('dialled');
    const dialler = await joined('dialler');
    const flooders = await Promise.all(Array.from({ length: FLOODERS }, (_, i) => joined(`flooder-${i}`)));
    negotiating.add(dialled.sw.nodeId);
    expect(pageAgent.sendSignal(relay.nodeId, dialled.sw.nodeId, OFFER)).toBe(true);
    await waitFor(() => relayAgent.stats.relayed >= 1, 3000, 'the page\'s offer relayed');

    // The dialler's offer and candidates, before any flood: the page takes the offer from its allowance,
    // then the candidates as its negotiation's.
    negotiating.add(dialler.sw.nodeId);
    for (let i = 0; i < SIGNALS_PER_ANSWER; i++) dialler.agent.sendSignal(relay.nodeId, page.nodeId, i === 0 ? OFFER : CANDIDATE);
    await waitFor(() => (heard.get(dialler.sw.nodeId) ?? 0) >= SIGNALS_PER_ANSWER, 3000, 'the dialler\'s offer and candidates');
    // Each flooder sends what the relay takes from it (20/s, burst 100; its pace 3/4 of that).
    for (const { agent } of flooders) for (let i = 0; i < 100; i++) agent.sendSignal(relay.nodeId, page.nodeId, CANDIDATE);
    await sleep(300);
    for (let i = 0; i < SIGNALS_PER_ANSWER; i++) {
      expect(dialled.agent.sendSignal(relay.nodeId, page.nodeId, i === 0 ? { type: 'answer', sdp: 'v=0 answer' } : CANDIDATE)).toBe(true);
    }
    await waitFor(() => (heard.get(dialled.sw.nodeId) ?? 0) >= SIGNALS_PER_ANSWER, 3000, 'the answer').catch(() => undefined);
    await sleep(3_000);
    expect(heard.get(dialled.sw.nodeId) ?? 0, 'the answer and candidates of the node the page dialled').toBe(SIGNALS_PER_ANSWER);
    // Before: ~850 of the flooders' 1,200 crossed the page's link only to be dropped there.
    const droppedAtPage = pageAgent.stats.dropped;
    console.log(`flooders' signals: ${droppedAtPage} dropped at the page, ${relayAgent.stats.paced} paced at the relay, ${[...heard].filter(([from]) => from !== dialled.sw.nodeId && from !== dialler.sw.nodeId).reduce((sum, [, n]) => sum + n, 0)} taken`);
    expect(droppedAtPage).toBeLessThanOrEqual(FLOODERS);
    expect(relayAgent.stats.paced).toBeGreaterThan(FLOODERS * 50);
    expect(page.getPeer(relay.nodeId), 'the page keeps its relay').toBeDefined();
    for (const { sw } of [dialled, dialler, ...flooders]) expect(sw.getPeer(relay.nodeId), 'the relay keeps every sender').toBeDefined();
  }, 30_000);
});
