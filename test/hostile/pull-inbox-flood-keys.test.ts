/**
 * Fresh keys flooding a pull channel from a process of their own (their CPU is not the victim's), while
 * four honest peers send on it at 100 messages a second each and the app reads ~1,000 a second: more
 * holders than the reader serves at the honest rate, so honest peers hold past their share too and are
 * paused like the flooders. Paused, an honest peer held a message or two, which readers took at once;
 * it was resumed only once the whole inbox was down to half, which the flooders, resumed at the same
 * moment, filled again at once. Over real TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { NETWORK, PULL_A, sleep, startHonest, startHonestPair, startPump, startVictim, stopHostileNodes, streamKey } from './harness.js';
import { startFloodKeys, stopFloodKeys } from './flood-keys-process.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();
afterEach(async () => {
  stopFloodKeys();
  await stopHostileNodes();
});

const FLOOD_KEYS = 8;
const HONEST_PEERS = 4;
const FLOOD_MS = 4_000;
describe('a pull inbox flooded by keys in another process', () => {
  it(
    `honest peers sending past their share get it: at least half of min(what they sent, ${HONEST_PEERS}/${HONEST_PEERS + FLOOD_KEYS} of what the app read), with ${FLOOD_KEYS} keys flooding`,
    { timeout: 90_000 },
    async () => {
      const victim = await startVictim({ pullReadBatch: 1, switchOptions: { inboxCapacity: 1024 } });
      const pair = await startHonestPair(victim);
      const more = await Promise.all([0, 1].map(() => startHonest('tcp://127.0.0.1:0')));
      for (const h of more) await h.sw.dial(victim.tcpAddress);
      const honest = [...pair, ...more];
      await waitFor(() => more.every((h) => victim.sw.getPeer(h.id) !== undefined), 5_000, 'four honest peers');
      const pump = startPump(victim, honest, { perTick: 1, tickMs: 10 });
      await pump.expectFlowing(20, 3_000);

      await startFloodKeys(victim.tcpAddress, FLOOD_KEYS, NETWORK, PULL_A);
      await waitFor(() => victim.sw.peers.length === HONEST_PEERS + FLOOD_KEYS, 10_000, 'flooders are peers');
      const honestRead = (): number => honest.reduce((total, h) => total + (victim.record.received.get(streamKey(h.id, victim.id, PULL_A))?.length ?? 0), 0);
      const [readBefore, honestBefore, sentBefore] = [victim.read.get(PULL_A)!, honestRead(), pump.acceptedTo(PULL_A)];
      await sleep(FLOOD_MS);
      const reads = victim.read.get(PULL_A)! - readBefore;
      const honestGot = honestRead() - honestBefore;
      const honestSent = pump.acceptedTo(PULL_A) - sentBefore;
      const fairShare = Math.min(honestSent, (reads * HONEST_PEERS) / (HONEST_PEERS + FLOOD_KEYS));
      expect(reads - honestGot, 'flood messages read').toBeGreaterThan(0);
      expect(honestGot, `honest messages read of ${reads} (sent ${honestSent})`).toBeGreaterThanOrEqual(fairShare / 2);
      // While the flood goes on: what the honest peers sent arrives, once, in order.
      await pump.stopAndVerify();
      expect(victim.sw.peers.length, 'no flooder cut (they stay within every limit)').toBe(HONEST_PEERS + FLOOD_KEYS);
    },
  );
});
