/**
 * Silent connections holding every handshake slot (over real TCP, from loopback addresses
 * 127.0.0.2–9): with the pending pool full, a newcomer from another host takes the place of the oldest
 * pending link of the host holding the most, instead of being dropped. Before, 64 idle connections
 * from 8 addresses locked every new peer out for as long as they were renewed (each lasts the 20 s
 * handshake timeout).
 */
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { TcpLink } from '../../platforms/node/tcp.js';
import { secureHandshake } from '../../src/conn/secure-link.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { stopAll, startNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { finishScene, sleep, stopHostileNodes } from './harness.js';
import { guardProcessFaults, handshakeSlots, openRaw, startLightScene, tcpPort, type RawSocket } from './raw-peer.js';

guardProcessFaults();
const sockets: RawSocket[] = [];
const netSockets: net.Socket[] = [];
afterEach(async () => {
  for (const raw of sockets.splice(0)) raw.socket.destroy();
  for (const socket of netSockets.splice(0)) socket.destroy();
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

/** A link from `localAddress` that completes the secure handshake with a fresh key, then says nothing (no NodeInfo). */
async function authenticatedThenSilent(port: number, localAddress: string): Promise<{ closed: Promise<void> }> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  netSockets.push(socket);
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const secure = await secureHandshake(new TcpLink(socket), { identity: generateNodeKey(), aead: nodeChaCha20Poly1305, timeoutMs: 3000 });
  secure.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
  return { closed };
}

it('an authenticated link evicted from the handshake pool for a newcomer is closed, even if its peer never hangs up', async () => {
  const victim = await startNode({ maxPendingInbound: 2, maxPendingInboundPerHost: 2, handshakeTimeoutMs: 20_000 });
  const port = tcpPort(victim.address);
  const silent = [await authenticatedThenSilent(port, '127.0.0.2'), await authenticatedThenSilent(port, '127.0.0.2')];
  await waitFor(() => handshakeSlots(victim.sw).pending === 2, 3000, 'both handshake slots held');
  const newcomer = await startNode();
  await newcomer.sw.dial(victim.address);
  // The oldest silent link gave way (a PeerRejectedError, ERR_PEER_LIMIT) and is cut within the refusal
  // linger (2 s). Before: the refusal's linger waited on the eviction's already-fired signal, so it never
  // ended while the peer kept its socket open: the link, its socket and the upgrade were held for ever,
  // outside every cap (its slot had gone to the newcomer), one more per eviction.
  const cut = await Promise.race([silent[0]!.closed.then(() => true), sleep(4000).then(() => false)]);
  expect(cut, 'the evicted link is closed').toBe(true);
});

it('one network\'s many hosts rotating through a full handshake pool never push out a link from another network', async () => {
  // 127.2.0.0/16 is one network (as a cloud block or an IPv6 /32 holding 65,536 /64s): each new
  // address holds one slot, so counting hosts alone let each newcomer push out the oldest link of any
  // host, and after the pool's size of them, the other network's link.
  const pool = 16;
  const victim = await startNode({ maxPendingInbound: pool, handshakeTimeoutMs: 20_000 });
  const port = tcpPort(victim.address);
  for (let i = 0; i < pool - 1; i++) sockets.push(await openRaw(port, { localAddress: `127.2.0.${1 + i}` }));
  const otherNetwork = await openRaw(port, { localAddress: '127.0.0.1' });
  sockets.push(otherNetwork);
  await waitFor(() => handshakeSlots(victim.sw).pending === pool, 3000, 'every handshake slot held');
  const rotations = 40;
  for (let i = 0; i < rotations; i++) sockets.push(await openRaw(port, { localAddress: `127.2.1.${1 + i}` }));
  // Each newcomer cost one link: itself (dropped on arrival) or one it pushed out.
  await waitFor(() => sockets.filter((raw) => raw.closedAt !== undefined).length >= rotations, 5000, 'a link closed per newcomer');
  expect(otherNetwork.closedAt, 'the other network\'s link is still held').toBeUndefined();
  expect(handshakeSlots(victim.sw).pending).toBe(pool);
  // A newcomer from a third network still takes a slot: from the busiest network, not the other one.
  const third = await openRaw(port, { localAddress: '127.3.0.1' });
  sockets.push(third);
  await waitFor(() => sockets.filter((raw) => raw.closedAt !== undefined).length === rotations + 1, 3000, 'one more link gave way');
  expect(third.closedAt).toBeUndefined();
  expect(otherNetwork.closedAt).toBeUndefined();
});

it('one address from another network takes one slot of a full pool of single links, not its per-host cap', async () => {
  // Honest handshakes from one busy network (a LAN, one cloud region), one each. Compared by network
  // alone, a single attacker address pushed one out per connection until it held its per-host cap (8),
  // as long as its network held fewer than theirs; by host it could take one, as before networks counted.
  const pool = 16;
  const victim = await startNode({ maxPendingInbound: pool, handshakeTimeoutMs: 20_000 });
  const port = tcpPort(victim.address);
  const honest: RawSocket[] = [];
  for (let i = 0; i < pool; i++) honest.push(await openRaw(port, { localAddress: `127.2.0.${1 + i}` }));
  sockets.push(...honest);
  await waitFor(() => handshakeSlots(victim.sw).pending === pool, 3000, 'every handshake slot held');
  const attacker: RawSocket[] = [];
  for (let i = 0; i < PER_HOST; i++) attacker.push(await openRaw(port, { localAddress: '127.9.0.1' }));
  sockets.push(...attacker);
  // Each attacker link cost one link: itself (dropped on arrival) or an honest one it pushed out.
  await waitFor(() => sockets.filter((raw) => raw.closedAt !== undefined).length >= PER_HOST, 5000, 'a link closed per attacker link');
  await sleep(100);
  expect(honest.filter((raw) => raw.closedAt !== undefined).length, 'honest links pushed out').toBe(1);
  expect(attacker.filter((raw) => raw.closedAt === undefined).length, 'attacker links held').toBe(1);
  expect(handshakeSlots(victim.sw).pending).toBe(pool);
});
