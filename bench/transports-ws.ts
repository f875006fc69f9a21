/**
 * raw-ws, the WebSocket baseline: the `ws` package's WebSocketServer and WebSocket, one binary
 * message per benchmark message (ONE `ws.send` each), no framing of our own (a WebSocket message has
 * its length). Compared with meshlink-ws: two createNode Switches over ws:// (bench/transports.ts).
 *
 * Backpressure as raw-tcp's `socket.write`: while the socket buffers less than Node's default
 * writable high-water mark (16 KiB) a send is accepted at once; past it the sender waits until that
 * message has been written out (ws's send callback, which fires on the socket's write callback).
 * Compression is off on both sides (the server does not offer permessage-deflate; neither does meshlink's).
 */
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { ReceiverReady, Sink } from './common.js';
import type { SenderPort } from './transports.js';

/** net.Socket's default writableHighWaterMark: where raw-tcp's `socket.write` starts returning false. */
const RAW_WS_HIGH_WATER_MARK_BYTES = 16 * 1024;

/** A received message as one Uint8Array (binary messages arrive as one Buffer: nodebuffer, not fragmented). */
function messageBytes(data: RawData): Uint8Array {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return new Uint8Array(data);
}

export async function startRawWsReceiver(sink: Sink): Promise<{ ready: ReceiverReady; stop: () => Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', (socket) => {
    socket.on('error', () => undefined);
    const reply = (message: Uint8Array): void => socket.send(message);
    socket.on('message', (data) => sink.onMessage(messageBytes(data), reply));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    ready: { address: `ws://127.0.0.1:${port}/` },
    stop: async () => {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function connectRawWsSender(address: string): Promise<SenderPort> {
  const socket = new WebSocket(address, { perMessageDeflate: false });
  // Handlers from creation on (a message sent right at connect is not missed).
  socket.on('message', (data) => port.onReply(messageBytes(data)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const port: SenderPort = {
    send(message) {
      if (socket.bufferedAmount + message.length < RAW_WS_HIGH_WATER_MARK_BYTES) {
        socket.send(message);
        return true;
      }
      return new Promise<boolean>((resolve) => socket.send(message, (error) => resolve(error === undefined || error === null)));
    },
    onReply: () => undefined,
    close: async () => {
      if (socket.readyState === WebSocket.CLOSED) return;
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.terminate();
      await closed;
    },
  };
  return port;
}
