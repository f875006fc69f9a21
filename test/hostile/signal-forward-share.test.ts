import { afterEach, describe, expect, it } from 'vitest';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { waitFor } from '../helpers/wait.js';
import { CANDIDATE, node, OFFER, SIGNALS_PER_ANSWER, stopNodes } from '../webrtc/signalling-scene.js';

/**
 * A relay forwards to a peer it dialled at that peer's relayed pace (ten times what it announced, 3/4 of
 * it), one lane for all senders. Nodes that peer dials through the relay (addresses the relay itself hands
 * out) may flood it: each within what the relay takes from it, together past the lane. Each sender has a
 * share of the lane, so the others' negotiations through the relay still go. Over TCP on 127.0.0.1.
 */
afterEach(stopNodes);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a relay forwarding to a peer it dialled', () => {
  it('four flooders that peer dialled through the relay leave an honest node\'s answer its way: 14 of 14 arrive (before: the flooders spent the lane, the answer was dropped at the relay)', async () => {
    const relayAgent = new SignalAgent();
    const relay = await node('tcp', 'relay', relayAgent);
    const heard = new Map<string, number>();
    // A node with lower limits (4/s, burst 30: its relayed pace at the relay is 30/s, burst 225), dialling
    // five nodes through the relay; their signals are of negotiations under way there.
    const targetAgent = new SignalAgent({
      ratePerSecond: 4,
      burstMessages: 30,
      inNegotiation: () => true,
      onSignal: ({ from }) => void heard.set(from, (heard.get(from) ?? 0) + 1),
    });
    const target = await node('tcp', 'target', targetAgent);
    await relay.dial(target.addresses[0]!);
    const dialled = await Promise.all(Array.from({ length: 5 }, async (_, index) => {
      const agent = new SignalAgent({ relay: false });
      const sw = await node('tcp', `dialled-${index}`, agent);
      await sw.dial(relay.addresses[0]!);
      return { sw, agent };
    }));
    for (const { sw } of dialled) expect(targetAgent.sendSignal(relay.nodeId, sw.nodeId, OFFER)).toBe(true);
    await waitFor(() => relayAgent.stats.relayed >= dialled.length, 3000, 'the offers relayed');
    const [honest, ...flooders] = dialled;
    // Each flooder sends what the relay takes from it (20/s, burst 100; its pace 3/4 of that), for 2 s.
    for (const { agent } of flooders) for (let i = 0; i < 100; i++) agent.sendSignal(relay.nodeId, target.nodeId, CANDIDATE);
    await sleep(300);
    for (let i = 0; i < SIGNALS_PER_ANSWER; i++) {
      expect(honest!.agent.sendSignal(relay.nodeId, target.nodeId, i === 0 ? { type: 'answer', sdp: 'v=0 answer' } : CANDIDATE)).toBe(true);
    }
    await waitFor(() => (heard.get(honest!.sw.nodeId) ?? 0) >= SIGNALS_PER_ANSWER, 1500, 'the honest answer').catch(() => undefined);
    expect(heard.get(honest!.sw.nodeId) ?? 0, 'the honest node\'s answer and candidates, all at the target').toBe(SIGNALS_PER_ANSWER);
    expect(target.getPeer(relay.nodeId), 'the target keeps the relay').toBeDefined();
    for (const { sw } of dialled) expect(sw.getPeer(relay.nodeId), 'the relay keeps every sender').toBeDefined();
  });
});
