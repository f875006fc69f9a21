/**
 * "Nothing accepted for delivery is silently lost", at the moments a connection ends: messages a peer
 * flushed to us before closing gracefully must reach our readers even when we were holding delivery
 * paused (a full pull inbox) when its FIN arrived. Real TCP on 127.0.0.1; every wait bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketClientTransport } from '../../src/transport/websocket-client.js';
import { MESSAGE_LINK_CLOSE_HOLD_MS } from '../../src/transport/message-link.js';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import type { Envelope } from '../../src/switch/inbox.js';
import type { Switch } from '../../src/switch/switch.js';
import { startNode, stopAll, TEST_CHANNELS } from '../helpers/nodes.js';
import { waitFor, within } from '../helpers/wait.js';
import { BrowserLikeWebSocket } from '../helpers/browser-websocket.js';

const PULL = 0x41;
const PULL_CHANNEL: ChannelDescriptor = { id: PULL, priority: 1, sendQueueCapacity: 4096, recvMessageCapacity: 4096 };
const MESSAGES = 2000;

afterEach(stopAll);

/** Reads `channelId` until `count` messages came or nothing came for `idleMs`; returns the sequence numbers. */
async function readUntilQuiet(sw: Switch, channelId: number, count: number, idleMs: number): Promise<number[]> {
  const seen: number[] = [];
  const iterator = sw.receive(channelId)[Symbol.asyncIterator]();
  while (seen.length < count) {
    const next = await Promise.race([iterator.next(), new Promise<undefined>((resolve) => setTimeout(resolve, idleMs))]);
    if (next === undefined || next.done === true) break;
    const { message } = next.value as Envelope;
    seen.push(new DataView(message.buffer, message.byteOffset, message.byteLength).getUint32(0));
  }
  return seen;
}

/** A receiver whose PULL inbox holds 8, and a sender connected to it with MESSAGES queued for PULL. */
async function queuedAtFullInbox(senderOptions: Parameters<typeof startNode>[0] = {}, receiverOptions = senderOptions) {
  const receiver = await startNode({ channels: TEST_CHANNELS, agents: { pull: { channels: [PULL_CHANNEL] } }, inboxCapacity: 8, ...receiverOptions });
  const sender = await startNode({ channels: TEST_CHANNELS, agents: { pull: { channels: [PULL_CHANNEL] } }, ...senderOptions });
  const peer = await sender.sw.dial(receiver.address);
  await waitFor(() => receiver.sw.getPeer(sender.sw.nodeId) !== undefined, 3000, 'receiver to see the sender');
  // Small messages: one batch (one sealed frame, one TCP read) carries hundreds, so the inbox fills
  // in the middle of a frame and the rest waits in the connection.
  for (let n = 0; n < MESSAGES; n++) {
    const message = new Uint8Array(16);
    new DataView(message.buffer).setUint32(0, n);
    expect(peer.trySend(PULL, message)).toBe(true);
  }
  return { receiver, sender, peer };
}

