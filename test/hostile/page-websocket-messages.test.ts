/**
 * A page's WebSocket cannot pause and takes messages of any size (browsers have no maxPayload). A
 * relay that packs its frames into one huge message must not get past the 4 MiB the page holds for
 * a link it has paused: the page cuts it on arrival. Real ws:// on 127.0.0.1, the page's side seen
 * only through the browser's WebSocket surface.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { WebSocketClientTransport } from '../../src/transport/websocket-client.js';
import { WEBSOCKET_MAX_PAUSED_BYTES } from '../../src/transport/websocket-link.js';
import { BrowserLikeWebSocket } from '../helpers/browser-websocket.js';
import { startNode, stopAll, TEST_CHANNELS } from '../helpers/nodes.js';
import { waitFor, within } from '../helpers/wait.js';

const PULL = 0x41;
// The relay queues 12 MiB at once (3,000 × 4 KiB) so that its sealed frames outgrow the page's bound.
const PULL_CHANNEL: ChannelDescriptor = { id: PULL, priority: 1, sendQueueCapacity: 4096, sendQueueCapacityBytes: 16 * 1024 * 1024, recvMessageCapacity: 8192 };

type Send = (this: WebSocket, data: unknown, ...rest: unknown[]) => void;
const realSend = WebSocket.prototype.send as unknown as Send;
afterEach(async () => {
  (WebSocket.prototype as unknown as { send: Send }).send = realSend;
  await stopAll();
});

describe('a relay packing its frames into one huge WebSocket message to a page', () => {
  it('is cut on arrival (ERR_FRAME_TOO_LARGE) instead of the page keeping the message past its 4 MiB bound', async () => {
    const relay = await startNode({ channels: TEST_CHANNELS, agents: { pull: { channels: [PULL_CHANNEL] } }, transports: [wsTransport()], listen: ['ws://127.0.0.1:0/'] });
    const page = await startNode({ channels: TEST_CHANNELS, agents: { pull: { channels: [PULL_CHANNEL] } }, inboxCapacity: 8, transports: [new WebSocketClientTransport(BrowserLikeWebSocket)], listen: [] });
    const errors: { code?: string }[] = [];
    page.sw.on('peer:error', ({ error }) => void errors.push(error as { code?: string }));
    await page.sw.dial(relay.address);
    await waitFor(() => relay.sw.getPeer(page.sw.nodeId) !== undefined, 3000, 'the relay to see the page');

    // The relay's side of the socket now gathers what it sends into one message.
    const packed: Buffer[] = [];
    let server: WebSocket | undefined;
    (WebSocket.prototype as unknown as { send: Send }).send = function (this: WebSocket, data: unknown, ...rest: unknown[]) {
      if (!(this as unknown as { _isServer: boolean })._isServer) return realSend.call(this, data, ...rest);
      server = this;
      packed.push(Buffer.from(data as Uint8Array));
    };
    const peer = relay.sw.getPeer(page.sw.nodeId)!;
    for (let n = 0; n < 3000; n++) expect(peer.trySend(PULL, new Uint8Array(4096).fill(n & 0xff))).toBe(true);
    const size = (): number => packed.reduce((sum, chunk) => sum + chunk.length, 0);
    await waitFor(() => size() > 2 * WEBSOCKET_MAX_PAUSED_BYTES, 5000, `the relay to seal 8 MB (${size()} so far)`);
    realSend.call(server!, Buffer.concat(packed.splice(0)));

    // The page reads nothing: its inbox of 8 fills in the first frames of that one message.
    await within(
      waitFor(() => page.sw.getPeer(relay.sw.nodeId) === undefined, 3000, 'the page to cut the relay'),
      4000,
      'the cut',
    );
    expect(errors.map((error) => error.code)).toEqual(['ERR_FRAME_TOO_LARGE']);
  });
});
