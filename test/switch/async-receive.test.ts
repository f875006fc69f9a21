/**
 * An agent whose `receive` is async (it awaits storage, a database...) against a peer that floods its
 * channel: the Switch holds at most a bounded number of its receives in flight per peer, pausing that
 * peer's connection meanwhile, and delivers every message. Real TCP on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/switch/agent.js';
import { MAX_ASYNC_RECEIVES_PER_PEER } from '../../src/switch/constants.js';
import type { Peer } from '../../src/switch/peer.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const SLOW_CH = 0x50;

class SlowAgent implements Agent {
  readonly channels = [{ id: SLOW_CH, priority: 1, sendQueueCapacity: 16, recvMessageCapacity: 1024 }];
  inFlight = 0;
  maxInFlight = 0;
  received: number[] = [];
  async receive(_channelId: number, _peer: Peer, message: Uint8Array): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 2));
    this.received.push(new DataView(message.buffer, message.byteOffset, 4).getUint32(0));
    this.inFlight--;
  }
}

describe('async receive under a flood', () => {
  it(`holds at most ${MAX_ASYNC_RECEIVES_PER_PEER} (+1) receives in flight for one peer, and delivers every message in order`, { timeout: 60_000 }, async () => {
    const agent = new SlowAgent();
    const victim = await startNode({ agents: { slow: agent } });
    const flooder = await startNode({ channels: [{ id: SLOW_CH, priority: 1, sendQueueCapacity: 8192, recvMessageCapacity: 1024 }] });
    const peer = await flooder.sw.dial(victim.address);
    const count = 5000;
    let sent = 0;
    while (sent < count) {
      const message = new Uint8Array(4);
      new DataView(message.buffer).setUint32(0, sent);
      if (peer.trySend(SLOW_CH, message)) sent++;
      else await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await waitFor(() => agent.received.length === count, 50_000, 'every message received');
    expect(agent.maxInFlight, 'receives in flight at once').toBeLessThanOrEqual(MAX_ASYNC_RECEIVES_PER_PEER + 1);
    expect(agent.received).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(victim.sw.getPeer(flooder.key.nodeId), 'the sender keeps its connection').toBeDefined();
  });
});
