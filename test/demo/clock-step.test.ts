/**
 * The demo agents when the machine's wall clock steps (NTP, a VM's clock catching up or restored): only
 * Date.now steps here, as there; timers and performance.now do not. What the agents pace or age in
 * memory must read time that never steps; what crosses nodes or restarts (an announcement's seq) stays
 * on the wall clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChatAgent, ChatCh, MAX_CHAT_MESSAGE_BYTES, encodeChatMessage } from '../../demo/agents/chat.js';
import { FairOutbox } from '../../demo/agents/fair-outbox.js';
import { MempoolAgent, MempoolCh } from '../../demo/agents/mempool.js';
import { TopologyAgent } from '../../demo/agents/topology.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { steppableWallClock } from '../helpers/wall-clock-step.js';

const HOUR_MS = 3_600_000;
const wallClock = steppableWallClock();
const stepWallClock = (ms: number): void => wallClock.step(ms);

afterEach(stopAll);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** waitFor on real time (test/helpers' reads Date.now, which a test here steps). */
async function waitReal(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

describe('a wall-clock step forward and the pace of what we pass on', () => {
  it('FairOutbox: a one-hour step forward is no refill of the pace (before: a second burst at once)', () => {
    const box = new FairOutbox<number>({ ratePerSecond: 1, burst: 4, bytesPerSecond: 1e6, burstBytes: 1e6, maxQueuedPerSource: 16, maxQueuedBytesPerSource: 1e6, maxQueued: 16, maxQueuedBytes: 1e6 });
    const sent: number[] = [];
    for (let i = 0; i < 8; i++) box.push('a', i, 10);
    box.drain((item) => (sent.push(item), true));
    expect(sent).toHaveLength(4);
    stepWallClock(HOUR_MS);
    box.drain((item) => (sent.push(item), true));
    expect(sent, 'within the same real millisecond').toHaveLength(4);
  });

  it('MempoolAgent: after a one-hour step forward a relay still passes txs on at its pace, below the peer\'s allowance (before: a second burst at once, past it)', async () => {
    // Our pace toward a peer: half its burst of 20 (10), 9 a second; the peer counts in real time.
    const mempool = new MempoolAgent({ peerRatePerSecond: 10, peerBurst: 20 });
    const relay = await startNode({ channels: [{ id: 0x20 }], agents: { mempool } });
    const peer = await startNode({ channels: [{ id: MempoolCh, recvMessageCapacity: 128 * 1024 }] });
    await relay.sw.dial(peer.address);
    await waitFor(() => relay.sw.peers.length === 1 && peer.sw.peers.length === 1, 3000, 'the link');
    const heard = (): number => peer.agent.messages.filter((m) => m.channelId === MempoolCh).length;
    for (let i = 0; i < 10; i++) mempool.addTx(new TextEncoder().encode(`first-${i}`));
    await waitFor(() => heard() === 10, 3000, 'the first burst');
    const before = heard();
    stepWallClock(HOUR_MS);
    for (let i = 0; i < 10; i++) mempool.addTx(new TextEncoder().encode(`second-${i}`));
    const started = performance.now();
    await sleep(150);
    const allowed = 1 + Math.ceil((9 * (performance.now() - started)) / 1000) + 1;
    // Before: all 10 at once (20 within ~0.2 s: the peer's whole burst; with its other peers' txs, past it).
    expect(heard() - before, 'txs passed on within ~0.15 s of real time').toBeLessThanOrEqual(allowed);
    expect(mempool.forwardPending.txs).toBeGreaterThan(0);
  });
});

describe('a wall-clock step back and what the topology ages in memory', () => {
  it('TopologyAgent: after a one-hour step back a node still announces a new link, and its peer takes it within a second (before: neither, for the hour)', async () => {
    const start = async (moniker: string) => {
      const topology = new TopologyAgent({ kind: 'node', moniker, announceIntervalMs: 200, entryTtlMs: 800 });
      return { ...(await startNode({ agents: { topology } })), topology };
    };
    const [a, b, c] = await Promise.all([start('a'), start('b'), start('c')]);
    await a.sw.dial(b.address);
    const linksOfA = (): string[] => b.topology.snapshot().nodes.find((node) => node.id === a.sw.nodeId)?.links.map((link) => link.peer) ?? [];
    await waitReal(() => linksOfA().length === 1, 3000, 'b to hear a');
    stepWallClock(-HOUR_MS);
    await a.sw.dial(c.address);
    // Before: a waited an hour to announce (its last announcement read as an hour ahead), and b would
    // have refused it as too soon after the last (and kept a's old entry alive for the hour).
    await waitReal(() => linksOfA().includes(c.sw.nodeId), 1500, 'b to hear of a\'s link to c');
  });
});

describe('a wall-clock step forward and what a peer may make us take', () => {
  it('ChatAgent: after a one-hour step forward a peer that spent its burst gets no fresh one (before: another burst at once)', async () => {
    const chat = new ChatAgent({ peerBurst: 5, peerRatePerSecond: 1 });
    const node = await startNode({ channels: [], agents: { chat } });
    const rogue = await startNode({ channels: [{ id: ChatCh, recvMessageCapacity: MAX_CHAT_MESSAGE_BYTES }] });
    const toNode = await rogue.sw.dial(node.address);
    const send = (count: number): void => {
      for (let i = 0; i < count; i++) {
        toNode.trySend(ChatCh, encodeChatMessage({ id: crypto.getRandomValues(new Uint8Array(16)), origin: rogue.sw.nodeId, name: 'r', text: 'x', hops: 0 }));
      }
    };
    const seen = (): number => chat.stats().delivered + chat.stats().rateLimited;
    send(5);
    await waitReal(() => seen() === 5, 3000, 'the burst taken');
    stepWallClock(HOUR_MS);
    const started = performance.now();
    send(5);
    await waitReal(() => seen() === 10, 3000, 'the second five read');
    // What refilled in real time meanwhile, and one for rounding. Before: all 5 taken.
    expect(chat.stats().delivered - 5).toBeLessThanOrEqual(1 + Math.ceil((performance.now() - started) / 1000));
  });
});
