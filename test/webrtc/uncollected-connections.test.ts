import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { isOwnDialLimit, TransportError } from '../../src/errors.js';
import { parseAddress } from '../../src/transport/address.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { UncollectedConnections } from '../../src/webrtc/uncollected-connections.js';
import { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { node, offeringPeer, stopNodes } from './signalling-scene.js';

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
});
