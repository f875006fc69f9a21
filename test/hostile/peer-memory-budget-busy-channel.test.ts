/**
 * Who the node-wide memory budget cuts when a peer reads its socket slowly but makes us send on a busy
 * channel of higher priority (an agent echoing its requests): over TCP it cannot read one channel and
 * not another, but our sender gives the busy channel ~10× the bulk channel's share of whatever it
 * reads, so its bulk queue drains at a tenth of what leaves its queues. Measured for the connection as
 * a whole, that drain passed for its bulk queue's: the peer looked 11× faster than it was and an honest
 * slow reader was cut first. Each queue is now weighed by its own drain. Real TCP on 127.0.0.1.
 */
import { afterEach, expect, it } from 'vitest';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { BULK, BULK_CHANNEL, CHUNK_BYTES, cutsOf, honestSlowReader, queuedFor, sleep } from '../helpers/bulk-stream.js';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { startNode, stopAll, TEST_CHANNELS, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const MiB = 1024 * 1024;
const KiB = 1024;
const ATTACKERS = 4;
const BUDGET_BYTES = 3.5 * MiB;
const ECHO = 0x44;
/** The busy channel: 10× the bulk channel's priority; the victim's echoes beyond 256 KiB queued are dropped. */
const ECHO_CHANNEL: ChannelDescriptor = { id: ECHO, priority: 10, sendQueueCapacity: 4096, sendQueueCapacityBytes: 256 * KiB, recvMessageCapacity: 64 * KiB };
const ECHO_BYTES = 8 * KiB;
/** An attacker reads one bulk chunk every 2 s: ~32 KiB/s, and ~320 KiB/s of echoes ride along. */
const ATTACKER_READ_EVERY_MS = 2000;

/** The victim's agent: sends back every message on the echo channel. */
const echoer = { channels: [ECHO_CHANNEL], receive: (_channelId: number, peer: Peer, message: Uint8Array) => void peer.trySend(ECHO, message) } satisfies Agent;

/** An attacker reading bulk chunks slowly while keeping the victim echoing; the victim's app keeps its bulk queue at `target()`. */
async function busyReader(victim: TestNode, target: () => number, stop: AbortSignal): Promise<TestNode> {
  // Takes the echoes as they come: they ride along with whatever of the bulk chunks it reads.
  const counter = { channels: [ECHO_CHANNEL], receive: () => undefined } satisfies Agent;
  const attacker = await startNode({ channels: TEST_CHANNELS, agents: { bulk: { channels: [BULK_CHANNEL] }, echo: counter }, inboxCapacity: 1, listen: [] });
  const toVictim = await attacker.sw.dial(victim.address);
  await waitFor(() => victim.sw.getPeer(attacker.sw.nodeId) !== undefined, 3000, 'the victim to see the attacker');
  const peer = victim.sw.getPeer(attacker.sw.nodeId)!;
  void (async () => {
    for (let seed = 0; !stop.aborted && peer.connection.state === 'open'; ) {
      if (queuedFor(peer) >= target()) await sleep(20);
      else await peer.send(BULK, new Uint8Array(CHUNK_BYTES).fill(++seed & 0xff), { timeoutMs: 1000 }).catch(() => false);
    }
  })();
  void (async () => {
    try {
      for await (const _ of attacker.sw.receive(BULK, { signal: stop })) await sleep(ATTACKER_READ_EVERY_MS);
    } catch {
      // aborted at the end of the test
    }
  })();
  void (async () => {
    while (!stop.aborted && toVictim.connection.state === 'open') {
      if (!(await toVictim.send(ECHO, new Uint8Array(ECHO_BYTES), { timeoutMs: 1000 }).catch(() => false))) await sleep(10);
    }
  })();
  return attacker;
}

it(`${ATTACKERS} peers reading their bulk queue at ~32 KiB/s behind a busy echo channel of 10× its priority get their own cut, not an honest reader taking 430 KiB/s`, { timeout: 120_000 }, async () => {
  const victim = await startNode({ channels: TEST_CHANNELS, agents: { bulk: { channels: [BULK_CHANNEL] }, echo: echoer }, peerMemoryBudgetBytes: BUDGET_BYTES });
  const cuts = cutsOf(victim);
  const done = new AbortController();
  const { honest, honestPeer, reader } = await honestSlowReader(victim, done.signal);
  await waitFor(() => queuedFor(honestPeer) >= MiB, 10_000, "the honest peer's queue to fill");
  const honestHolds = queuedFor(honestPeer);

  // First the attackers hold little (all within the budget) while their pace is measured: over TCP
  // (socket buffers absorbing bursts) 55-90 KiB/s leaving their queues in all, a tenth of it bulk.
  // Then the victim's app has more for each, ~0.45× what the honest peer holds: past the budget.
  let attackerTarget = 0.3 * honestHolds;
  const attackers = await Promise.all(Array.from({ length: ATTACKERS }, () => busyReader(victim, () => attackerTarget, done.signal)));
  await sleep(30_000);
  expect(cuts.size, 'nobody cut while within the budget').toBe(0);
  attackerTarget = 0.45 * honestHolds;
  await waitFor(() => cuts.size > 0, 15_000, 'a cut');
  await sleep(1000);
  const readBefore = reader.read();
  await waitFor(() => reader.read() >= readBefore + 4 * CHUNK_BYTES, 10_000, 'the honest peer to go on reading');
  done.abort();

  // Before: each attacker counted as draining 55-90 KiB/s (~0.13 of what it held), under the honest
  // reader's 1/8 of more: after one attacker, the reader was cut. Now its bulk queue counts as stalled.
  expect(cuts.has(honest.sw.nodeId), 'the honest reader is never cut').toBe(false);
  const attackerIds = new Set(attackers.map((attacker) => attacker.sw.nodeId));
  expect([...cuts.keys()].filter((id) => attackerIds.has(id)).length, 'attackers cut').toBeGreaterThan(0);
  expect(new Set([...cuts.values()])).toEqual(new Set(['ERR_RATE_LIMIT']));
});
