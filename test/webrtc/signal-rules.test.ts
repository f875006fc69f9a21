import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import type { ProtocolError } from '../../src/errors.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { encodeSignalMessage } from '../../src/webrtc/signal-messages.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import type { Switch } from '../../src/switch/switch.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { waitFor } from '../helpers/wait.js';
import { node, OFFER, SilentPeer, stopNodes } from './signalling-scene.js';

/**
 * The signalling rules, over the in-memory transport (the real WebRTC transport has its own tests in
 * webrtc.test.ts and mesh.test.ts). Offers are answered by a stand-in simple-peer that never connects:
 * what is under test is who may signal what, and how much.
 */
afterEach(stopNodes);

function errorOf(sw: Switch): Promise<Error> {
  return new Promise((resolve) => sw.on('peer:error', ({ error }) => resolve(error)));
}

describe('signalling rules (SignalAgent and WebRtcTransport over memory links)', () => {
  it('stops an inbound peer that names another node as the sender: ERR_SPOOFED_SENDER', async () => {
    const network = new MemoryNetwork();
    const victim = await node(network, 'victim', new SignalAgent());
    const liar = await node(network, 'liar', new SignalAgent());
    const failed = errorOf(victim);
    const peer = await liar.dial(victim.addresses[0]!);
    peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: generateNodeKey().nodeId, to: victim.nodeId, data: OFFER }));
    expect(((await failed) as ProtocolError).code).toBe('ERR_SPOOFED_SENDER');
  });

  it('stops a peer that originates more than its burst, but only drops the excess a relay we dialled forwards', async () => {
    const network = new MemoryNetwork();
    const victimAgent = new SignalAgent({ burstMessages: 5, ratePerSecond: 1 });
    const victim = await node(network, 'v', victimAgent);
    const relay = await node(network, 'r', new SignalAgent());
    const flooder = await node(network, 'f', new SignalAgent());
    await victim.dial(relay.addresses[0]!); // the relay is outbound for the victim: its forwards are relayed traffic
    const viaRelay = await flooder.dial(relay.addresses[0]!);
    for (let i = 0; i < 200; i++) viaRelay.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: flooder.nodeId, to: victim.nodeId, data: OFFER }));
    await waitFor(() => victimAgent.stats.dropped > 0, 3000, 'relayed excess to be dropped');
    expect(victim.getPeer(relay.nodeId)).toBeDefined();
    expect(victimAgent.stats.delivered).toBeLessThanOrEqual(5 * 10 + 2);

    const failed = errorOf(victim);
    const direct = await flooder.dial(victim.addresses[0]!);
    for (let i = 0; i < 20; i++) direct.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: flooder.nodeId, to: victim.nodeId, data: OFFER }));
    expect(((await failed) as ProtocolError).code).toBe('ERR_RATE_LIMIT');
    expect(victim.getPeer(relay.nodeId)).toBeDefined();
  });

  it('forwards only between two of its own peers, and answers `unreachable` otherwise', async () => {
    const network = new MemoryNetwork();
    const relayAgent = new SignalAgent();
    const relay = await node(network, 'relay', relayAgent);
    const a = await node(network, 'a', new SignalAgent());
    const bAgent = new SignalAgent();
    const b = await node(network, 'b', bAgent);
    const unreachable: string[] = [];
    const aAgent = a.getAgent<SignalAgent>('signal')!;
    aAgent.setHandlers({ onUnreachable: (_via, target) => unreachable.push(target) });
    await a.dial(relay.addresses[0]!);
    expect(aAgent.sendSignal(relay.nodeId, b.nodeId, OFFER)).toBe(true);
    await waitFor(() => unreachable.length === 1, 2000, 'unreachable reply');
    expect(relayAgent.stats.relayed).toBe(0);
    await b.dial(relay.addresses[0]!);
    const heard: string[] = [];
    bAgent.setHandlers({ onSignal: ({ from, via }) => heard.push(`${from}/${via}`) });
    expect(aAgent.sendSignal(relay.nodeId, b.nodeId, OFFER)).toBe(true);
    await waitFor(() => heard.length === 1, 2000, 'forwarded signal');
    expect(heard[0]).toBe(`${a.nodeId}/${relay.nodeId}`);
    expect(relayAgent.stats.relayed).toBe(1);
  });

  it('answers at most maxPendingAcceptsPerVia offers per relay, so offers through another relay still get answered', async () => {
    const network = new MemoryNetwork();
    const rtc = new WebRtcTransport({ createPeer: () => new SilentPeer(), maxPendingAcceptsPerVia: 3, maxPendingAccepts: 10, signal: { burstMessages: 1000 } });
    const victim = await node(network, 'victim', rtc.signalAgent, [rtc]);
    const [r1, r2] = [await node(network, 'r1', new SignalAgent()), await node(network, 'r2', new SignalAgent())];
    await victim.dial(r1.addresses[0]!);
    await victim.dial(r2.addresses[0]!);
    // Twenty senders behind r1 (an attacker's keys cost nothing), each offering once: r1 gets 3 slots.
    for (let i = 0; i < 20; i++) {
      const fake = await node(network, `fake-${i}`, new SignalAgent());
      const peer = await fake.dial(r1.addresses[0]!);
      peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: fake.nodeId, to: victim.nodeId, data: OFFER }));
    }
    await waitFor(() => rtc.pendingAcceptCounts().byVia.get(r1.nodeId) === 3, 3000, 'r1 to hold its 3 slots');
    const honest = await node(network, 'honest', new SignalAgent());
    const toR2 = await honest.dial(r2.addresses[0]!);
    toR2.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: honest.nodeId, to: victim.nodeId, data: OFFER }));
    await waitFor(() => rtc.pendingAcceptCounts().byVia.get(r2.nodeId) === 1, 3000, 'the offer through r2 to be answered');
    expect(rtc.pendingAcceptCounts().total).toBe(4);
    await rtc.close();
    expect(rtc.pendingAcceptCounts().total).toBe(0);
    expect(SilentPeer.destroyed).toBe(SilentPeer.created);
  });
});
