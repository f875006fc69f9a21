/**
 * Keys that stop reading against an app that awaits its broadcasts in a loop (the way to keep them in
 * order and its memory bounded): a broadcast waited for every peer's room, so once such a key's queue
 * and socket buffers were full, each broadcast took the send timeout (10 s) and the honest peers got
 * one message per 10 s, for as long as the key stayed. Over real TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/wire/codec.js';
import { waitFor } from '../helpers/wait.js';
import { APP_CH, connectAttacker, startHonestPair, startVictim, stopHostileNodes, streamKey, type Honest, type Victim } from './harness.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();
afterEach(stopHostileNodes);

/** Enough rounds of 60 KiB to fill a non-reader's queue (1 MiB) and its loopback socket buffers (~5 MB) several times over. */
const ROUNDS = 300;
const BODY = new Uint8Array(60 * 1024);
/** A bound on the loop: 300 rounds take ~3 s here; waiting the 10 s send timeout each round once a key is full, 89 were done. */
const LOOP_BOUND_MS = 30_000;

const deliveredTo = (victim: Victim, h: Honest): number[] => h.record.received.get(streamKey(victim.id, h.id, APP_CH)) ?? [];

describe('broadcast against keys that stop reading', () => {
  it('an awaited broadcast loop is not paced by 4 fresh keys that never read: every round reaches the honest peers', { timeout: 60_000 }, async () => {
    const victim = await startVictim();
    const honest = await startHonestPair(victim);
    const attackers = await Promise.all(Array.from({ length: 4 }, () => connectAttacker(victim)));
    for (const attacker of attackers) attacker.peer.connection.pause(); // never read again

    let notTakenByAttackers = 0;
    const loopEnds = Date.now() + LOOP_BOUND_MS;
    let round = 0;
    for (; round < ROUNDS && Date.now() < loopEnds; round++) {
      const results = await victim.sw.broadcast(APP_CH, encodeMessage({ k: 'pump', s: round, pad: BODY }));
      for (const h of honest) expect(results.get(h.id), `round ${round} to an honest peer`).toBe(true);
      notTakenByAttackers += attackers.filter((attacker) => results.get(attacker.id) === false).length;
      // The honest peers read each round before the next, so their own queues never fill.
      await waitFor(() => honest.every((h) => deliveredTo(victim, h).length === round + 1), 10_000, `round ${round} delivered`);
    }

    expect(round, 'rounds broadcast').toBe(ROUNDS);
    // The attackers' queues did fill (the attack took place), and the still-connected keys got false.
    expect(notTakenByAttackers).toBeGreaterThan(0);
    const expected = Array.from({ length: ROUNDS }, (_, i) => i);
    for (const h of honest) expect(deliveredTo(victim, h), 'every round, once, in order').toEqual(expected);
  });

  it('when no peer has room it waits for the first that makes room, not for a key that never reads', { timeout: 60_000 }, async () => {
    const victim = await startVictim();
    const [reader, slow] = await startHonestPair(victim);
    const attacker = await connectAttacker(victim);
    attacker.peer.connection.pause();
    const readerLink = reader.sw.getPeer(victim.id)!.connection;
    const slowLink = slow.sw.getPeer(victim.id)!.connection;
    readerLink.pause();
    slowLink.pause();

    // Fill every queue: until no peer takes a round.
    let round = 0;
    for (; round < 2_000; round++) {
      const results = await victim.sw.broadcast(APP_CH, encodeMessage({ k: 'pump', s: round, pad: BODY }), { timeoutMs: 200 });
      if ([...results.values()].every((taken) => !taken)) break;
    }
    expect(round).toBeLessThan(2_000);

    // A broadcast with the default 10 s send timeout; the reader reads again once it waits.
    const broadcast = victim.sw.broadcast(APP_CH, encodeMessage({ k: 'probe', pad: BODY }));
    readerLink.resume();
    let results: Map<string, boolean> | undefined;
    void broadcast.then((value) => (results = value));
    await waitFor(() => results !== undefined, 5_000, 'the broadcast to end once the reader made room');
    expect(results!.get(reader.id)).toBe(true);
    expect(results!.get(attacker.id)).toBe(false);
    expect(results!.get(slow.id)).toBe(false);
    slowLink.resume();
    // With its signal already fired, a broadcast takes nothing, as a send does.
    const aborted = await victim.sw.broadcast(APP_CH, encodeMessage({ k: 'late' }), { signal: AbortSignal.abort() });
    expect([...aborted.values()]).toEqual([false, false, false]);
  });
});
