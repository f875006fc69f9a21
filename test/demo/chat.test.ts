import { afterEach, describe, expect, it } from 'vitest';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { MeshlinkError, ProtocolError } from '../../src/errors.js';
import type { Agent } from '../../src/switch/agent.js';
import {
  CHAT_ID_BYTES,
  ChatAgent,
  ChatCh,
  decodeChatMessage,
  encodeChatMessage,
  MAX_CHAT_HOPS,
  MAX_CHAT_MESSAGE_BYTES,
  MAX_CHAT_TEXT_BYTES,
  type ChatAgentOptions,
  type ChatDelivery,
  type ChatWireMessage,
} from '../../demo/agents/chat.js';

afterEach(stopAll);

const ORIGIN = 'ab'.repeat(20);

function wireMessage(overrides: Partial<ChatWireMessage> = {}): ChatWireMessage {
  return { id: new Uint8Array(CHAT_ID_BYTES).fill(7), origin: ORIGIN, name: 'amber-otter', text: 'hello', hops: 0, ...overrides };
}

function malformed(bytes: Uint8Array): string {
  try {
    decodeChatMessage(bytes, 'cd'.repeat(20));
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('ERR_MALFORMED_MESSAGE');
    return (error as Error).message;
  }
  throw new Error('expected a malformed chat message');
}

describe('chat messages on the wire', () => {
  it('round-trips, and the largest legal message fits the channel', () => {
    expect(decodeChatMessage(encodeChatMessage(wireMessage()))).toEqual(wireMessage());
    const largest = wireMessage({ name: 'n'.repeat(64), text: '€'.repeat(MAX_CHAT_TEXT_BYTES / 3) + 'x', hops: MAX_CHAT_HOPS - 1 });
    const bytes = encodeChatMessage(largest);
    expect(bytes.length).toBeLessThanOrEqual(MAX_CHAT_MESSAGE_BYTES);
    expect(decodeChatMessage(bytes)).toEqual(largest);
  });

  it('refuses anything else with ERR_MALFORMED_MESSAGE', () => {
    const wire = (value: Record<string, unknown>): Uint8Array => encodeMessage({ ...wireMessage(), ...value });
    const { hops: _hops, ...withoutHops } = wireMessage();
    const cases: [string, Uint8Array, RegExp][] = [
      ['not msgpack', Uint8Array.of(0xc1), /./],
      ['a string', encodeMessage('hello'), /not a map/],
      ['an extra key (over the element limit already)', wire({ extra: true }), /more than 10 elements/],
      ['a missing key', encodeMessage(withoutHops), /expected exactly the keys/],
      ['a short id', wire({ id: new Uint8Array(8) }), /id is not 16 bytes/],
      ['a long id', wire({ id: new Uint8Array(17) }), /./],
      ['a text id', wire({ id: 'x'.repeat(16) }), /id/],
      ['a bad origin', wire({ origin: 'AB'.repeat(20) }), /origin/],
      ['a name over 64 bytes', wire({ name: 'é'.repeat(33) }), /name/],
      ['an empty text', wire({ text: '' }), /text/],
      ['a text over 1000 bytes', wire({ text: 'x'.repeat(MAX_CHAT_TEXT_BYTES + 1) }), /./],
      ['a number for text', wire({ text: 42 }), /text/],
      ['hops at the limit', wire({ hops: MAX_CHAT_HOPS }), /hops/],
      ['negative hops', wire({ hops: -1 }), /hops/],
      ['nested values', wire({ text: ['hello'] }), /./],
      ['over the size limit', new Uint8Array(MAX_CHAT_MESSAGE_BYTES + 1).fill(0xa1), /./],
    ];
    for (const [what, bytes, why] of cases) expect(malformed(bytes), what).toMatch(why);
  });
});

interface ChatNode extends TestNode {
  chat: ChatAgent;
  received: ChatDelivery[];
}

async function startChatNode(name: string, options: Omit<ChatAgentOptions, 'onMessage'> = {}): Promise<ChatNode> {
  const received: ChatDelivery[] = [];
  const chat = new ChatAgent({ onMessage: (message) => received.push(message), ...options });
  const node = await startNode({ agents: { chat }, moniker: name });
  return { ...node, chat, received };
}

