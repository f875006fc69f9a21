import { BoundedMap } from '../../src/util/bounded-map.js';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import type { ProtocolError } from '../../src/errors.js';
import { SIGNAL_CHANNEL_ID, SIGNAL_RELAYED_SENDERS_TRACKED_PER_RELAY } from '../../src/webrtc/constants.js';
import { encodeSignalMessage, type SignalData } from '../../src/webrtc/signal-messages.js';
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

  it('gives one sender through a relay no more of its allowance than it could send directly, so another sender through it is still heard', async () => {
    const network = new MemoryNetwork();
    const heard: string[] = [];
    // Allowance of the relay: 10 × 4 = 40 signals; one sender's share: 4 (the refill is negligible).
    const victimAgent = new SignalAgent({ burstMessages: 4, ratePerSecond: 0.001, onSignal: ({ from }) => heard.push(from) });
    const victim = await node(network, 'v', victimAgent);
    // A relay with higher limits than ours forwards all the flooder sends.
    const relayAgent = new SignalAgent({ burstMessages: 1000 });
    const relay = await node(network, 'r', relayAgent);
    await victim.dial(relay.addresses[0]!);
    const flooder = await node(network, 'f', new SignalAgent());
    const viaRelay = await flooder.dial(relay.addresses[0]!);
    for (let i = 0; i < 60; i++) viaRelay.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: flooder.nodeId, to: victim.nodeId, data: OFFER }));
    // The relay paces what it forwards to the victim to what the victim announced (bounded below: 10 at
    // once, 7 of them for one sender); of what it forwards, the victim drops what is past the sender's share.
    await waitFor(() => victimAgent.stats.delivered + victimAgent.stats.dropped + relayAgent.stats.paced === 60, 3000, 'the flood to arrive');
    expect(victimAgent.stats.delivered, 'the flooder\'s signals taken').toBe(4);
    const honest = await node(network, 'h', new SignalAgent());
    const honestViaRelay = await honest.dial(relay.addresses[0]!);
    honestViaRelay.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: honest.nodeId, to: victim.nodeId, data: OFFER }));
    await waitFor(() => heard.includes(honest.nodeId), 3000, 'the honest sender to be heard through the same relay');
    expect(victim.getPeer(relay.nodeId)).toBeDefined();
  });

  it(`tracks the shares of at most ${SIGNAL_RELAYED_SENDERS_TRACKED_PER_RELAY} senders per relay, however many ids it names`, async () => {
    const network = new MemoryNetwork();
    const victimAgent = new SignalAgent();
    const victim = await node(network, 'v', victimAgent);
    const relay = await node(network, 'r', new SignalAgent());
    const toRelay = await victim.dial(relay.addresses[0]!);
    // A relay names whatever senders it likes: here made-up ones, each signalling once.
    const toVictim = relay.getPeer(victim.nodeId)!;
    const senders = SIGNAL_RELAYED_SENDERS_TRACKED_PER_RELAY + 36;
    for (let i = 0; i < senders; i++) toVictim.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: generateNodeKey().nodeId, to: victim.nodeId, data: OFFER }));
    await waitFor(() => victimAgent.stats.delivered === senders, 5000, 'a signal from every sender');
    const tables = [...toRelay.data.values()].filter((value): value is BoundedMap<unknown, unknown> => value instanceof BoundedMap);
    expect(tables.map((table) => table.size)).toEqual([SIGNAL_RELAYED_SENDERS_TRACKED_PER_RELAY]);
  });

  it.each(['memory', 'tcp'] as const)('lets the signals of a negotiation under way through a relay whose allowance a flood of other senders used up (%s)', async (over) => {
    const network = over === 'tcp' ? 'tcp' : new MemoryNetwork();
    RecordingPeer.made.length = 0;
    const rtc = new WebRtcTransport({ createPeer: ({ initiator }) => new RecordingPeer(initiator), signal: { burstMessages: 4, ratePerSecond: 0.001 } });
    const victim = await node(network, 'victim', rtc.signalAgent, [rtc]);
    const relay = await node(network, 'relay', new SignalAgent({ burstMessages: 1000 }));
    const remoteAgent = new SignalAgent();
    const remote = await node(network, 'remote', remoteAgent);
    await victim.dial(relay.addresses[0]!);
    await remote.dial(relay.addresses[0]!);
    const dial = victim.dial(`webrtc://${remote.nodeId}?via=${relay.nodeId}`).catch((error: unknown) => error);
    await waitFor(() => RecordingPeer.made.some((p) => p.initiator), 5000, 'our dial to start');
    // Twelve senders with 4 signals each: the relay's allowance at the victim (10 × 4) is spent.
    for (let i = 0; i < 12; i++) {
      const sender = await node(network, `flood-${i}`, new SignalAgent());
      const peer = await sender.dial(relay.addresses[0]!);
      for (let j = 0; j < 4; j++) peer.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: sender.nodeId, to: victim.nodeId, data: { type: 'candidate', candidate: { candidate: `c${j}` } } }));
    }
    const stats = rtc.signalAgent.stats;
    await waitFor(() => stats.delivered + stats.dropped === 48, 3000, 'the flood to arrive');
    expect(stats.dropped, 'signals over the relay\'s allowance').toBeGreaterThan(0);
    expect(remoteAgent.sendSignal(relay.nodeId, victim.nodeId, { type: 'answer', sdp: 'v=0 remote' })).toBe(true);
    const ours = RecordingPeer.made.find((p) => p.initiator)!;
    await waitFor(() => ours.signals.some((d) => d.type === 'answer'), 3000, 'the answer to reach our negotiation');
    await rtc.close();
    await dial;
  });

  it('answers at most maxPendingAcceptsPerSender offers from one sender across the relays of one host, and one per relay', async () => {
    // Over TCP, every node on 127.0.0.1: the relays are one host (in memory, each is one of its own).
    const network = 'tcp';
    const rtc = new WebRtcTransport({ createPeer: () => new SilentPeer(), maxPendingAcceptsPerSender: 2 });
    const victim = await node(network, 'victim', rtc.signalAgent, [rtc]);
    const relays = [await node(network, 'r1', new SignalAgent()), await node(network, 'r2', new SignalAgent()), await node(network, 'r3', new SignalAgent())];
    const sender = await node(network, 'sender', new SignalAgent());
    for (const relay of relays) {
      await victim.dial(relay.addresses[0]!);
      const viaRelay = await sender.dial(relay.addresses[0]!);
      // Offering again through the same relay joins the negotiation there: still one slot.
      for (let i = 0; i < 3; i++) viaRelay.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: sender.nodeId, to: victim.nodeId, data: OFFER }));
    }
    await waitFor(() => rtc.signalAgent.stats.delivered === 9, 3000, 'every offer delivered');
    const counts = rtc.pendingAcceptCounts();
    expect(counts.byRemote.get(sender.nodeId)).toBe(2);
    expect([...counts.byVia.values()]).toEqual([1, 1]);
    // Another sender through the relay left out is answered.
    const other = await node(network, 'other', new SignalAgent());
    const otherViaR3 = await other.dial(relays[2]!.addresses[0]!);
    otherViaR3.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: other.nodeId, to: victim.nodeId, data: OFFER }));
    await waitFor(() => rtc.pendingAcceptCounts().byRemote.get(other.nodeId) === 1, 3000, 'the other sender answered');
    expect(rtc.pendingAcceptCounts().total).toBe(3);
    await rtc.close();
  });
});

/** A stand-in simple-peer that records the signals handed to it. */
class RecordingPeer extends SilentPeer {
  static made: RecordingPeer[] = [];
  readonly signals: SignalData[] = [];
  constructor(readonly initiator = false) {
    super();
    RecordingPeer.made.push(this);
  }
  override signal(data?: SignalData): void {
    if (data !== undefined) this.signals.push(data);
  }
}
