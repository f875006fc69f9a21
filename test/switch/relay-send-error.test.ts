import { afterEach, describe, expect, it } from 'vitest';
import { SendError } from '../../src/errors.js';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { Router } from '../../src/switch/router.js';
import { bytes, startNode, stopAll, TEST_CHANNELS, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const RELAYED = 0x40;

/**
 * The naive relaying agent an app writes first: every message on its channel to every other peer that
 * shares it, with trySend, which throws for a message over the receiving peer's recvMessageCapacity.
 */
function relayingAgent(asynchronous: boolean): Agent & { readonly peers: Set<Peer> } {
  const peers = new Set<Peer>();
  const relay = (from: Peer, message: Uint8Array): void => {
    for (const peer of peers) if (peer !== from && peer.hasChannel(RELAYED)) peer.trySend(RELAYED, message);
  };
  return {
    peers,
    channels: [{ id: RELAYED, recvMessageCapacity: 64 * 1024 }],
    addPeer: (peer) => void peers.add(peer),
    removePeer: (peer) => void peers.delete(peer),
    receive: asynchronous
      ? async (_channelId, from, message) => {
          await Promise.resolve();
          relay(from, message);
        }
      : (_channelId, from, message) => relay(from, message),
  };
}

/** A node whose only app channel is RELAYED, taking messages up to `capacity` bytes. */
async function endpoint(capacity: number, received: Uint8Array[]): Promise<TestNode> {
  return startNode({
    agents: { relayed: { channels: [{ id: RELAYED, recvMessageCapacity: capacity }], receive: (_c, _p, message) => void received.push(message) } },
  });
}

describe.each([
  ['a receive() that throws', false],
  ['a receive() that rejects', true],
] as const)('%s a SendError about another peer', (_name, asynchronous) => {
  it("reports 'agent:error' and keeps the peer that sent the message: a peer taking 1-byte messages cannot get honest senders cut", async () => {
    const relayAgent = relayingAgent(asynchronous);
    const relay = await startNode({ channels: TEST_CHANNELS, agents: { relaying: relayAgent } });
    const agentErrors: { agent: string; error: Error }[] = [];
    relay.sw.on('agent:error', (event) => agentErrors.push(event));
    const atSender: Uint8Array[] = [];
    const atTiny: Uint8Array[] = [];
    const atHonest: Uint8Array[] = [];
    const sender = await endpoint(64 * 1024, atSender);
    const tiny = await endpoint(1, atTiny);
    const honest = await endpoint(64 * 1024, atHonest);
    const toRelay = await sender.sw.dial(relay.address);
    // Honest first: the naive loop stops at the throw, so only peers before the tiny one get a message.
    await honest.sw.dial(relay.address);
    await waitFor(() => relayAgent.peers.size === 2, 5000, 'two peers at the relay');
    await tiny.sw.dial(relay.address);
    await waitFor(() => relayAgent.peers.size === 3, 5000, 'three peers at the relay');

    for (let i = 0; i < 5; i++) expect(toRelay.trySend(RELAYED, bytes(100, i))).toBe(true);
    await waitFor(() => atHonest.length === 5, 5000, 'every message relayed to the honest peer');
    expect(atHonest.map((message) => message[0])).toEqual([0, 1, 2, 3, 4]);
    await waitFor(() => agentErrors.length >= 1, 5000, "'agent:error'");
    expect(agentErrors[0]!.agent).toBe('relaying');
    expect(agentErrors[0]!.error).toBeInstanceOf(SendError);
    expect(agentErrors[0]!.error).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE', peerId: tiny.sw.nodeId });
    // The sender is still connected, and so is the peer with the small capacity.
    expect(toRelay.isConnected).toBe(true);
    expect(relay.sw.getPeer(sender.sw.nodeId)).toBeDefined();
    expect(relay.sw.getPeer(tiny.sw.nodeId)).toBeDefined();
    expect(atTiny).toEqual([]);
  });

  it("reports at most 10 of them per 10 s per agent: a sender and an accomplice taking 1-byte messages cannot flood 'agent:error'", async () => {
    const relayAgent = relayingAgent(asynchronous);
    const relay = await startNode({ channels: TEST_CHANNELS, agents: { relaying: relayAgent } });
    const agentErrors: { agent: string; error: Error; suppressed?: number }[] = [];
    relay.sw.on('agent:error', (event) => agentErrors.push(event));
    const atHonest: Uint8Array[] = [];
    const sender = await endpoint(64 * 1024, []);
    const honest = await endpoint(64 * 1024, atHonest);
    const tiny = await endpoint(1, []);
    const toRelay = await sender.sw.dial(relay.address);
    // Honest before tiny in the agent's loop: what reaches it has been offered to tiny right after.
    await honest.sw.dial(relay.address);
    await waitFor(() => relayAgent.peers.size === 2, 5000, 'two peers at the relay');
    await tiny.sw.dial(relay.address);
    await waitFor(() => relayAgent.peers.size === 3, 5000, 'three peers at the relay');
    const MESSAGES = 200;
    for (let i = 0; i < MESSAGES; i++) await toRelay.send(RELAYED, bytes(20, i), { timeoutMs: 5000 });
    await waitFor(() => atHonest.length === MESSAGES, 5000, 'every message relayed');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Before: one report per message (200).
    expect(agentErrors.length).toBe(10);
    expect(toRelay.isConnected).toBe(true);
  });
});

describe('reports of SendErrors about other peers, over time', () => {
  it('start again each window, and the first report of a window says how many were held back', () => {
    let nowMs = 1000;
    const reports: { agent: string; suppressed: number | undefined }[] = [];
    const router = new Router(16, 1 << 20, (agent, _error, suppressed) => reports.push({ agent, suppressed }), () => nowMs);
    const refuse = (): never => {
      throw new SendError('ERR_MESSAGE_TOO_LARGE', 'too large for the other peer', { peerId: 'other' });
    };
    router.assign(new Map([['relaying', { channels: [{ id: RELAYED }], receive: refuse }]]));
    const sender = { id: 'sender' } as Peer;
    const route = (): void => router.route(sender, RELAYED, bytes(4), () => expect.unreachable());
    for (let i = 0; i < 25; i++) route();
    expect(reports).toHaveLength(10);
    expect(reports.every((report) => report.suppressed === undefined)).toBe(true);
    nowMs += 10_000;
    route();
    route();
    expect(reports.slice(10)).toEqual([
      { agent: 'relaying', suppressed: 15 },
      { agent: 'relaying', suppressed: undefined },
    ]);
  });
});

describe('a receive() that throws for its own reasons', () => {
  it('still costs the peer that sent the message its connection', async () => {
    const relay = await startNode({
      agents: {
        strict: {
          channels: [{ id: RELAYED, recvMessageCapacity: 1024 }],
          receive: () => {
            throw new SendError('ERR_MESSAGE_TOO_LARGE', 'an agent rule about this very peer');
          },
        },
      },
    });
    const sender = await endpoint(1024, []);
    const toRelay = await sender.sw.dial(relay.address);
    expect(toRelay.trySend(RELAYED, bytes(10))).toBe(true);
    await waitFor(() => !toRelay.isConnected, 5000, 'the sender cut');
  });
});
