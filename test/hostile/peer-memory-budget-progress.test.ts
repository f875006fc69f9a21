/**
 * Who the node-wide memory budget cuts when attackers' connections each hold a little less than an
 * honest peer that holds a lot but drains: a slow reader whose queue stays full of distinct data, a
 * backlog of async receives that settle. Ranked by size alone, the honest peer was "the largest" and
 * was cut first. Now what a cut frees is weighed by how long the connection would take to give it back
 * at the pace it kept up recently, so connections that drain nothing go first. Real TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { BULK_CHANNEL, CHUNK_BYTES, cutsOf, fillQueues, honestSlowReader, queuedFor, sleep } from '../helpers/bulk-stream.js';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { startNode, stopAll, TEST_CHANNELS } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const MiB = 1024 * 1024;
const KiB = 1024;
const ATTACKERS = 6;
const BUDGET_BYTES = 4 * MiB;

describe('node-wide memory budget for peers: who drains', () => {
  it(`${ATTACKERS} peers that never read, each holding ~0.8× what an honest slow reader holds, get their own cut, not the reader`, { timeout: 60_000 }, async () => {
    const victim = await startNode({ channels: TEST_CHANNELS, agents: { bulk: { channels: [BULK_CHANNEL] } }, peerMemoryBudgetBytes: BUDGET_BYTES });
    const cuts = cutsOf(victim);
    const done = new AbortController();

    // The honest peer: its pull inbox of 1 is read one chunk every 150 ms, so the victim's queue for
    // it stays full (1 MiB and a chunk) and drains at ~430 KiB/s.
    const { honest, honestPeer, reader } = await honestSlowReader(victim, done.signal);
    await waitFor(() => queuedFor(honestPeer) >= MiB, 10_000, "the honest peer's queue to fill");
    // Reading for a while: its drain reaches the victim in steps of ~1.6 MiB every ~4 s (TCP's receive
    // window reopening by half a buffer), after the first burst that filled the socket buffers; the
    // two largest windows are left out of its pace.
    await waitFor(() => reader.read() >= 6 * MiB, 30_000, 'the honest peer to read 6 MiB');
    const honestHolds = queuedFor(honestPeer);
    expect(honestHolds).toBeGreaterThanOrEqual(MiB);

    // Attackers whose pull inbox of 1 is never read: they stop reading their socket. The victim's
    // app has distinct data for each (say, what each asked for), ~0.8× what the honest peer holds.
    const attackers = await Promise.all(
      Array.from({ length: ATTACKERS }, () => startNode({ channels: TEST_CHANNELS, agents: { bulk: { channels: [BULK_CHANNEL] } }, inboxCapacity: 1, listen: [] })),
    );
    for (const attacker of attackers) await attacker.sw.dial(victim.address);
    await waitFor(() => attackers.every((attacker) => victim.sw.getPeer(attacker.sw.nodeId) !== undefined), 3000, 'the victim to see every attacker');
    await fillQueues(
      attackers.map((attacker) => victim.sw.getPeer(attacker.sw.nodeId)!),
      0.8 * honestHolds,
    );
    await sleep(500);
    const readBefore = reader.read();
    await waitFor(() => reader.read() >= readBefore + 4 * CHUNK_BYTES, 5000, 'the honest peer to go on reading');
    done.abort();

    // Before: the honest reader, holding the most, was cut first (then attackers as the total stayed over).
    expect(cuts.has(honest.sw.nodeId), 'the honest reader is never cut').toBe(false);
    expect(victim.sw.getPeer(honest.sw.nodeId), 'the honest reader stays').toBeDefined();
    const attackerIds = new Set(attackers.map((attacker) => attacker.sw.nodeId));
    expect([...cuts.keys()].filter((id) => attackerIds.has(id)).length, 'attackers cut').toBeGreaterThan(0);
    expect(new Set([...cuts.values()])).toEqual(new Set(['ERR_RATE_LIMIT']));
    expect(victim.sw.peerMemoryBytes).toBeLessThanOrEqual(BUDGET_BYTES);
  });
});

describe('node-wide memory budget for peers: who drains, async receives', () => {
  const ASYNC = 0x51;
  const ASYNC_CHANNEL: ChannelDescriptor = { id: ASYNC, priority: 1, sendQueueCapacity: 64, sendQueueCapacityBytes: 2 * MiB, recvMessageCapacity: 256 * KiB };
  const MESSAGE_BYTES = 256 * KiB;
  /** What a message asks of the agent: work it finishes (250 ms, one at a time), or a lookup that never answers. */
  const WORK = 1;
  const HANGS = 2;

  /** Settles WORK messages one at a time, 250 ms each (1 MiB/s); HANGS messages only when their peer leaves. */
  class PacedAgent implements Agent {
    readonly channels = [ASYNC_CHANNEL];
    private queue: Promise<void> = Promise.resolve();
    private readonly hanging = new Map<Peer, (() => void)[]>();

    receive(_channelId: number, peer: Peer, message: Uint8Array): Promise<void> {
      if (message[0] === HANGS) {
        return new Promise<void>((resolve) => {
          const list = this.hanging.get(peer) ?? [];
          this.hanging.set(peer, list);
          list.push(resolve);
        });
      }
      this.queue = this.queue.then(() => sleep(250));
      return this.queue;
    }

    removePeer(peer: Peer): void {
      for (const settle of this.hanging.get(peer) ?? []) settle();
      this.hanging.delete(peer);
    }
  }

  it(`${ATTACKERS} peers whose receives never settle, each holding less than an honest peer's settling backlog, get their own cut`, { timeout: 60_000 }, async () => {
    const victim = await startNode({ channels: TEST_CHANNELS, agents: { paced: new PacedAgent() }, peerMemoryBudgetBytes: 10 * MiB });
    const cuts = cutsOf(victim);
    const done = new AbortController();
    // The honest peer sends work as fast as the victim takes it: 2 to 4 MiB of receives in flight
    // (paused at 4 MiB, resumed at half), settling at 1 MiB/s.
    const honest = await startNode({ channels: [...TEST_CHANNELS, ASYNC_CHANNEL], listen: [] });
    const toVictim = await honest.sw.dial(victim.address);
    let settledWork = 0;
    void (async () => {
      while (!done.signal.aborted && toVictim.connection.state === 'open') {
        if (await toVictim.send(ASYNC, new Uint8Array(MESSAGE_BYTES).fill(WORK), { timeoutMs: 5000 }).catch(() => false)) settledWork++;
      }
    })();
    // Long enough for its pace to be measured (over at least 12 s, its two largest 2-s windows left out).
    await sleep(10_000);
    expect(victim.sw.peerMemoryBytes).toBeGreaterThanOrEqual(2 * MiB);

    // Each attacker keeps 7 receives of 256 KiB in flight that never settle: 1.75 MiB, under the
    // honest peer's 2 to 4 MiB; together past the budget.
    const attackers = await Promise.all(Array.from({ length: ATTACKERS }, () => startNode({ channels: [...TEST_CHANNELS, ASYNC_CHANNEL], listen: [] })));
    const sends: Promise<unknown>[] = [];
    for (const attacker of attackers) {
      const peer = await attacker.sw.dial(victim.address);
      for (let n = 0; n < 7; n++) sends.push(peer.send(ASYNC, new Uint8Array(MESSAGE_BYTES).fill(HANGS), { timeoutMs: 5000 }).catch(() => false));
    }
    await Promise.all(sends);
    await waitFor(() => cuts.size > 0, 5000, 'a cut');
    const sentBefore = settledWork;
    await waitFor(() => settledWork >= sentBefore + 4, 5000, 'the honest peer to go on');
    done.abort();

    // Before: the honest peer, holding the most, was cut first.
    expect(cuts.has(honest.sw.nodeId), 'the honest peer is never cut').toBe(false);
    const attackerIds = new Set(attackers.map((attacker) => attacker.sw.nodeId));
    expect([...cuts.keys()].filter((id) => attackerIds.has(id)).length, 'attackers cut').toBeGreaterThan(0);
    expect(new Set([...cuts.values()])).toEqual(new Set(['ERR_RATE_LIMIT']));
    expect(victim.sw.peerMemoryBytes).toBeLessThanOrEqual(10 * MiB);
  });
});
