import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import { bytes } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

/** Client frames as they cross the wire: the mask bit, the masking key and the payload as sent. */
interface WireFrame {
  masked: boolean;
  key: number[];
  payload: Buffer;
}

/** Parses the client-to-server frames in `wire` (RFC 6455 §5.2), as far as they are whole. */
function framesOf(wire: Buffer): WireFrame[] {
  const frames: WireFrame[] = [];
  let at = 0;
  while (wire.length - at >= 2) {
    const masked = (wire[at + 1]! & 0x80) !== 0;
    let length = wire[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      length = wire.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(wire.readBigUInt64BE(at + 2));
      header = 10;
    }
    const keyBytes = masked ? 4 : 0;
    if (wire.length - at < header + keyBytes + length) break;
    const key = [...wire.subarray(at + header, at + header + keyBytes)];
    frames.push({ masked, key, payload: wire.subarray(at + header + keyBytes, at + header + keyBytes + length) });
    at += header + keyBytes + length;
  }
  return frames;
}

let http: Server | undefined;
afterEach(() => http?.close());

describe('the ws dialer masks with a zero key', () => {
  it('sends its frames with the mask bit set (RFC 6455) and a zero key, so the bytes on the wire are the bytes written; a ws server reads them', async () => {
    const wss = new WebSocketServer({ noServer: true });
    const wire: Buffer[] = [];
    const received: Buffer[] = [];
    http = createServer();
    http.on('upgrade', (request, socket: Socket, head) => {
      // Listening before ws does: every byte after the upgrade request, as the client sent it.
      socket.on('data', (chunk: Buffer) => wire.push(chunk));
      wss.handleUpgrade(request, socket, head, (ws) => ws.on('message', (data: Buffer) => received.push(data)));
    });
    await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const link: Link = await wsTransport().dial(parseAddress(`ws://127.0.0.1:${port}/`));
    link.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
    const small = bytes(88, 5);
    const large = bytes(70_000, 6);
    link.write(small);
    link.write(large);
    await waitFor(() => received.length === 2, 5000, 'the server read both messages');
    expect(Buffer.concat(received)).toEqual(Buffer.concat([small, large]));
    const frames = framesOf(Buffer.concat(wire));
    expect(frames).toHaveLength(2);
    for (const frame of frames) {
      expect(frame.masked).toBe(true);
      expect(frame.key).toEqual([0, 0, 0, 0]);
    }
    // Unmasked on the wire: before, a random key made them differ from what was written.
    expect(frames[0]!.payload.equals(Buffer.from(small))).toBe(true);
    expect(frames[1]!.payload.equals(Buffer.from(large))).toBe(true);
    link.close();
    wss.close();
  });
});
