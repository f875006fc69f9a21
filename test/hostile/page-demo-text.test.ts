/**
 * What a peer writes in the demo's own messages reaches the page's DOM: a chat author's name and text
 * (`appendChat`), a topology announcement's moniker (graph labels, their titles, the "Gone: …" caption).
 * The page uses textContent, so no markup runs; but an unclosed bidi override (U+202E) in an author's
 * name reversed the rest of its line, the route and the text written after it ("…gnikcab ruoy htiw"),
 * and a node's moniker could read as another's. Real TCP between a rogue node and honest agents.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatAgent, ChatCh, encodeChatMessage, type ChatDelivery } from '../../demo/agents/chat.js';
import { encodeAnnouncement, TopologyAgent, TopologyCh } from '../../demo/agents/topology.js';
import type { Agent } from '../../src/switch/agent.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const RLO = '\u202e';
/** Bidi controls, C0/C1 controls and line separators: what must not reach the page. */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/u;

describe('a peer writing control and bidi characters into the demo’s chat and topology', () => {
  it('reaches the page and the next node as U+FFFD, the message otherwise unchanged', async () => {
    const received: ChatDelivery[] = [];
    const passedOn: ChatDelivery[] = [];
    const chat = new ChatAgent({ onMessage: (message) => received.push(message) });
    const topology = new TopologyAgent({ kind: 'page', announceIntervalMs: 200 });
    const page = await startNode({ agents: { chat, topology } });
    const next = await startNode({ agents: { chat: new ChatAgent({ onMessage: (message) => passedOn.push(message) }), topology: new TopologyAgent({ kind: 'page' }) } });
    const rogueAgent: Agent = { channels: [{ id: ChatCh }, { id: TopologyCh }] };
    const rogue = await startNode({ agents: { rogue: rogueAgent } });
    await next.sw.dial(page.address);
    const toPage = await rogue.sw.dial(page.address);
    await waitFor(() => page.sw.peers.length === 2, 3000, 'both peers');

    const name = `amber-otter${RLO}`;
    const text = `${RLO}\u001b[2Jgnikcab ruoy htiw\r\nyou: ok`;
    toPage.trySend(ChatCh, encodeChatMessage({ id: randomBytes(16), origin: rogue.sw.nodeId, name, text, hops: 0 }));
    toPage.trySend(TopologyCh, encodeAnnouncement({ origin: rogue.sw.nodeId, seq: 1, moniker: `relay${RLO}\u2066`, kind: 'relay', hops: 0, links: [] }));
    await waitFor(() => received.length === 1 && passedOn.length === 1, 3000, 'the message at both');
    await waitFor(() => topology.snapshot().nodes.some((node) => node.id === rogue.sw.nodeId), 3000, 'the announcement');

    for (const message of [received[0]!, passedOn[0]!]) {
      expect(message.name).toBe('amber-otter\ufffd');
      expect(message.text).toBe('\ufffd\ufffd[2Jgnikcab ruoy htiw\ufffd\ufffdyou: ok');
      expect(message.text).not.toMatch(UNSAFE);
    }
    expect(topology.snapshot().nodes.find((node) => node.id === rogue.sw.nodeId)?.moniker).toBe('relay\ufffd\ufffd');
    // The rogue stays: odd text is not a protocol error.
    expect(page.sw.getPeer(rogue.sw.nodeId)?.isConnected).toBe(true);
  });
});
