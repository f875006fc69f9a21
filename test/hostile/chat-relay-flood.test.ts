/**
 * The demo's chat (demo/agents/chat.ts) holds each peer to an allowance: 10 messages a second after a
 * burst of 50, the rest dropped. A relay passes on what each of its peers may send, so two keys flooding
 * it, each within its own allowance, had it pass on twice what the next node takes from it: that node
 * dropped the relay's surplus unread, honest messages among it. What a node passes on to a peer is now
 * paced below that peer's allowance and shared among the sources it came from (as the mempool's).
 * Over real TCP on 127.0.0.1.
 */
import { afterEach, expect, it } from 'vitest';
import { ChatAgent, ChatCh, DEFAULT_CHAT_PEER_BURST, MAX_CHAT_MESSAGE_BYTES, encodeChatMessage, type ChatDelivery } from '../../demo/agents/chat.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { sleep } from './harness.js';

afterEach(stopAll);

const HONEST_MESSAGES = 20;
const HONEST_INTERVAL_MS = 400;
const FLOODERS = 2;
/** What each flooder sends a second after its burst: more than its allowance, so the relay takes all it may. */
const FLOOD_PER_SECOND = 20;

async function chatNode(): Promise<{ node: TestNode; chat: ChatAgent; delivered: ChatDelivery[] }> {
  const delivered: ChatDelivery[] = [];
  const chat = new ChatAgent({ onMessage: (message) => void delivered.push(message) });
  const node = await startNode({ channels: [], agents: { chat } });
  return { node, chat, delivered };
}

/** An authenticated peer that sends chat messages of its own (hops 0) at `perSecond` after `burst`, until `until` resolves. */
async function flood(relayAddress: string, until: Promise<void>): Promise<void> {
  const attacker = await startNode({ channels: [{ id: ChatCh, priority: 1, sendQueueCapacity: 1024, recvMessageCapacity: MAX_CHAT_MESSAGE_BYTES }] });
  await attacker.sw.dial(relayAddress);
  const relay = attacker.sw.peers[0]!;
  let done = false;
  void until.then(() => (done = true));
  let i = 0;
  const send = (): boolean => relay.trySend(ChatCh, encodeChatMessage({ id: crypto.getRandomValues(new Uint8Array(16)), origin: attacker.key.nodeId, name: 'flood', text: `flood ${i++}`, hops: 0 }));
  for (let n = 0; n < DEFAULT_CHAT_PEER_BURST; n++) send();
  while (!done) {
    await sleep(1000 / FLOOD_PER_SECOND);
    send();
  }
}

it('keys flooding a relay each within its allowance do not get honest chat dropped at the node behind it', async () => {
  const relay = await chatNode();
  const author = await chatNode();
  const reader = await chatNode();
  await author.node.sw.dial(relay.node.address);
  await reader.node.sw.dial(relay.node.address);
  await waitFor(() => relay.node.sw.peers.length === 2, 5000, 'author and reader on the relay');

  let endFlood!: () => void;
  const floodOver = new Promise<void>((resolve) => (endFlood = resolve));
  const flooders = Array.from({ length: FLOODERS }, () => flood(relay.node.address, floodOver));
  await waitFor(() => relay.node.sw.peers.length === 2 + FLOODERS, 5000, 'the flooders on the relay');
  const written: string[] = [];
  for (let i = 0; i < HONEST_MESSAGES; i++) {
    written.push(author.chat.send(`honest ${i}`).id);
    await sleep(HONEST_INTERVAL_MS);
  }
  // Whatever waits for its turn at the relay is passed on within a few seconds.
  const arrived = (): number => reader.delivered.filter((message) => written.includes(message.id)).length;
  await waitFor(() => arrived() === HONEST_MESSAGES, 5000, 'every honest message at the reader').catch(() => undefined);
  endFlood();
  await Promise.all(flooders);

  // Before: the relay passed on 2 × (50 + 10 a second), twice what the reader takes from it, and the
  // reader dropped about half of the honest messages with the surplus.
  expect(arrived(), `honest messages at the reader (reader dropped ${reader.chat.stats().rateLimited} from the relay)`).toBe(HONEST_MESSAGES);
  expect(reader.chat.stats().rateLimited, 'the relay kept within what the reader takes from it').toBe(0);
  expect(relay.chat.stats().rateLimited, 'the flooders did go over their allowance at the relay').toBeGreaterThan(0);
}, 30_000);
