/**
 * A receiver that cannot stop its link from reading (a page's WebSocket) limits what it reads a second
 * (`connection.recvRateBytesPerSec`, 4 MiB/s per peer in browsers): past it, what keeps arriving is held,
 * and a peer holding past the bound is cut (ERR_RATE_LIMIT). An honest sender must therefore pace to
 * that rate, as the receiver charges it (each frame at least 1 KiB, each message at least 128 B): the
 * receiver announces the rate in its NodeInfo, and the sender's connection sends at no more than it.
 *
 * Real ws:// on 127.0.0.1; the receiver dials like a page, its side seen only through the browser's
 * WebSocket surface (no pause). Its node-wide peer memory budget is set to 512 KiB, so that everything
 * its link holds while paused counts against that (the budget cuts the link holding it, ERR_RATE_LIMIT):
 * the test proves the sender kept within what the receiver reads, not merely within the 4 MiB a page
 * holds for one link.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { MIN_PACED_SEND_RATE_BYTES_PER_SEC, PACED_SHARE_OF_ANNOUNCED_RATE, pacedSendRate } from '../../src/switch/send-pacing.js';
import { WebSocketClientTransport } from '../../src/transport/websocket-client.js';
import { BrowserLikeWebSocket } from '../helpers/browser-websocket.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

const BULK = 0x42;
const CHANNELS: ChannelDescriptor[] = [{ id: BULK, priority: 1, recvMessageCapacity: 64 * 1024 }];
/** The browsers' default (BROWSER_RECV_RATE_BYTES_PER_SEC). */
const RECV_RATE_BYTES_PER_SEC = 4 * 1024 * 1024;
const RECEIVER_BUDGET_BYTES = 512 * 1024;

afterEach(stopAll);

async function pageLikeReceiverOf(): Promise<{ send: (message: Uint8Array, count: number) => Promise<void>; received: () => number; errors: string[]; pacedAt: number }> {
  const sender = await startNode({ channels: CHANNELS, transports: [wsTransport()], listen: ['ws://127.0.0.1:0/'] });
  const receiver = await startNode({
    channels: CHANNELS,
    transports: [new WebSocketClientTransport(BrowserLikeWebSocket)],
    listen: [],
    connection: { recvRateBytesPerSec: RECV_RATE_BYTES_PER_SEC },
    peerMemoryBudgetBytes: RECEIVER_BUDGET_BYTES,
  });
  const errors: string[] = [];
  for (const [name, node] of [['receiver', receiver], ['sender', sender]] as const) {
    node.sw.on('peer:disconnected', ({ reason }) => void errors.push(`${name}: ${(reason as { code?: string } | undefined)?.code ?? String(reason)}`));
  }
  await receiver.sw.dial(sender.address);
  await waitFor(() => sender.sw.getPeer(receiver.sw.nodeId) !== undefined, 3000, 'the sender to see the receiver');
  const peer = sender.sw.getPeer(receiver.sw.nodeId)!;
  return {
    errors,
    pacedAt: peer.status().sendRateBytesPerSec,
    received: () => receiver.agent.messages.length,
    send: async (message, count) => {
      for (let n = 0; n < count && errors.length === 0; n++) {
        if (!(await peer.send(BULK, message, { timeoutMs: 20_000 }))) throw new Error(`send ${n} refused; ${errors.join(', ')}`);
      }
    },
  };
}

describe('an honest sender into a receiver that cannot pause its link and reads at most 4 MiB/s', () => {
  it.each([
    // [shape, message bytes, messages]: 8 MiB, 4 MiB, and 60,000 messages the receiver charges 128 B each.
    ['64 KiB messages', 64 * 1024, 128],
    ['1 KiB messages', 1024, 4096],
    ['32-byte messages', 32, 60_000],
  ])('%s: every one arrives, and the sender is never cut', async (_shape, size, count) => {
    const { send, received, errors, pacedAt } = await pageLikeReceiverOf();
    expect(pacedAt).toBe(Math.floor(RECV_RATE_BYTES_PER_SEC * PACED_SHARE_OF_ANNOUNCED_RATE));
    await send(new Uint8Array(size).fill(7), count);
    await waitFor(() => received() === count || errors.length > 0, 20_000, `${count} messages (${received()} so far)`);
    expect(errors).toEqual([]);
    expect(received()).toBe(count);
  }, 30_000);
});

describe('what a connection is paced to', () => {
  const announced4MiB = 4 * 1024 * 1024;
  it.each([
    ['no announcement, no limit of ours', 0, undefined, 0],
    ['an announcement of 0 (none)', 0, 0, 0],
    ['no announcement, ours', 100_000, undefined, 100_000],
    ['4 MiB/s announced', 0, announced4MiB, Math.floor(announced4MiB * PACED_SHARE_OF_ANNOUNCED_RATE)],
    ['4 MiB/s announced, ours lower', 100_000, announced4MiB, 100_000],
    ['a byte a second announced', 0, 1, MIN_PACED_SEND_RATE_BYTES_PER_SEC],
    ['a byte a second announced, ours lower than the floor', 1000, 1, 1000],
    ['the most a NodeInfo may announce', 0, 2 ** 40, Math.floor(2 ** 40 * PACED_SHARE_OF_ANNOUNCED_RATE)],
  ])('%s', (_case, own, announced, paced) => {
    expect(pacedSendRate(own, announced)).toBe(paced);
  });

  it('over real TCP: to a peer that announces a byte a second, the floor; to one that announces none, our own rate', async () => {
    const sender = await startNode({ channels: CHANNELS, connection: { sendRateBytesPerSec: 200_000 } });
    const tiny = await startNode({ channels: CHANNELS, connection: { recvRateBytesPerSec: 1 } });
    const unlimited = await startNode({ channels: CHANNELS });
    const toTiny = await sender.sw.dial(tiny.address);
    const toUnlimited = await sender.sw.dial(unlimited.address);
    expect(toTiny.nodeInfo.recvBytesPerSecond).toBe(1);
    expect(toTiny.status().sendRateBytesPerSec).toBe(MIN_PACED_SEND_RATE_BYTES_PER_SEC);
    expect('recvBytesPerSecond' in toUnlimited.nodeInfo).toBe(false);
    expect(toUnlimited.status().sendRateBytesPerSec).toBe(200_000);
  });
});
