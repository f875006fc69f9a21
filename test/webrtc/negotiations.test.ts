/**
 * WebRTC negotiations in flight (src/webrtc/negotiations.ts), ours and answered, over memory links with
 * a stand-in simple-peer that never connects: the caps on each kind, in all and per relay, and every
 * way one ends before its data channel opens (the caller's abort, the relay leaving, the answer's
 * deadline, glare, the transport closing), each closing its RTCPeerConnection and giving its slot back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { ClosedError, TransportError } from '../../src/errors.js';
import { Switch } from '../../src/switch/switch.js';
import { parseAddress } from '../../src/transport/address.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { encodeSignalMessage } from '../../src/webrtc/signal-messages.js';
import { WebRtcTransport, type WebRtcTransportOptions } from '../../src/webrtc/webrtc-transport.js';
import { waitFor, within } from '../helpers/wait.js';
import { node, OFFER, SilentPeer, stopNodes } from './signalling-scene.js';

afterEach(stopNodes);

/** RTCPeerConnections made and closed since the call. */
function peerCounter(): () => { created: number; destroyed: number } {
  const start = { created: SilentPeer.created, destroyed: SilentPeer.destroyed };
  return () => ({ created: SilentPeer.created - start.created, destroyed: SilentPeer.destroyed - start.destroyed });
}

/** A node with the WebRTC transport, connected to `relays` fresh relays. */
async function scene(relays: number, options: Partial<WebRtcTransportOptions> = {}) {
  const network = new MemoryNetwork();
  const rtc = new WebRtcTransport({ createPeer: () => new SilentPeer(), ...options });
  const sw = await node(network, 'us', rtc.signalAgent, [rtc]);
  const relayNodes: Switch[] = [];
  for (let i = 0; i < relays; i++) {
    const relay = await node(network, `relay-${i}`, new SignalAgent());
    await sw.dial(relay.addresses[0]!);
    relayNodes.push(relay);
  }
  return { network, rtc, sw, relays: relayNodes };
}

function rtcAddress(target: string, via: Switch): ReturnType<typeof parseAddress> {
  return parseAddress(`webrtc://${target}?via=${via.nodeId}`);
}

async function failureOf(dial: Promise<unknown>): Promise<unknown> {
  return within(dial.then(() => 'connected', (error: unknown) => error), 5000, 'the dial to fail');
}

