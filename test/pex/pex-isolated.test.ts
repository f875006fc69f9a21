import { afterEach, describe, expect, it } from 'vitest';
import { AddressBook } from '../../src/pex/address-book.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { waitFor } from '../helpers/wait.js';
import { steppableWallClock } from '../helpers/wall-clock-step.js';
import { fakeAddresses, startPexNode, stopPexNodes } from './pex-helpers.js';

afterEach(stopPexNodes);
const wallClock = steppableWallClock();

describe('PEXAgent with no outbound peer', () => {
  it('tries again within seconds after a failed dial, not a whole ensurePeers interval later', async () => {
    const network = new MemoryNetwork();
    const live = await startPexNode({ transports: [network.transport()], listen: 'memory://isolated-live', pex: false });
    const [dead] = fakeAddresses(1, 'memory');
    const book = new AddressBook({ allowLocal: true });
    book.addAddress(dead!, dead!);
    book.addAddress(live.address, live.address);
    // The live address was just tried: it backs off for 1.5 s, so the first round can only dial the dead one.
    book.markAttempt(live.address);
    const node = await startPexNode({
      transports: [network.transport()],
      listen: 'memory://isolated-node',
      // A round a minute: without the early retry the live address would wait ~60 s.
      pex: { book, ensurePeersIntervalMs: 60_000, dialJitterMs: 3000, dialBackoffBaseMs: 1500, dialBackoffMaxMs: 3000 },
    });
    const startedAt = Date.now();
    await waitFor(() => node.pex!.stats().dialFailures > 0, 3000, 'the dial to the dead address failed');
    // The first dial waited at most ISOLATED_DIAL_JITTER_MS (0.5 s), not the configured 3 s.
    expect(Date.now() - startedAt).toBeLessThan(2500);
    // ISOLATED_RETRY_ROUND_DELAY_MS (2 s) after the failure plus at most 0.5 s of jitter (~3 s on an idle
    // machine); the bound is loose for loaded ones and still far below the 60 s round.
    await waitFor(() => node.sw.peers.length === 1, 15_000, 'connected to the live node on an early round');
    expect(node.sw.peers[0]!.id).toBe(live.sw.nodeId);
  });

  it('stops retrying early once it has an outbound peer: rounds go back to ensurePeersIntervalMs', async () => {
    const network = new MemoryNetwork();
    const live = await startPexNode({ transports: [network.transport()], listen: 'memory://paced-live', pex: false });
    const book = new AddressBook({ allowLocal: true });
    for (const dead of fakeAddresses(5, 'memory', 100)) book.addAddress(dead, dead);
    const node = await startPexNode({
      transports: [network.transport()],
      listen: 'memory://paced-node',
      pex: { book, ensurePeersIntervalMs: 60_000, dialJitterMs: 0, maxConcurrentDials: 1 },
    });
    await node.sw.dial(live.address);
    const before = node.pex!.stats().dials;
    await new Promise((resolve) => setTimeout(resolve, 5000));
    // Connected: at most the one round already under way dials; no retry every 2 s through the dead book.
    expect(node.pex!.stats().dials - before).toBeLessThanOrEqual(1);
  });

  it('keeps dialling its seed across a one-hour step back of the wall clock (before: no seed dial for the hour)', async () => {
    const network = new MemoryNetwork();
    let stepMs = 0;
    // Only the wall clock steps (NTP correcting a fast clock, a VM restored); timers do not.
    const clock: Clock = { ...systemClock, now: () => Date.now() + stepMs };
    const [seed] = fakeAddresses(1, 'memory', 500);
    const node = await startPexNode({ transports: [network.transport()], listen: 'memory://stepped-node', pex: { seeds: [seed!], clock }, switchOptions: { clock } });
    // The seed answers nothing: dialled again every seedRedialIntervalMs (400 ms here).
    await waitFor(() => node.pex!.stats().seedDials >= 2, 5000, 'two seed dials');
    stepMs -= 3_600_000;
    const before = node.pex!.stats().seedDials;
    await waitFor(() => node.pex!.stats().seedDials > before, 3000, 'a seed dial after the step');
  });

  /** How often a node that hangs up on ours at once is dialled in the 2 s after, the wall clock stepping `stepMs` just before. */
  async function arrivalsAfterHangUp(stepMs: number): Promise<number> {
    const network = new MemoryNetwork();
    const full = await startPexNode({ transports: [network.transport()], listen: 'memory://hanging-up', pex: false });
    let arrivals = 0;
    full.sw.on('peer:connected', () => arrivals++);
    const book = new AddressBook({ allowLocal: true });
    book.addAddress(full.address, full.address);
    // A hang-up is remembered for seedRedialIntervalMs: a minute here, far past the test.
    const node = await startPexNode({ transports: [network.transport()], listen: 'memory://hung-up-on', pex: { book, seedRedialIntervalMs: 60_000 } });
    await waitFor(() => arrivals === 1 && full.sw.peers.length === 1, 5000, 'the node dialled the full one');
    wallClock.step(stepMs);
    await full.sw.disconnect(full.sw.peers[0]!);
    await waitFor(() => node.sw.peers.length === 0, 3000, 'hung up');
    // Rounds run every 200 ms: ten of them.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return arrivals;
  }

  it('leaves a node that hung up on it be for seedRedialIntervalMs (before: its graceful close, reported as ClosedError, was no hang-up: dialled straight back)', async () => {
    expect(await arrivalsAfterHangUp(0)).toBe(1);
  });

  it('leaves a node that hung up on it be across a one-hour step forward of the wall clock (before: the connection, timed on the wall clock, had lasted an hour: dialled straight back)', async () => {
    // NTP, or a VM's clock catching up, while the connection is up.
    expect(await arrivalsAfterHangUp(3_600_000)).toBe(1);
  });
});
