/**
 * An agent that passes what one peer sends on to another with `void peer.send(…)` (a sync `receive`
 * that does not wait for the send: the 64-receives-in-flight bound does not apply), while the peer it
 * passes on to stops reading: each message the flooder sends became a send waiting for room, holding
 * its message, a promise and a timer for `sendTimeoutMs`, without bound (250,000 and 420 MB of heap
 * within 8 s here). Now as many sends may wait on a channel as its queue holds; past that `send`
 * resolves false at once (not taken, as on a timeout). A send that gives up waiting (its timeout, its
 * signal) is marked spent and skipped at the front; spent ones behind a send that waits on were held
 * until it went, one per message passed on. Real TCP on 127.0.0.1; the non-reader sits behind a proxy
 * that stops reading from us, so our socket and then our queue fill.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SEND_QUEUE_CAPACITY_MESSAGES } from '../../src/conn/constants.js';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { heapUsedBytes } from './harness.js';
import { guardProcessFaults, startProxy, type TcpProxy } from './raw-peer.js';

guardProcessFaults();

const APP = 0x40;
const CHANNELS = [{ id: APP, recvMessageCapacity: 64 * 1024 }];
const FLOOD_MS = 3000;
/** How long the agent of the second test lets each passed-on message wait for room. */
const PASS_ON_TIMEOUT_MS = 20;

let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await stopAll();
});

/** The victim's channel's waiters toward `peer` (its Channel's private ones, read for the test): sends waiting, and entries held. */
function waiters(peer: Peer | undefined): { live: number; held: number } {
  type Inside = { size: number; waiters: unknown[]; head: number };
  const inside = (peer?.connection as unknown as { scheduler: { channel(id: number): { roomWaiters?: Inside } | undefined } } | undefined)?.scheduler.channel(APP)?.roomWaiters;
  return inside === undefined ? { live: 0, held: 0 } : { live: inside.size, held: inside.waiters.length - inside.head };
}

async function connect(node: TestNode, victim: TestNode, port: number): Promise<Peer> {
  const peer = await node.sw.dial(`tcp://${victim.sw.nodeId}@127.0.0.1:${port}`);
  await waitFor(() => victim.sw.getPeer(node.sw.nodeId) !== undefined, 3000, 'victim sees the peer');
  return peer;
}

/** The victim, running `relay`, and a sink behind the proxy that has stopped reading from it. */
async function victimWithStalledSink(relay: Agent): Promise<{ victim: TestNode; port: number; sink: TestNode; resumeSink: () => void }> {
  const victim = await startNode({ channels: [{ id: 0x50 }], agents: { relay } });
  const port = Number(victim.address.split(':').pop());
  const sinkProxy = (proxy = await startProxy(port));
  const sink = await startNode({ listen: [], channels: CHANNELS, moniker: 'sink' });
  await connect(sink, victim, sinkProxy.port);
  // The sink stops reading: our socket toward it fills, then our queue, then sends wait.
  sinkProxy.pipes[0]!.server.pause();
  return { victim, port, sink, resumeSink: () => sinkProxy.pipes[0]!.server.resume() };
}