describe('WebRTC negotiations', () => {
  it('hold at most maxPendingDialsPerVia of our dials through one relay and maxPendingDials in all; the rest fail at once', async () => {
    const { rtc, relays } = await scene(2, { maxPendingDials: 3, maxPendingDialsPerVia: 2 });
    const [r1, r2] = relays as [Switch, Switch];
    const peers = peerCounter();
    const caller = new AbortController();
    const dial = (via: Switch) => rtc.dial(rtcAddress(generateNodeKey().nodeId, via), { signal: caller.signal });
    const held = [dial(r1), dial(r1), dial(r2)];
    const overRelay = await failureOf(dial(r1));
    expect(overRelay).toBeInstanceOf(TransportError);
    expect(overRelay).toMatchObject({ detail: { reason: 'pending-dials', via: r1.nodeId } });
    const overTotal = await failureOf(dial(r2));
    expect(overTotal).toMatchObject({ message: 'Too many WebRTC dials in flight (3)', detail: { reason: 'pending-dials', via: r2.nodeId } });
    expect(peers()).toEqual({ created: 3, destroyed: 0 }); // a refused dial makes no RTCPeerConnection

    caller.abort(new Error('caller gave up'));
    const outcomes = await within(Promise.allSettled(held), 5000, 'the held dials to end');
    expect(outcomes.map((outcome) => outcome.status === 'rejected' && (outcome.reason as Error).message)).toEqual(['caller gave up', 'caller gave up', 'caller gave up']);
    expect(peers()).toEqual({ created: 3, destroyed: 3 });

    // The slots are free again; closing the transport ends what is left.
    const again = rtc.dial(rtcAddress(generateNodeKey().nodeId, r1));
    await rtc.close();
    expect(await failureOf(again)).toBeInstanceOf(ClosedError);
    expect(peers()).toEqual({ created: 4, destroyed: 4 });
  });

  it('fail our dials through a relay that disconnects (relay-gone), and only those', async () => {
    const { rtc, relays } = await scene(2);
    const [r1, r2] = relays as [Switch, Switch];
    const peers = peerCounter();
    const target = generateNodeKey().nodeId;
    const throughR1 = rtc.dial(rtcAddress(target, r1));
    const throughR2 = rtc.dial(rtcAddress(target, r2));
    await r1.stop();
    expect(await failureOf(throughR1)).toMatchObject({ name: 'TransportError', detail: { reason: 'relay-gone', via: r1.nodeId } });
    expect(peers()).toEqual({ created: 2, destroyed: 1 });
    // The one through r2 is still negotiating: a second dial of it is refused as in progress.
    expect(await failureOf(rtc.dial(rtcAddress(target, r2)))).toMatchObject({ message: expect.stringMatching(/in progress/) });
    await rtc.close();
    expect(await failureOf(throughR2)).toBeInstanceOf(ClosedError);
    expect(peers()).toEqual({ created: 2, destroyed: 2 });
  });

  it('drop an answered offer that does not connect within acceptTimeoutMs, and give its slot back', async () => {
    const { network, rtc, sw, relays } = await scene(1, { acceptTimeoutMs: 300, maxPendingAccepts: 1 });
    const relay = relays[0]!;
    const agent = sw.getAgent<SignalAgent>('signal')!;
    const peers = peerCounter();
    // Senders connect to the relay first: the second offer must come within the first one's 300 ms,
    // which a handshake made in between could outlast on a loaded machine.
    const senderTo = async (name: string): Promise<() => void> => {
      const sender = await node(network, name, new SignalAgent());
      const toRelay = await sender.dial(relay.addresses[0]!);
      return () => void toRelay.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: sender.nodeId, to: sw.nodeId, data: OFFER }));
    };
    const [first, second, third] = [await senderTo('first'), await senderTo('second'), await senderTo('third')];
    first();
    await waitFor(() => rtc.pendingAcceptCounts().total === 1, 3000, 'the first offer to be answered');
    second();
    await waitFor(() => agent.stats.delivered === 2, 3000, 'the second offer to arrive');
    expect(peers()).toEqual({ created: 1, destroyed: 0 }); // over maxPendingAccepts: ignored
    await waitFor(() => rtc.pendingAcceptCounts().total === 0, 5000, 'the unconnected answer to be dropped');
    expect(peers()).toEqual({ created: 1, destroyed: 1 });
    third();
    await waitFor(() => rtc.pendingAcceptCounts().total === 1, 3000, 'the freed slot to take the next offer');
    expect(peers().created).toBe(2);
  });

  it("give a full table's slot to an offer through a network holding two fewer: the busiest network's oldest answer is closed, and no two networks take turns", async () => {
    // Over memory links each relay is a network of its own.
    const { rtc, sw, relays } = await scene(3, { maxPendingAccepts: 4, maxPendingAcceptsPerVia: 2 });
    const [r1, r2, r3] = relays as [Switch, Switch, Switch];
    const peers = peerCounter();
    const ids = new Map<string, string>();
    const offerThrough = async (relay: Switch, sender: string): Promise<void> => {
      const delivered = sw.getAgent<SignalAgent>('signal')!.stats.delivered;
      const from = generateNodeKey().nodeId;
      ids.set(from, sender);
      relay.getPeer(sw.nodeId)!.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from, to: sw.nodeId, data: OFFER }));
      await waitFor(() => sw.getAgent<SignalAgent>('signal')!.stats.delivered > delivered, 3000, `the offer from ${sender}`);
    };
    const answering = (): string[] => [...rtc.pendingAcceptCounts().byRemote.keys()].map((id) => ids.get(id)!).sort();
    for (const [relay, from] of [[r1, 'a1'], [r1, 'a2'], [r2, 'b1'], [r2, 'b2']] as const) await offerThrough(relay, from);
    expect(answering()).toEqual(['a1', 'a2', 'b1', 'b2']);
    // r3 holds none, r1 and r2 two each: the oldest of theirs goes.
    await offerThrough(r3, 'c1');
    expect(answering()).toEqual(['a2', 'b1', 'b2', 'c1']);
    expect(peers()).toEqual({ created: 5, destroyed: 1 });
    // r1 now holds one fewer than r2, not two: its offer is ignored, as is r3's second.
    await offerThrough(r1, 'a3');
    await offerThrough(r3, 'c2');
    expect(answering()).toEqual(['a2', 'b1', 'b2', 'c1']);
    expect(peers()).toEqual({ created: 5, destroyed: 1 });
  });

  it('resolve glare by node id: our dial yields to an offer from a lower id and stands against a higher one', async () => {
    const [low, mid, high] = [generateNodeKey(), generateNodeKey(), generateNodeKey()].sort((x, y) => (x.nodeId < y.nodeId ? -1 : 1)) as [
      ReturnType<typeof generateNodeKey>,
      ReturnType<typeof generateNodeKey>,
      ReturnType<typeof generateNodeKey>,
    ];
    const network = new MemoryNetwork();
    const rtc = new WebRtcTransport({ createPeer: () => new SilentPeer() });
    const us = await node(network, 'us', rtc.signalAgent, [rtc], mid);
    const relay = await node(network, 'relay', new SignalAgent());
    await us.dial(relay.addresses[0]!);
    const lower = await node(network, 'lower', new SignalAgent(), [], low);
    const higher = await node(network, 'higher', new SignalAgent(), [], high);
    const toLower = rtc.dial(rtcAddress(lower.nodeId, relay));
    const toHigher = rtc.dial(rtcAddress(higher.nodeId, relay));
    for (const other of [lower, higher]) {
      const toRelay = await other.dial(relay.addresses[0]!);
      toRelay.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: other.nodeId, to: us.nodeId, data: OFFER }));
    }
    expect(await failureOf(toLower)).toMatchObject({ name: 'TransportError', detail: { reason: 'glare' } });
    await waitFor(() => us.getAgent<SignalAgent>('signal')!.stats.delivered === 2, 3000, 'both offers to arrive');
    expect(rtc.pendingAcceptCounts()).toMatchObject({ total: 1, byVia: new Map([[relay.nodeId, 1]]), byRemote: new Map([[lower.nodeId, 1]]) });
    expect(await failureOf(rtc.dial(rtcAddress(higher.nodeId, relay)))).toMatchObject({ message: expect.stringMatching(/in progress/) });
    await rtc.close();
    expect(await failureOf(toHigher)).toBeInstanceOf(ClosedError);
  });

  it('keep our dial against an offer from a lower id when we take no offers (not listening on webrtc): yielding would leave neither dial', async () => {
    const [low, high] = [generateNodeKey(), generateNodeKey()].sort((x, y) => (x.nodeId < y.nodeId ? -1 : 1)) as [ReturnType<typeof generateNodeKey>, ReturnType<typeof generateNodeKey>];
    const network = new MemoryNetwork();
    const rtc = new WebRtcTransport({ createPeer: () => new SilentPeer() });
    // Dials over WebRTC but does not listen on it: it never answers an offer.
    const us = new Switch({ identity: high, network: 'signal-rules', transports: [network.transport(), rtc], listen: ['memory://us'] });
    us.addAgent('signal', rtc.signalAgent);
    await us.start();
    try {
      const relay = await node(network, 'relay', new SignalAgent());
      await us.dial(relay.addresses[0]!);
      const lower = await node(network, 'lower', new SignalAgent(), [], low);
      const dial = rtc.dial(rtcAddress(lower.nodeId, relay));
      const outcome = dial.then(() => 'connected', (error: unknown) => error);
      const toRelay = await lower.dial(relay.addresses[0]!);
      toRelay.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: lower.nodeId, to: us.nodeId, data: OFFER }));
      await waitFor(() => rtc.signalAgent.stats.delivered === 1, 3000, 'the offer to arrive');
      // Before: our dial failed at once as glare, and the offer went unanswered.
      expect(await Promise.race([outcome, new Promise((resolve) => setTimeout(() => resolve('pending'), 300))])).toBe('pending');
      expect(rtc.pendingAcceptCounts().total).toBe(0);
      await rtc.close();
      expect(await failureOf(dial)).toBeInstanceOf(ClosedError);
    } finally {
      await us.stop();
    }
  });
});
