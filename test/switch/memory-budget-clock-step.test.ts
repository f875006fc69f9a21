/** The Switch's memory budget measures drain on monotonic time: a wall-clock step is no stall. */
import { describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { Switch } from '../../src/switch/switch.js';
import type { Link } from '../../src/transport/link.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { systemClock, type Clock } from '../../src/util/clock.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('the Switch memory budget across a wall-clock step', () => {
  it('a reader draining for 20 s is not taken for stalled after a one-hour step forward (before: cut first)', () => {
    // A clock the test moves: both scales advance together, then only the wall clock steps (NTP, a VM restored).
    const time = { wall: 1_000_000, monotonic: 1_000_000 };
    const clock: Clock = { ...systemClock, now: () => time.wall, monotonicNow: () => time.monotonic };
    const sw = new Switch({ identity: generateNodeKey(), network: 'budget', transports: [new MemoryNetwork().transport()], listen: [], clock, peerMemoryBudgetBytes: 4 * MiB });
    const cuts: string[] = [];
    const account = (name: string) => sw.meterLink({ destroy: () => cuts.push(name) } as unknown as Link);
    const reader = account('reader');
    reader.charge(MiB);
    for (let elapsed = 0; elapsed < 20_000; elapsed += 150) {
      time.wall += 150;
      time.monotonic += 150;
      reader.release(64 * KiB);
      reader.charge(64 * KiB);
    }
    time.wall += 3_600_000;
    // Attackers that drain nothing, each holding a little less than the reader: they go, not it.
    for (const name of ['a1', 'a2', 'a3', 'a4']) account(name).charge(0.8 * MiB);
    expect(cuts.length).toBeGreaterThan(0);
    expect(cuts).not.toContain('reader');
  });
});
