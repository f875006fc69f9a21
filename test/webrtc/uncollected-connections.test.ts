import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { isOwnDialLimit, TransportError } from '../../src/errors.js';
import { parseAddress } from '../../src/transport/address.js';
import type { Switch } from '../../src/switch/switch.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { encodeSignalMessage } from '../../src/webrtc/signal-messages.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { UncollectedConnections } from '../../src/webrtc/uncollected-connections.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { node, OFFER, offeringPeer, SilentPeer, stopNodes } from './signalling-scene.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopNodes);

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** A stand-in simple-peer holding a stand-in RTCPeerConnection, as simple-peer holds `_pc`. */
function fakePeer(): SimplePeerLike {
  return { _pc: {} } as unknown as SimplePeerLike;
}

async function collected(): Promise<void> {
  collectGarbage();
  // FinalizationRegistry callbacks run in a task after the collection.
  await new Promise((resolve) => setTimeout(resolve, 10));
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('UncollectedConnections', () => {
  it('counts answers (per relay network too) and dials apart until the collector frees their RTCPeerConnections', async () => {
    const uncollected = new UncollectedConnections();
    let held: SimplePeerLike[] = [fakePeer(), fakePeer(), fakePeer()];
    uncollected.track(held[0]!, false, 'net-a');
    uncollected.track(held[1]!, false, 'net-b');
    uncollected.track(held[2]!, true, undefined);
    const counts = (): number[] => [uncollected.count(false), uncollected.answersThrough('net-a'), uncollected.answersThrough('net-b'), uncollected.count(true)];
    expect(counts()).toEqual([2, 1, 1, 1]);
    await collected();
    expect(counts()).toEqual([2, 1, 1, 1]); // still referenced
    const pcOfDial = held[2]!._pc;
    const answerThroughB = held[1];
    held = [];
    await collected();
    // The dial's RTCPeerConnection is still reachable (simple-peer may drop its peer first): still counted.
    expect(counts()).toEqual([1, 0, 1, 1]);
    expect([pcOfDial, answerThroughB]).toHaveLength(2);
  });

  it('fails our dials past maxUncollectedDials at once, as our own limit (the address is not backed off), until the collector frees some', async () => {
    const network = new MemoryNetwork();
    const relay = await node(network, 'relay', new SignalAgent());
    const rtc = new WebRtcTransport({ createPeer: ({ initiator }) => offeringPeer(initiator), maxUncollectedDials: 3 });
    const page = await node(network, 'page', rtc.signalAgent, [rtc]);
    await page.dial(`memory://${relay.nodeId}@relay`);
    // Made-up nodes: the relay answers `unreachable`, so each dial fails at once and frees its slot.
    const dialMadeUp = (): Promise<unknown> => rtc.dial(parseAddress(`webrtc://${generateNodeKey().nodeId}?via=${relay.nodeId}`)).then(() => 'linked', (error: unknown) => error);
    const reasons: unknown[] = [];
    for (let i = 0; i < 4; i++) reasons.push(((await dialMadeUp()) as TransportError).detail['reason']);
    // Before: a fourth RTCPeerConnection (in a browser, one more toward its 500).
    expect(reasons).toEqual(['unreachable', 'unreachable', 'unreachable', 'dial-budget']);
    const refused = await dialMadeUp();
    expect(refused).toBeInstanceOf(TransportError);
    expect(isOwnDialLimit(refused)).toBe(true);
    await collected();
    expect(((await dialMadeUp()) as TransportError).detail['reason']).toBe('unreachable');
  });

  it('leaves room under maxUncollectedAnswers as more networks hold answers: a share each and a seat for newcomers', () => {
    const uncollected = new UncollectedConnections();
    const kept: SimplePeerLike[] = [];
    /** Answers through `group` while it may take them (at most `tries`); how many it took. */
    const storm = (group: string, tries = 300): number => {
      let taken = 0;
      while (taken < tries && uncollected.mayAnswerThrough(group, 200, 50)) {
        kept.push(fakePeer());
        uncollected.track(kept.at(-1)!, false, group);
        taken++;
      }
      return taken;
    };
    // One network: its 50 (the per-network cap), as before.
    expect(storm('net-1')).toBe(50);
    // Three more at once, one answer each in turn: a share of 200 among the four and a seat each (40),
    // and the four together no more than 160 (k/(k+1) of it), not 200 (50 each).
    const others = ['net-2', 'net-3', 'net-4'];
    for (let round = 0; round < 60; round++) for (const group of others) storm(group, 1);
    expect(others.map((group) => uncollected.answersThrough(group))).toEqual([37, 37, 36]);
    expect(uncollected.count(false)).toBe(160);
    // A network new to it takes its first from the seat left free; then, below its share (33 among
    // five and a seat), more, up to 200 less a seat (167), while the stormers, past theirs, take none.
    expect(storm('honest', 1)).toBe(1);
    expect(['net-1', ...others].some((group) => uncollected.mayAnswerThrough(group, 200, 50))).toBe(false);
    expect(storm('honest')).toBe(6);
    // Each network new to it grows the seats: a sixth takes its first and more, up to 200 less 28 (172).
    expect(storm('another')).toBe(5);
    expect(kept).toHaveLength(172);
  });

  it('answers an offer through a fifth network while relays of four storm a page past 200 uncollected answers', async () => {
    const network = new MemoryNetwork();
    const kept: SimplePeerLike[] = [];
    const createPeer = (): SimplePeerLike => {
      const peer = new SilentPeer();
      kept.push(peer); // never collected while the test runs
      return peer;
    };
    const raised = { maxNewAnswersPerMinute: 100_000, maxNewAnswersPerMinutePerVia: 100_000, maxNewAnswersPerMinutePerNetwork: 100_000 };
    const rtc = new WebRtcTransport({ createPeer, acceptTimeoutMs: 20, maxUncollectedAnswers: 200, maxUncollectedAnswersPerNetwork: 50, ...raised });
    const page = await node(network, 'page', rtc.signalAgent, [rtc]);
    const relays: Switch[] = [];
    for (let i = 0; i < 5; i++) {
      const relay = await node(network, `relay-${i}`, new SignalAgent());
      await page.dial(`memory://${relay.nodeId}@relay-${i}`);
      relays.push(relay);
    }
    // In-memory relays are a network each. Four send offers from made-up senders that never connect.
    const offerThrough = (relay: Switch): boolean => relay.getPeer(page.nodeId)!.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: generateNodeKey().nodeId, to: page.nodeId, data: OFFER }));
    const timers = relays.slice(0, 4).map((relay) => setInterval(() => {
      for (let i = 0; i < 8; i++) offerThrough(relay);
    }, 25));
    try {
      // Until the storm makes no more (its slots cycle every 20 ms, the accept timeout).
      await waitFor(() => kept.length >= 150, 10_000, 'the storm answered');
      for (let last = -1; last !== kept.length; ) {
        last = kept.length;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      const stormed = kept.length;
      offerThrough(relays[4]!);
      await new Promise((resolve) => setTimeout(resolve, 300));
      console.log(`relays of 4 networks storming: ${stormed} answering RTCPeerConnections made, none collected; an offer through a fifth network: ${kept.length - stormed} more`);
      // Before: 200 (50 each), and the fifth network's offer unanswered.
      expect(stormed).toBe(160);
      expect(kept.length - stormed).toBe(1);
    } finally {
      for (const timer of timers) clearInterval(timer);
    }
  });
});
