/**
 * Keys flooding a pull channel that the app reads at its own pace, while four honest peers send on it
 * and on a push channel at a steady rate. The inbox is shared by every peer of the channel: first come,
 * first served, the flood kept it full, so every honest peer's next message found it full and paused
 * that peer's whole connection, and each resume let the flooder's decoded frame fill it first. Over
 * real TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/wire/codec.js';
import { waitFor } from '../helpers/wait.js';
import { PULL_A, connectAttacker, sleep, startHonest, startHonestPair, startPump, startVictim, stopHostileNodes, streamKey } from './harness.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();
afterEach(stopHostileNodes);

/** The app sleeps 1 ms every this many messages it reads: a reader of a few thousand messages a second. */
const READ_BATCH = 4;
const FLOOD_MS = 4_000;

describe('a pull inbox shared with flooders', () => {
  it.each([1, 8])(
    '%i fresh key(s) flooding it cost the 4 honest peers sending on it (and on a push channel) nothing: every accepted message delivered while the flood goes on',
    { timeout: 60_000 },
    async (keys) => {
      const victim = await startVictim({ pullReadBatch: READ_BATCH, switchOptions: { inboxCapacity: 1024 } });
      const pair = await startHonestPair(victim);
      const more = await Promise.all([0, 1].map(() => startHonest('tcp://127.0.0.1:0')));
      for (const h of more) await h.sw.dial(victim.tcpAddress);
      await waitFor(() => more.every((h) => victim.sw.getPeer(h.id) !== undefined), 5_000, 'four honest peers');
      // Each honest peer: a message every 10 ms on the push channel and on the pull channel, and back.
      const pump = startPump(victim, [...pair, ...more], { perTick: 1, tickMs: 10 });
      await pump.expectFlowing(20, 3_000);

      const attackers = await Promise.all(Array.from({ length: keys }, () => connectAttacker(victim)));
      let flooding = true;
      const tiny = encodeMessage({ k: 'flood' });
      const floods = attackers.map(async (attacker) => {
        while (flooding && attacker.onVictim() !== undefined) {
          for (let i = 0; i < 64; i++) if (!attacker.peer.trySend(PULL_A, tiny)) break;
          await sleep(1);
        }
      });
      // Flood messages the app read: what it read on the channel less what honest peers delivered there.
      const honestOnPull = (): number =>
        [...pair, ...more].reduce((total, h) => total + (victim.record.received.get(streamKey(h.id, victim.id, PULL_A))?.length ?? 0), 0);
      const floodRead = (): number => victim.read.get(PULL_A)! - honestOnPull();
      const floodReadBefore = floodRead();
      try {
        await sleep(FLOOD_MS);
        // While the flood goes on: the honest peers stop, and all they had sent arrives, once, in order.
        await pump.stopAndVerify();
        // Counted over the whole flood: the stop alone can be over before the reader's next turn.
        expect(floodRead() - floodReadBefore, 'flood messages read while it went on').toBeGreaterThan(0);
        expect(attackers.some((attacker) => attacker.onVictim() !== undefined), 'a flooder still connected').toBe(true);
      } finally {
        flooding = false;
        await Promise.all(floods);
      }
    },
  );
});
