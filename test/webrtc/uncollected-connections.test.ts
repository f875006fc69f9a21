import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { UncollectedConnections } from '../../src/webrtc/uncollected-connections.js';

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
});
