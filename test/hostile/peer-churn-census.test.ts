/**
 * Peer churn, by census: every Map, Set and array reachable from the victim's Switch (its acceptor,
 * dialer, router, memory budget, agents, PEX book and dialer, signalling pacers, WebRTC negotiations
 * and allowances: 70 collections) is counted before and after 600 peers with fresh keys come over TCP,
 * each doing the real handshake, a pexRequest, an app message and two offers (one for a made-up node,
 * relayed), then leave, half gracefully and half cut. No collection may keep something per departed
 * peer: peer-churn.test.ts checks the tables it names, this one also those added since. (10,000 peers,
 * run once by hand: no collection grew by 20 or more.)
 */
import { getEventListeners } from 'node:events';
import { afterEach, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { encodePexMessage } from '../../src/pex/pex-messages.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { encodeSignalMessage } from '../../src/webrtc/signal-messages.js';
import { stopAll } from '../helpers/nodes.js';
import { joinVictim, talk } from './churn-peers.js';
import { APP_CH, sleep, startVictim, stopHostileNodes, type Victim } from './harness.js';
import { guardProcessFaults } from './raw-peer.js';
import { grownCollections, reachableCollectionSizes } from './reachable-collections.js';

guardProcessFaults();
afterEach(async () => {
  await Promise.all([stopHostileNodes(), stopAll()]);
});

const PEERS = 600;
/** Growth that would mean something kept per departed peer (a tenth of them). */
const MARGIN = PEERS / 10;
const SWITCH_EVENTS = ['peer:connected', 'peer:disconnected', 'peer:error', 'dial:failed', 'inbound:rejected', 'agent:error', 'stop-hook:error'];

function switchListeners(victim: Victim): number[] {
  return SWITCH_EVENTS.map((type) => getEventListeners(victim.sw as unknown as EventTarget, type).length);
}

/** One peer with a fresh key: joins, says a little on every channel, and leaves (gracefully or not). */
async function visit(victim: Victim, graceful: boolean): Promise<void> {
  const key = generateNodeKey();
  const peer = talk(await joinVictim(victim, { key }));
  const offer = { type: 'offer' as const, sdp: 'v=0\r\n' };
  peer.conn.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexRequest' }));
  peer.conn.trySend(APP_CH, new Uint8Array(32));
  peer.conn.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: key.nodeId, to: generateNodeKey().nodeId, data: offer }));
  peer.conn.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from: key.nodeId, to: victim.id, data: offer }));
  await sleep(1);
  if (graceful) await peer.conn.close();
  else peer.conn.destroy(new Error('gone'));
  await peer.closed;
}

it(`${PEERS} peers come and go: no collection the victim's Switch reaches keeps anything of them`, { timeout: 120_000 }, async () => {
  const victim = await startVictim();
  // A few first, so that what is made once (the answer cache's sample, lazily built allowances) is there.
  for (let i = 0; i < 10; i++) await visit(victim, i % 2 === 0);
  await sleep(500);
  const before = reachableCollectionSizes(victim.sw, 'sw');
  const listenersBefore = switchListeners(victim);
  for (let i = 0; i < PEERS; i++) await visit(victim, i % 2 === 0);
  await sleep(500);
  const after = reachableCollectionSizes(victim.sw, 'sw');
  expect(before.size, 'collections found (the census reaches the node)').toBeGreaterThan(50);
  expect(grownCollections(before, after, MARGIN)).toEqual([]);
  expect(switchListeners(victim)).toEqual(listenersBefore);
  expect(victim.sw.peers).toHaveLength(0);
});
