/**
 * The relay program is open to strangers, so it limits what each peer may make it read and process a
 * second (RELAY_RECV_RATE_BYTES_PER_SEC unless `--recv-rate` says otherwise): over real TCP, a peer
 * pushing messages as fast as it can gets them read at that rate, not at the link's.
 */
import { afterEach, expect, it } from 'vitest';
import { BurstAgent } from '../../demo/agents/burst.js';
import { RELAY_RECV_RATE_BYTES_PER_SEC, runNode, type NodeConfig, type RunningNode } from '../../demo/node-runner.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { guardProcessFaults } from '../hostile/raw-peer.js';
import { waitFor } from '../helpers/wait.js';

guardProcessFaults();
const NETWORK = 'relay-rate-net';
const relays: RunningNode[] = [];
afterEach(async () => {
  await stopAll();
  await Promise.all(relays.splice(0).map((node) => node.stop()));
});

async function startRelay(recvRateBytesPerSec?: number): Promise<RunningNode> {
  const config: NodeConfig = {
    listen: ['tcp://127.0.0.1:0'], ws: undefined, persistent: [], seeds: [], home: undefined, network: NETWORK, moniker: 'relay',
    status: undefined, maxInbound: undefined, maxOutbound: undefined, allowLocal: true, recvRateBytesPerSec,
  };
  const node = await runNode(config, () => undefined);
  relays.push(node);
  return node;
}

it('reads a flooding peer at its receive limit (4 MiB/s by default), and not at all when told 0', async () => {
  expect(RELAY_RECV_RATE_BYTES_PER_SEC).toBe(4 * 1024 * 1024);
  expect((await startRelay()).sw.options.connection.recvRateBytesPerSec).toBe(4 * 1024 * 1024);
  expect((await startRelay(0)).sw.options.connection.recvRateBytesPerSec).toBe(0);

  const rate = 256 * 1024;
  const relay = await startRelay(rate);
  const burst = new BurstAgent();
  const flooder = await startNode({ network: NETWORK, channels: [], agents: { burst } });
  await flooder.sw.dial(relay.sw.addresses[0]!);
  const atRelay = (): number => relay.sw.peers.find((peer) => peer.id === flooder.key.nodeId)?.status().receivedBytes ?? 0;
  await waitFor(() => relay.sw.peers.length === 1, 5000, 'the flooder connected');
  const before = atRelay();
  const startedAt = performance.now();
  // 1,000 messages of 1 KiB, as fast as the relay takes them (queues wait for room).
  const sending = burst.burst(1000);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const read = atRelay() - before;
  const elapsedSeconds = (performance.now() - startedAt) / 1000;
  // At most the rate for the time it had, a bucket of 100 ms and one frame more; before (no limit) the
  // whole megabyte was read within a few ms.
  expect(read).toBeGreaterThan(0);
  expect(read).toBeLessThanOrEqual(rate * elapsedSeconds + rate / 10 + 64 * 1024 + 4096);
  await sending;
});