describe('sends waiting for room toward a peer that does not read', () => {
  it('are capped at what the queue holds: the rest resolve false at once, the heap stays flat, honest traffic flows', { timeout: 30_000 }, async () => {
    const counts = { waiting: 0, refused: 0, honest: 0 };
    let sinkId: string | undefined;
    const relay: Agent = {
      channels: CHANNELS,
      receive: (_channel, from, message) => {
        if (from.nodeInfo.moniker === 'honest') {
          counts.honest++;
          return;
        }
        const sink = sinkId === undefined ? undefined : victim.sw.getPeer(sinkId);
        if (sink === undefined) return;
        counts.waiting++;
        void sink.send(APP, message).then((taken) => {
          counts.waiting--;
          if (!taken) counts.refused++;
        });
      },
    };
    const { victim, port, sink, resumeSink } = await victimWithStalledSink(relay);
    sinkId = sink.sw.nodeId;
    const honest = await startNode({ listen: [], channels: CHANNELS, moniker: 'honest' });
    const toVictimHonest = await connect(honest, victim, port);
    const flooder = await startNode({ listen: [], channels: CHANNELS, moniker: 'flooder' });
    const toVictim = await connect(flooder, victim, port);

    const baseline = heapUsedBytes();
    let peakHeap = 0;
    let flooded = 0;
    let honestSent = 0;
    let maxWaitingSends = 0;
    const started = performance.now();
    while (performance.now() - started < FLOOD_MS) {
      for (let i = 0; i < 200; i++) if (toVictim.trySend(APP, new Uint8Array(100))) flooded++;
      if (toVictimHonest.trySend(APP, new Uint8Array(8))) honestSent++;
      await new Promise((resolve) => setImmediate(resolve));
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - baseline);
      maxWaitingSends = Math.max(maxWaitingSends, waiters(victim.sw.getPeer(sink.sw.nodeId)).live);
    }
    const retained = heapUsedBytes() - baseline;
    // Before: every flooded message waited (~150,000 in 3 s), ~250 MB of heap.
    expect(flooded).toBeGreaterThan(20_000);
    expect(maxWaitingSends, 'sends waiting for room at once').toBeLessThanOrEqual(DEFAULT_SEND_QUEUE_CAPACITY_MESSAGES);
    expect(maxWaitingSends, 'the flood did make sends wait').toBeGreaterThan(0);
    expect(counts.refused, 'the rest were refused at once, not held').toBeGreaterThan(flooded / 2);
    expect(retained, 'heap retained').toBeLessThan(32 * 1024 * 1024);
    expect(peakHeap, 'heap at its peak').toBeLessThan(96 * 1024 * 1024);
    await waitFor(() => counts.honest === honestSent, 3000, 'every honest message');
    expect(toVictim.isConnected && toVictimHonest.isConnected).toBe(true);

    // Reading again, the sink gets what was taken for it, and no send is left waiting.
    resumeSink();
    await waitFor(() => counts.waiting === 0, 10_000, 'the waiting sends are taken');
  });
});

describe('sends that stop waiting behind one that waits on', () => {
  it('are let go of: the waiters hold no more entries than live sends plus a fixed slack', { timeout: 30_000 }, async () => {
    let sinkId: string | undefined;
    let passedOn = 0;
    const relay: Agent = {
      channels: CHANNELS,
      receive: (_channel, _from, message) => {
        const sink = sinkId === undefined ? undefined : victim.sw.getPeer(sinkId);
        if (sink === undefined) return;
        passedOn++;
        void sink.send(APP, message, { timeoutMs: PASS_ON_TIMEOUT_MS });
      },
    };
    const { victim, port, sink, resumeSink } = await victimWithStalledSink(relay);
    sinkId = sink.sw.nodeId;
    const toSink = victim.sw.getPeer(sinkId)!;
    // Fill our socket and queue toward the sink; then one send of the app's waits, with a long timeout.
    const chunk = new Uint8Array(32 * 1024);
    // Kernel buffers take more for a while after the proxy stops reading: full means full for 500 ms.
    let fullSince = performance.now();
    await waitFor(() => {
      while (toSink.trySend(APP, chunk)) fullSince = performance.now();
      return performance.now() - fullSince > 500;
    }, 10_000, 'the queue toward the sink is full');
    let appSendTaken: boolean | undefined;
    void toSink.send(APP, chunk, { timeoutMs: 60_000 }).then((taken) => (appSendTaken = taken));
    expect(waiters(toSink).live).toBe(1);

    const flooder = await startNode({ listen: [], channels: CHANNELS, moniker: 'flooder' });
    const toVictim = await connect(flooder, victim, port);
    let maxHeld = 0;
    let maxLive = 0;
    const started = performance.now();
    while (performance.now() - started < FLOOD_MS) {
      for (let i = 0; i < 200; i++) toVictim.trySend(APP, new Uint8Array(100));
      await new Promise((resolve) => setImmediate(resolve));
      const { live, held } = waiters(toSink);
      maxHeld = Math.max(maxHeld, held);
      maxLive = Math.max(maxLive, live);
    }
    expect(passedOn, 'the flood was passed on').toBeGreaterThan(20_000);
    expect(maxLive).toBeLessThanOrEqual(DEFAULT_SEND_QUEUE_CAPACITY_MESSAGES);
    // Before: every send that gave up while the app's waited (150,000 in 3 s, +7.9 MB of heap).
    expect(maxHeld, `entries held (${passedOn} passed on, at most ${maxLive} live)`).toBeLessThanOrEqual(2 * DEFAULT_SEND_QUEUE_CAPACITY_MESSAGES + 1024);
    expect(appSendTaken, "the app's send still waits").toBeUndefined();
    expect(toVictim.isConnected).toBe(true);

    resumeSink();
    await waitFor(() => appSendTaken !== undefined, 10_000, "the app's send is taken");
    expect(appSendTaken).toBe(true);
  });
});
