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
  it('counts answers and dials apart until the collector frees their RTCPeerConnections', async () => {
    const uncollected = new UncollectedConnections();
    const create = uncollected.counting(fakePeer);
    let held: SimplePeerLike[] = [create({ initiator: false }), create({ initiator: false }), create({ initiator: true })];
    expect([uncollected.count(false), uncollected.count(true)]).toEqual([2, 1]);
    await collected();
    expect([uncollected.count(false), uncollected.count(true)]).toEqual([2, 1]); // still referenced
    const pcOfDial = held[2]!._pc;
    held = [];
    await collected();
    // The dial's RTCPeerConnection is still reachable (simple-peer may drop its peer first): still counted.
    expect([uncollected.count(false), uncollected.count(true)]).toEqual([0, 1]);
    expect(pcOfDial).toBeDefined();
  });
});
