/**
 * A peer that never reads what the node queues toward it cannot pass for a reader by sending the node
 * messages whose async receives settle at once: their release was counted as the connection's drain,
 * so such peers counted for 1/8 of what they held and an honest slow reader holding more was cut in
 * their place. What we queue toward a peer is now weighed by its reading alone. Real TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import type { Agent } from '../../src/switch/agent.js';
import { BULK_CHANNEL, cutsOf, fillQueues, honestSlowReader, queuedFor, sleep } from '../helpers/bulk-stream.js';
import { startNode, stopAll, TEST_CHANNELS, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const MiB = 1024 * 1024;
const KiB = 1024;
const FORGE = 0x43;
const FORGE_CHANNEL: ChannelDescriptor = { id: FORGE, priority: 1, sendQueueCapacity: 64, recvMessageCapacity: 64 * KiB };
const ATTACKERS = 4;

/** The victim's agent on FORGE: each message a lookup that settles at once. */
class InstantAgent implements Agent {
  readonly channels = [FORGE_CHANNEL];
  receive(): Promise<void> {
    return Promise.resolve();
  }
}

/** `attacker` sends the victim 32 KiB on FORGE every 40 ms (~800 KiB/s of receives that settle at once). */
function forgeDrain(attacker: TestNode, victimId: string, stop: AbortSignal): void {
  void (async () => {
    while (!stop.aborted) {
      const peer = attacker.sw.getPeer(victimId);
      if (peer === undefined) return;
      peer.trySend(FORGE, new Uint8Array(32 * KiB));
      await sleep(40);
    }
  })();
}

describe('node-wide memory budget: receives settling are not reading', () => {
  it(`${ATTACKERS} peers that never read but send us messages that settle at once get their own cut, not an honest slow reader`, { timeout: 60_000 }, async () => {
    const victim = await startNode({
      channels: TEST_CHANNELS,
      agents: { bulk: { channels: [BULK_CHANNEL] }, forge: new InstantAgent() },
      peerMemoryBudgetBytes: 4 * MiB,
    });
    const cuts = cutsOf(victim);
    const done = new AbortController();

    const { honest, honestPeer, reader } = await honestSlowReader(victim, done.signal);

    // The attackers never read their bulk inbox (so they stop reading their socket) and forge drain from the start.
    const attackers = await Promise.all(
      Array.from({ length: ATTACKERS }, () =>
        startNode({ channels: TEST_CHANNELS, agents: { bulk: { channels: [BULK_CHANNEL] }, forge: { channels: [FORGE_CHANNEL] } }, inboxCapacity: 1, listen: [] }),
      ),
    );
    for (const attacker of attackers) await attacker.sw.dial(victim.address);
    await waitFor(() => attackers.every((attacker) => victim.sw.getPeer(attacker.sw.nodeId) !== undefined), 3000, 'the victim to see every attacker');
    for (const attacker of attackers) forgeDrain(attacker, victim.sw.nodeId, done.signal);
    await waitFor(() => reader.read() >= 6 * MiB, 30_000, 'the honest peer to read 6 MiB');
    const honestHolds = queuedFor(honestPeer);
    expect(honestHolds).toBeGreaterThanOrEqual(MiB);

    // The victim's app has distinct data for each attacker, ~0.8× what the honest peer holds.
    await fillQueues(
      attackers.map((attacker) => victim.sw.getPeer(attacker.sw.nodeId)!),
      0.8 * honestHolds,
    );
    await sleep(500);
    done.abort();

    // Before: the attackers counted as draining ~800 KiB/s (1/8 of what they held) and the reader was cut first.
    expect(cuts.has(honest.sw.nodeId), 'the honest reader is never cut').toBe(false);
    const attackerIds = new Set(attackers.map((attacker) => attacker.sw.nodeId));
    expect([...cuts.keys()].filter((id) => attackerIds.has(id)).length, 'attackers cut').toBeGreaterThan(0);
    expect(victim.sw.peerMemoryBytes).toBeLessThanOrEqual(4 * MiB);
  });
});