async function startRogue(): Promise<TestNode> {
  const rogue: Agent = { channels: [{ id: ChatCh }] };
  return startNode({ agents: { rogue } });
}

describe('ChatAgent', () => {
  it('delivers a message once at every node of a line A-B-C-D, with its author and hop count, and never echoes it', async () => {
    const nodes = await Promise.all(['a', 'b', 'c', 'd'].map((name) => startChatNode(name)));
    for (let i = 0; i < nodes.length - 1; i++) await nodes[i]!.sw.dial(nodes[i + 1]!.address);
    await waitFor(() => nodes.every((n, i) => n.sw.peers.length === (i === 0 || i === 3 ? 1 : 2)), 3000, 'a line');

    const sent = nodes[0]!.chat.send('hello, line');
    expect(sent).toMatchObject({ origin: nodes[0]!.sw.nodeId, name: 'a', text: 'hello, line', hops: 0, from: undefined });
    await waitFor(() => nodes[3]!.received.length === 1, 3000, 'd to get it');
    await new Promise((resolve) => setTimeout(resolve, 200));
    nodes.forEach((node, i) => {
      expect(node.received.map((m) => [m.id, m.origin, m.name, m.text, m.hops])).toEqual([[sent.id, nodes[0]!.sw.nodeId, 'a', 'hello, line', i]]);
      if (i > 0) expect(node.received[0]!.from?.id).toBe(nodes[i - 1]!.sw.nodeId);
      expect(node.chat.stats().duplicates).toBe(0);
    });
  });

  it('delivers once in a triangle, where every node hears the message twice', async () => {
    const [a, b, c] = (await Promise.all(['a', 'b', 'c'].map((name) => startChatNode(name)))) as [ChatNode, ChatNode, ChatNode];
    await a.sw.dial(b.address);
    await b.sw.dial(c.address);
    await c.sw.dial(a.address);
    await waitFor(() => [a, b, c].every((n) => n.sw.peers.length === 2), 3000, 'a triangle');
    b.chat.send('round');
    await waitFor(() => a.received.length === 1 && c.received.length === 1, 3000, 'a and c to get it');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([a, b, c].map((node) => node.received.length)).toEqual([1, 1, 1]);
    expect([a, c].map((n) => n.received[0]!.hops)).toEqual([1, 1]);
  });

  it('remembers at most seenCapacity message ids', async () => {
    const node = await startChatNode('solo', { seenCapacity: 3 });
    for (let i = 0; i < 5; i++) node.chat.send(`message ${i}`);
    expect(node.chat.seenCount).toBe(3);
    expect(node.received).toHaveLength(5);
  });

  it('refuses to send an empty or too long text, or before the node runs', async () => {
    expect(() => new ChatAgent().send('hi')).toThrow(MeshlinkError);
    const node = await startChatNode('solo');
    expect(() => node.chat.send('')).toThrow(/1\.\.1000 bytes/);
    expect(() => node.chat.send('€'.repeat(334))).toThrow(/1\.\.1000 bytes/);
    expect(node.chat.send('€'.repeat(333)).text).toHaveLength(333);
  });

  it('costs the sender its connection for a malformed message, or one with hops 0 from someone else', async () => {
    const hub = await startChatNode('hub');
    const honest = await startChatNode('honest');
    const [garbage, spoofer] = await Promise.all([startRogue(), startRogue()]);
    const errors: { peerId: string; code: string | undefined }[] = [];
    hub.sw.on('peer:error', ({ peer, error }) => errors.push({ peerId: peer.id, code: (error as { code?: string }).code }));
    await honest.sw.dial(hub.address);
    const viaGarbage = await garbage.sw.dial(hub.address);
    const viaSpoofer = await spoofer.sw.dial(hub.address);
    await waitFor(() => hub.sw.peers.length === 3, 3000, 'three peers');

    expect(viaGarbage.trySend(ChatCh, encodeMessage({ ...wireMessage({ origin: garbage.sw.nodeId }), text: '' }))).toBe(true);
    expect(viaSpoofer.trySend(ChatCh, encodeChatMessage(wireMessage({ origin: honest.sw.nodeId, hops: 0 })))).toBe(true);
    await waitFor(() => hub.sw.peers.length === 1, 3000, 'the rogues dropped');
    expect(errors).toEqual(
      expect.arrayContaining([
        { peerId: garbage.sw.nodeId, code: 'ERR_MALFORMED_MESSAGE' },
        { peerId: spoofer.sw.nodeId, code: 'ERR_SPOOFED_SENDER' },
      ]),
    );
    expect(hub.received).toEqual([]);
    expect(honest.received).toEqual([]);
  });

  it('takes at most its burst, then its rate, from each peer: a flood is dropped, not passed on, and the others are still heard', async () => {
    const hub = await startChatNode('hub', { peerBurst: 20, peerRatePerSecond: 5 });
    const next = await startChatNode('next');
    const honest = await startChatNode('honest');
    const rogue = await startRogue();
    await next.sw.dial(hub.address);
    await honest.sw.dial(hub.address);
    const viaRogue = await rogue.sw.dial(hub.address);
    await waitFor(() => hub.sw.peers.length === 3, 3000, 'three peers');
    // 200 relayed messages (any origin, fresh ids), as fast as the queue takes them.
    let queued = 0;
    for (let i = 0; i < 200; i++) {
      const id = new Uint8Array(CHAT_ID_BYTES);
      new DataView(id.buffer).setUint32(0, i + 1);
      if (await viaRogue.send(ChatCh, encodeChatMessage(wireMessage({ id, hops: 1, text: `flood ${i}` })))) queued++;
    }
    expect(queued).toBe(200);
    await waitFor(() => hub.chat.stats().delivered + hub.chat.stats().rateLimited === 200, 5000, 'the flood processed');
    const { delivered, rateLimited } = hub.chat.stats();
    // The burst, and what refilled while the flood arrived (it takes well under a second).
    expect(delivered).toBeGreaterThanOrEqual(20);
    expect(delivered).toBeLessThanOrEqual(30);
    expect(rateLimited).toBe(200 - delivered);
    // Passed on at the hub's pace toward each peer (half its burst at once, then 90 % of its rate): the
    // rogue's share of it waits in a queue of 8 (CHAT_FORWARD_QUEUE_PER_SOURCE), its excess is dropped at the hub.
    await waitFor(() => hub.chat.forwardPending === 0, 5000, 'what waits passed on');
    expect(next.received.length).toBeGreaterThanOrEqual(10);
    expect(next.received.length).toBeLessThanOrEqual(delivered);
    expect(hub.chat.stats().forwardDropped).toBeGreaterThan(0);
    // Over the rate is not malformed: the rogue stays, and the honest peer's bucket is its own.
    expect(hub.sw.peers).toHaveLength(3);
    honest.chat.send('still heard');
    await waitFor(() => next.received.some((m) => m.text === 'still heard'), 3000, 'the honest message through the hub');
  });

  it('delivers but does not forward a message that has travelled MAX_CHAT_HOPS links', async () => {
    const hub = await startChatNode('hub');
    const next = await startChatNode('next');
    const rogue = await startRogue();
    await next.sw.dial(hub.address);
    const viaRogue = await rogue.sw.dial(hub.address);
    await waitFor(() => hub.sw.peers.length === 2, 3000, 'two peers');
    // Relayed (hops > 0) messages may name any origin.
    expect(viaRogue.trySend(ChatCh, encodeChatMessage(wireMessage({ hops: MAX_CHAT_HOPS - 1, text: 'far' })))).toBe(true);
    expect(viaRogue.trySend(ChatCh, encodeChatMessage(wireMessage({ id: new Uint8Array(CHAT_ID_BYTES).fill(8), hops: MAX_CHAT_HOPS - 2, text: 'near' })))).toBe(true);
    await waitFor(() => next.received.length === 1, 3000, 'the nearer message to be forwarded');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hub.received.map((m) => [m.text, m.hops, m.origin])).toEqual([
      ['far', MAX_CHAT_HOPS, ORIGIN],
      ['near', MAX_CHAT_HOPS - 1, ORIGIN],
    ]);
    expect(next.received.map((m) => [m.text, m.hops])).toEqual([['near', MAX_CHAT_HOPS]]);
    // A repeat is dropped by the seen-set, not delivered twice.
    expect(viaRogue.trySend(ChatCh, encodeChatMessage(wireMessage({ hops: 3, text: 'far' })))).toBe(true);
    await waitFor(() => hub.chat.stats().duplicates === 1, 3000, 'the repeat to be dropped');
    expect(hub.received).toHaveLength(2);
  });
});
