/**
 * One host holding every inbound slot. Keys are free, so a single machine could open `maxInbound`
 * connections and keep every other newcomer out for as long as it stayed; now a newcomer from a less
 * represented network takes the slot of the youngest peer of the most represented one. Real TCP on
 * 127.0.0.0/8: networks are IPv4 /16s, so each 127.N.0.1 is a network of its own.
 */
import { afterEach, expect, it } from 'vitest';
import { MAX_EVICTED_LINGERING } from '../../src/switch/constants.js';
import { stopAll } from '../helpers/nodes.js';
import { waitFor, within } from '../helpers/wait.js';
import { steppableWallClock } from '../helpers/wall-clock-step.js';
import { startVictim, stopHostileNodes, type Victim } from './harness.js';
import { joinVictim, talk, type Talker } from './churn-peers.js';
import { guardProcessFaults, type CodedError } from './raw-peer.js';

guardProcessFaults();
const wallClock = steppableWallClock();

afterEach(async () => {
  await Promise.all([stopHostileNodes(), stopAll()]);
});

function inboundHosts(victim: Victim): string[] {
  return victim.sw.peers.filter((peer) => peer.direction === 'inbound').map((peer) => peer.address.split(':')[0]!).sort();
}

it('a newcomer from another host takes the youngest slot of the host holding them all; that host cannot take it back', async () => {
  const victim = await startVictim({ switchOptions: { maxInbound: 4 } });
  const attackers: Talker[] = [];
  for (let i = 0; i < 4; i++) {
    // Four addresses, one network: owning more addresses of one /16 does not make more networks.
    attackers.push(talk(await within(joinVictim(victim, { localAddress: `127.2.0.${i + 1}` }), 10_000, 'attacker join')));
    await waitFor(() => inboundHosts(victim).length === i + 1, 5000, 'attacker admitted');
  }
  // The same host again: its own group is the largest, so it is refused as before.
  await expect(within(joinVictim(victim, { localAddress: '127.2.0.9' }), 10_000, 'fifth attacker')).rejects.toMatchObject({ code: 'ERR_PEER_LIMIT' });

  // A newcomer from 127.3.0.1 is admitted; the youngest attacker is told why and cut.
  const honest = talk(await within(joinVictim(victim, { localAddress: '127.3.0.1' }), 10_000, 'honest join'));
  const evicted = (await within(attackers[3]!.closed, 5000, 'youngest attacker cut')) as CodedError | undefined;
  expect(evicted).toMatchObject({ code: 'ERR_PEER_LIMIT' });
  expect(evicted?.message).toMatch(/Evicted/);
  await waitFor(() => inboundHosts(victim).join() === '127.2.0.1,127.2.0.2,127.2.0.3,127.3.0.1', 5000, 'three attackers and the newcomer');
  expect(victim.sw.peerCounts().inbound).toBeLessThanOrEqual(4 + MAX_EVICTED_LINGERING);

  // Two more hosts: each takes an attacker's slot while the attacker still holds two more than it.
  for (const host of ['127.4.0.1', '127.5.0.1']) talk(await within(joinVictim(victim, { localAddress: host }), 10_000, `join from ${host}`));
  await waitFor(() => inboundHosts(victim).join() === '127.2.0.1,127.3.0.1,127.4.0.1,127.5.0.1', 5000, 'one slot per host');
  // The oldest attacker (protected, and now no larger than anyone) stays; the others were cut youngest first.
  expect(await Promise.race([attackers[0]!.closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('open'), 300))])).toBe('open');
  for (const cut of [attackers[1]!, attackers[2]!]) expect(await within(cut.closed, 5000, 'cut attacker')).toMatchObject({ code: 'ERR_PEER_LIMIT' });
  // Every host now holds one: a sixth host is refused, nobody is evicted for it.
  await expect(within(joinVictim(victim, { localAddress: '127.6.0.1' }), 10_000, 'sixth host')).rejects.toMatchObject({ code: 'ERR_PEER_LIMIT' });
  expect(inboundHosts(victim).join()).toBe('127.2.0.1,127.3.0.1,127.4.0.1,127.5.0.1');
  honest.conn.destroy();
});

it('after a wall-clock step back, the peers arriving next are still the youngest: they are evicted, and the oldest keeps its protection', async () => {
  // maxInbound 4: one protected slot, the oldest peer's.
  const victim = await startVictim({ switchOptions: { maxInbound: 4 } });
  const join = async (localAddress: string): Promise<Talker> => {
    const talker = talk(await within(joinVictim(victim, { localAddress }), 10_000, `join from ${localAddress}`));
    await waitFor(() => inboundHosts(victim).includes(localAddress), 5000, `${localAddress} admitted`);
    return talker;
  };
  const first = await join('127.2.0.1');
  const second = await join('127.2.0.2');
  // NTP corrects a fast clock, or a VM is restored: the wall clock goes back an hour; timers run on.
  wallClock.step(-3_600_000);
  const other = await join('127.3.0.1');
  const latecomer = await join('127.2.0.3');
  // 127.2 holds three, the newcomer's network none: the youngest unprotected peer of 127.2 goes.
  const newcomer = await join('127.4.0.1');
  expect(await within(latecomer.closed, 5000, 'the youngest peer of 127.2 cut')).toMatchObject({ code: 'ERR_PEER_LIMIT' });
  // Before: sorted by wall-clock connectedAt, the two that arrived after the step looked an hour older than the
  // rest: 127.3.0.1 took the protected slot and 127.2.0.2 was evicted, the latecomer kept.
  await waitFor(() => inboundHosts(victim).join() === '127.2.0.1,127.2.0.2,127.3.0.1,127.4.0.1', 5000, 'the two oldest of 127.2 stay');
  // One more newcomer: 127.2 still holds two more than it, and its oldest is protected, so the second goes.
  talk(await within(joinVictim(victim, { localAddress: '127.5.0.1' }), 10_000, 'join from 127.5.0.1'));
  expect(await within(second.closed, 5000, 'the unprotected peer of 127.2 cut')).toMatchObject({ code: 'ERR_PEER_LIMIT' });
  await waitFor(() => inboundHosts(victim).join() === '127.2.0.1,127.3.0.1,127.4.0.1,127.5.0.1', 5000, 'the oldest peer kept');
  for (const talker of [first, other, newcomer]) talker.conn.destroy();
});
