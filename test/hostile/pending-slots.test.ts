/**
 * Silent connections holding every handshake slot (over real TCP, from loopback addresses
 * 127.0.0.2–9): with the pending pool full, a newcomer from another host takes the place of the oldest
 * pending link of the host holding the most, instead of being dropped. Before, 64 idle connections
 * from 8 addresses locked every new peer out for as long as they were renewed (each lasts the 20 s
 * handshake timeout).
 */
import { afterEach, expect, it } from 'vitest';
import { stopAll, startNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { finishScene, sleep, stopHostileNodes } from './harness.js';
import { guardProcessFaults, handshakeSlots, openRaw, startLightScene, tcpPort, type RawSocket } from './raw-peer.js';

guardProcessFaults();
const sockets: RawSocket[] = [];
afterEach(async () => {
  for (const raw of sockets.splice(0)) raw.socket.destroy();
  await Promise.all([stopHostileNodes(), stopAll()]);
});

const ATTACKER_HOSTS = 8;
const PER_HOST = 8; // the default maxPendingInboundPerHost; 8 × 8 = the default maxPendingInbound (64)

it('silent connections filling every handshake slot give way to a newcomer from another host', async () => {
  const scene = await startLightScene({ switchOptions: { network: 'hostile-net' } });
  const { victim } = scene;
  const port = tcpPort(victim.tcpAddress);
  for (let host = 0; host < ATTACKER_HOSTS; host++) {
    for (let i = 0; i < PER_HOST; i++) sockets.push(await openRaw(port, { localAddress: `127.0.0.${2 + host}` }));
  }
  await waitFor(() => handshakeSlots(victim.sw).pending === ATTACKER_HOSTS * PER_HOST, 3000, 'every handshake slot held');
  // A 9th link from an attacker host is still dropped on arrival (its host is at its cap).
  const ninth = await openRaw(port, { localAddress: '127.0.0.2' });
  sockets.push(ninth);
  await ninth.closed;
  expect(ninth.firstByteAt, 'a link over its host cap is dropped unanswered').toBeUndefined();

  const newcomer = await startNode({ network: victim.sw.options.network });
  await newcomer.sw.dial(victim.tcpAddress);
  await waitFor(() => victim.sw.getPeer(newcomer.sw.nodeId) !== undefined, 3000, 'the newcomer connected');
  await sleep(100);
  const evicted = sockets.filter((raw) => raw.closedAt !== undefined && raw !== ninth);
  expect(evicted.length, 'silent links that gave way').toBe(1);
  expect(handshakeSlots(victim.sw).pending).toBe(ATTACKER_HOSTS * PER_HOST - 1);
  await finishScene(scene);
});
