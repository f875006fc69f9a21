/**
 * A victim streaming distinct bulk data to peers that read it slowly or not at all: for the tests of
 * who the node-wide memory budget cuts (test/hostile/peer-memory-budget-*.test.ts).
 */
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import type { Peer } from '../../src/switch/peer.js';
import { startNode, TEST_CHANNELS, type TestNode } from './nodes.js';
import { waitFor } from './wait.js';

const KiB = 1024;
export const BULK = 0x42;
/** A 1 MiB send queue (the default byte capacity) of 64 KiB chunks. */
export const BULK_CHANNEL: ChannelDescriptor = { id: BULK, priority: 1, sendQueueCapacity: 4096, recvMessageCapacity: 128 * KiB };
export const CHUNK_BYTES = 64 * KiB;
/** The honest peer reads one chunk every this many ms: ~430 KiB/s, far slower than the victim sends. */
export const HONEST_READ_EVERY_MS = 150;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Who the victim cut, and why. */
export function cutsOf(victim: TestNode): Map<string, string | undefined> {
  const cuts = new Map<string, string | undefined>();
  victim.sw.on('peer:disconnected', ({ peer, reason }) => void cuts.set(peer.id, (reason as { code?: string } | undefined)?.code));
  return cuts;
}

/** Bytes the victim has queued for `peer` on the bulk channel. */
export function queuedFor(peer: Peer | undefined): number {
  return peer?.connection.status().channels.find((channel) => channel.id === BULK)?.sendQueueBytes ?? 0;
}

/** The victim's app sends distinct chunks to `peer` as fast as its queue takes them, until `stop`. */
export function stream(peer: Peer, stop: AbortSignal): void {
  void (async () => {
    for (let n = 0; !stop.aborted; n++) {
      if (!(await peer.send(BULK, new Uint8Array(CHUNK_BYTES).fill(n & 0xff), { timeoutMs: 5000 }).catch(() => false)) && peer.connection.state !== 'open') return;
    }
  })();
}

/** Reads the honest node's bulk channel one chunk at a time, slowly; counts the bytes read. */
export function slowReader(node: TestNode, stop: AbortSignal): { read: () => number } {
  let read = 0;
  void (async () => {
    try {
      for await (const { message } of node.sw.receive(BULK, { signal: stop })) {
        read += message.length;
        await sleep(HONEST_READ_EVERY_MS);
      }
    } catch {
      // aborted at the end of the test
    }
  })();
  return { read: () => read };
}

/** The victim's app queues distinct data for each of `peers` (say, what each asked for) until it holds `target` bytes. */
export async function fillQueues(peers: readonly Peer[], target: number): Promise<void> {
  let seed = 0;
  await Promise.all(
    peers.map(async (peer) => {
      while (peer.connection.state === 'open' && queuedFor(peer) < target) {
        if (!(await peer.send(BULK, new Uint8Array(CHUNK_BYTES).fill(++seed & 0xff), { timeoutMs: 1000 }).catch(() => false))) break;
      }
    }),
  );
}

/**
 * An honest peer of `victim` whose pull inbox of 1 is read one chunk every HONEST_READ_EVERY_MS, while
 * the victim streams to it: the victim's queue for it stays full (1 MiB and a chunk).
 */
export async function honestSlowReader(victim: TestNode, stop: AbortSignal): Promise<{ honest: TestNode; honestPeer: Peer; reader: { read: () => number } }> {
  const honest = await startNode({ channels: TEST_CHANNELS, agents: { bulk: { channels: [BULK_CHANNEL] } }, inboxCapacity: 1, listen: [] });
  await honest.sw.dial(victim.address);
  await waitFor(() => victim.sw.getPeer(honest.sw.nodeId) !== undefined, 3000, 'the victim to see the honest peer');
  const honestPeer = victim.sw.getPeer(honest.sw.nodeId)!;
  const reader = slowReader(honest, stop);
  stream(honestPeer, stop);
  return { honest, honestPeer, reader };
}