describe('delivery when a peer closes while we hold its connection paused', () => {
  it.each([
    ['TCP, the sender dialling', {}],
    ['a Node WebSocket, the sender dialling', { transports: [wsTransport()], listen: ['ws://127.0.0.1:0/'] }],
  ] as const)('hands every message a gracefully closing peer flushed to a pull inbox that was full when its FIN came (%s)', async (_name, transport) => {
    const { receiver, sender, peer } = await queuedAtFullInbox(transport);
    // Graceful: everything queued is flushed, then the link ends.
    const closed = sender.sw.disconnect(peer);
    // The application reads a little later (well within the sender's closeTimeoutMs, 5 s): its FIN
    // has arrived by then, behind messages the full inbox held back.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const seen = await readUntilQuiet(receiver.sw, PULL, MESSAGES, 1000);
    expect(seen.length).toBe(MESSAGES);
    expect(seen).toEqual(Array.from({ length: MESSAGES }, (_, n) => n));
    await within(closed, 5000, 'graceful disconnect');
    // Everything arrived, so the close was clean on both ends (before: 8 of 2,000 arrived, and the
    // sender's close was clean all the same).
    expect(peer.connection.error).toBeUndefined();
    await waitFor(() => receiver.sw.getPeer(sender.sw.nodeId) === undefined, 3000, 'receiver to see the close');
  });

  it('fails the closing peer\'s graceful close (visibly) when we do not take what it flushed within its closeTimeoutMs', async () => {
    const { receiver, sender, peer } = await queuedAtFullInbox({ connection: { closeTimeoutMs: 800 } });
    const receiverErrors: Error[] = [];
    receiver.sw.on('peer:error', ({ error }) => void receiverErrors.push(error));
    const started = performance.now();
    await within(sender.sw.disconnect(peer), 3000, 'graceful disconnect');
    // Nobody read the receiver's inbox: the messages were not delivered, and the sender is told so
    // (before: a clean close, the receiver dropping 1,992 messages).
    expect(peer.connection.error).toMatchObject({ name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    expect(performance.now() - started).toBeLessThan(2000);
    // The receiver gives its readers as long (its closeTimeoutMs), then fails the connection, visibly.
    await waitFor(() => receiver.sw.getPeer(sender.sw.nodeId) === undefined, 3000, 'receiver to see the close');
    expect(receiverErrors.map((error) => (error as Error & { code?: string }).code)).toEqual(['ERR_TIMEOUT']);
  });

  it('tells the closing peer (RemoteCloseError) when we give up on our readers before its own close times out', async () => {
    // The receiver's patience is shorter than the sender's close (5 s): the sender must not see its
    // close complete cleanly when the receiver then drops what it sent (before: a clean close).
    const { sender, peer } = await queuedAtFullInbox({}, { connection: { closeTimeoutMs: 300 } });
    const started = performance.now();
    await within(sender.sw.disconnect(peer), 3000, 'graceful disconnect');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(peer.connection.error).toMatchObject({ name: 'RemoteCloseError', code: 'ERR_TIMEOUT' });
  });

  it('tells the closing peer when our own stop() drops what it sent before its FIN', async () => {
    const { receiver, sender, peer } = await queuedAtFullInbox();
    const closed = sender.sw.disconnect(peer);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The receiver stops without reading: its stop bounds the wait (stopTimeoutMs, 2 s here), and the
    // sender learns that what it flushed was dropped (before: both closes clean, 1,992 dropped).
    await within(receiver.sw.stop(), 5000, 'stop');
    await within(closed, 3000, 'graceful disconnect');
    expect(peer.connection.error).toMatchObject({ name: 'RemoteCloseError' });
  });

  /** A Node sender on ws:// and a page (browser-like WebSocket, inbox of 8) with MESSAGES sent to it, then a graceful close. */
  async function sentToPageThenClosed(existingPage?: Awaited<ReturnType<typeof startNode>>) {
    const sender = await startNode({ channels: TEST_CHANNELS, agents: { pull: { channels: [PULL_CHANNEL] } }, transports: [wsTransport()], listen: ['ws://127.0.0.1:0/'] });
    const page = existingPage ?? await startNode({ channels: TEST_CHANNELS, agents: { pull: { channels: [PULL_CHANNEL] } }, inboxCapacity: 8, transports: [new WebSocketClientTransport(BrowserLikeWebSocket)], listen: [] });
    await page.sw.dial(sender.address);
    await waitFor(() => sender.sw.getPeer(page.sw.nodeId) !== undefined, 3000, 'sender to see the page');
    const peer = sender.sw.getPeer(page.sw.nodeId)!;
    for (let n = 0; n < MESSAGES; n++) {
      const message = new Uint8Array(16);
      new DataView(message.buffer).setUint32(0, n);
      expect(peer.trySend(PULL, message)).toBe(true);
      // Several batches (several WebSocket messages): the page holds those after the one it paused in.
      if (n % 200 === 199) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await within(sender.sw.disconnect(peer), 5000, 'graceful disconnect');
    return { page, sender };
  }

  it('hands a page every message a peer sent before its WebSocket close, held while the page\'s inbox was full', async () => {
    const { page } = await sentToPageThenClosed();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Before: 200 of 2,000 (the batch the inbox filled in); the rest, held by the link, dropped at the close.
    const seen = await readUntilQuiet(page.sw, PULL, MESSAGES, 1000);
    expect(seen.length).toBe(MESSAGES);
    expect(seen).toEqual(Array.from({ length: MESSAGES }, (_, n) => n));
  });

  it('fails the page\'s link, visibly and in bounded time, when the page does not read what it held at the close', async () => {
    const page = await startNode({ channels: TEST_CHANNELS, agents: { pull: { channels: [PULL_CHANNEL] } }, inboxCapacity: 8, transports: [new WebSocketClientTransport(BrowserLikeWebSocket)], listen: [] });
    const errors: Error[] = [];
    page.sw.on('peer:error', ({ error }) => void errors.push(error));
    const { sender } = await sentToPageThenClosed(page);
    await waitFor(() => page.sw.getPeer(sender.sw.nodeId) === undefined, MESSAGE_LINK_CLOSE_HOLD_MS + 2000, 'the page to drop the closed peer');
    expect(errors.map((error) => error.name)).toEqual(['TransportError']);
  });
});
