/**
 * PEX request pacing when the victim's wall clock steps back (NTP correcting a fast clock, a VM restored
 * from a snapshot), over real TCP. PEX times a peer's requests, and its own, on the wall clock (its
 * `now`): a step back must neither make an honest peer's next request "too soon" (a ban) nor keep us
 * from asking a peer until the clock has caught up; a step forward must not make us ask a peer before
 * its minimum interval (it would cut and ban us): the pacing reads the clock's monotonicNow.
 */
import { afterEach, expect, it } from 'vitest';
import { PEX_CHANNEL_ID } from '../../src/pex/constants.js';
import { decodePexMessage, encodePexMessage } from '../../src/pex/pex-messages.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { waitFor } from '../helpers/wait.js';
import type { Peer } from '../../src/switch/peer.js';
import { connectAttacker, finishScene, sleep, stopHostileNodes, type Attacker, type Victim } from './harness.js';
import { guardProcessFaults, startLightScene } from './raw-peer.js';

afterEach(stopHostileNodes);
guardProcessFaults();

/** The harness's victim asks every 60 s: a peer may ask it every 20 s, and it asks a peer every 60 s. */
const ENSURE_PEERS_INTERVAL_MS = 60_000;
const HOUR_MS = 3_600_000;

function steppedClock(): { now: () => number; advance(ms: number): void } {
  let wall = Date.now();
  return { now: () => wall, advance: (ms) => void (wall += ms) };
}

/** The victim asks `peer` once and gets an empty answer; returns the peer as the victim sees it. */
async function askAndAnswer(victim: Victim, peer: Attacker): Promise<Peer> {
  const onVictim = peer.onVictim()!;
  expect(victim.pex.requestAddresses(onVictim)).toBe(true);
  await waitFor(() => peer.agent.messages.some((m) => m.channelId === PEX_CHANNEL_ID), 3000, 'our request');
  peer.peer.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexResponse', addresses: [] }));
  await sleep(100);
  return onVictim;
}

it('an honest peer asking a full interval later, across a one-minute step back of our clock, is answered, not banned', async () => {
  const clock = steppedClock();
  const scene = await startLightScene({ pex: { now: clock.now, ensurePeersIntervalMs: ENSURE_PEERS_INTERVAL_MS } });
  const { victim } = scene;
  const peer = await connectAttacker(victim);
  const answers = (): number => peer.agent.messages.filter((m) => m.channelId === PEX_CHANNEL_ID && decodePexMessage(m.message).type === 'pexResponse').length;
  peer.peer.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexRequest' }));
  await waitFor(() => answers() === 1, 3000, 'the first answer');
  // 50 s pass (past the 20 s minimum) while the clock steps back a minute: it reads 10 s earlier.
  clock.advance(50_000 - 60_000);
  peer.peer.trySend(PEX_CHANNEL_ID, encodePexMessage({ type: 'pexRequest' }));
  await waitFor(() => answers() === 2 || peer.onVictim() === undefined, 3000, 'the second answer');
  // Before: cut and banned, ERR_PEX_REQUEST_TOO_SOON ("pexRequest -10000 ms after the last one").
  expect(victim.disconnects.filter((d) => d.id === peer.id).map((d) => (d.reason as { code?: string }).code)).toEqual([]);
  expect(answers()).toBe(2);
  expect(victim.sw.bans.isBanned(peer.id)).toBe(false);
  await finishScene(scene);
});

it('after a one-hour step back we ask a peer again one interval later, not an hour later', async () => {
  const clock = steppedClock();
  const scene = await startLightScene({ pex: { now: clock.now, ensurePeersIntervalMs: ENSURE_PEERS_INTERVAL_MS } });
  const { victim } = scene;
  const peer = await connectAttacker(victim);
  const onVictim = await askAndAnswer(victim, peer);
  clock.advance(-HOUR_MS);
  expect(victim.pex.requestAddresses(onVictim), 'at once: too soon for the peer, whose clock did not step').toBe(false);
  clock.advance(ENSURE_PEERS_INTERVAL_MS);
  // Before: false until the clock had caught up with the hour (and the interval on top).
  expect(victim.pex.requestAddresses(onVictim), 'one interval after the step').toBe(true);
  await finishScene(scene);
});

it('a one-hour step forward of our wall clock does not make us ask a peer again before its minimum interval', async () => {
  let wall = Date.now();
  // Only the wall clock steps, as NTP or a VM's clock catching up does; timers and monotonic time do not.
  const clock: Clock = { ...systemClock, now: () => wall };
  const scene = await startLightScene({ pex: { clock, ensurePeersIntervalMs: ENSURE_PEERS_INTERVAL_MS } });
  const { victim } = scene;
  const peer = await connectAttacker(victim);
  const onVictim = await askAndAnswer(victim, peer);
  wall += HOUR_MS;
  // Before: true at once, a pexRequest ~100 ms after the last, which an honest peer (20 s minimum) cuts
  // and bans us for (ERR_PEX_REQUEST_TOO_SOON).
  expect(victim.pex.requestAddresses(onVictim), 'the peer saw our last request ~100 ms ago').toBe(false);
  await finishScene(scene);
});
