import { afterEach, describe, expect, it } from 'vitest';
import { wsTransport } from '../../platforms/node/ws-transport.js';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import { startNode, stopAll, bytes } from '../helpers/nodes.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { waitFor } from '../helpers/wait.js';
import { WebSocket } from 'ws';

afterEach(stopAll);

function collect(link: Link): { chunks: Uint8Array[]; closed: () => boolean; error: () => Error | undefined } {
  const chunks: Uint8Array[] = [];
  let closed = false;
  let error: Error | undefined;
  link.attach({
    onData: (c) => chunks.push(c),
    onDrain: () => undefined,
    onClose: (e) => {
      closed = true;
      error = e;
    },
  });
  return { chunks, closed: () => closed, error: () => error };
}

describe('WebSocket transport (ws server, WHATWG-style client)', () => {
  it('carries bytes both ways over a real WebSocket server on 127.0.0.1 and closes cleanly', async () => {
    const transport = wsTransport();
    const accepted: Link[] = [];
    const listener = await transport.listen!(parseAddress('ws://127.0.0.1:0/mesh'), (link) => accepted.push(link));
    const bound = listener.addresses[0]!;
    expect(bound.port).toBeGreaterThan(0);
    const client = await transport.dial({ ...bound });
    await waitFor(() => accepted.length === 1, 2000, 'accept');
    const server = collect(accepted[0]!);
    const fromServer = collect(client);
    client.write(bytes(1000, 1));
    client.write(bytes(70_000, 2));
    accepted[0]!.write(bytes(5, 3));
    await waitFor(() => server.chunks.reduce((n, c) => n + c.length, 0) === 71_000, 2000, 'server bytes');
    await waitFor(() => fromServer.chunks.length === 1, 2000, 'client bytes');
    client.close();
    await waitFor(() => server.closed() && fromServer.closed(), 2000, 'both closed');
    expect(server.error()).toBeUndefined();
    await listener.close();
  });

  it('answers every spelling of its path that the address book holds as one address, and no other path', async () => {
    // Peers dial the book's canonical form (`/ab` for a listener at `/a%62`): before, ws compared the
    // request's bytes with the path and refused each such dial with 400.
    const transport = wsTransport();
    const accepted: Link[] = [];
    const listener = await transport.listen!(parseAddress('ws://127.0.0.1:0/a%62/%c3%a9'), (link) => accepted.push(link));
    const bound = listener.addresses[0]!;
    for (const path of ['/a%62/%c3%a9', '/ab/é', '/%61b/%C3%A9', '/x/../ab/%c3%a9']) {
      const client = await transport.dial({ ...bound, path });
      client.close();
    }
    await waitFor(() => accepted.length === 4, 2000, 'accept');
    await expect(transport.dial({ ...bound, path: '/ab/e' })).rejects.toThrow();
    await expect(transport.dial({ ...bound, path: '/a%2Fb/é' })).rejects.toThrow();
    expect(accepted).toHaveLength(4);
    for (const link of accepted) link.destroy();
    await listener.close();
  });

  it('drops a peer that sends text instead of binary', async () => {
    const transport = wsTransport();
    const accepted: Link[] = [];
    const listener = await transport.listen!(parseAddress('ws://127.0.0.1:0/'), (link) => accepted.push(link));
    const raw = new WebSocket(`ws://127.0.0.1:${listener.addresses[0]!.port}/`);
    await new Promise((resolve) => raw.once('open', resolve));
    await waitFor(() => accepted.length === 1, 2000, 'accept');
    const server = collect(accepted[0]!);
    raw.send('hello');
    await waitFor(() => server.closed(), 2000, 'dropped');
    expect(server.error()).toMatchObject({ code: 'ERR_MALFORMED_PACKET' });
    raw.terminate();
    await listener.close();
  });

  it('runs full meshlink peers over ws:// and tcp:// side by side', async () => {
    const relay = await startNode({ transports: [tcpTransport(), wsTransport()], listen: ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0/p2p'] });
    const wsAddress = relay.sw.addresses.find((a) => a.startsWith('ws://'))!;
    expect(wsAddress).toMatch(/^ws:\/\/[0-9a-f]{40}@127\.0\.0\.1:\d+\/p2p$/);
    const viaWs = await startNode({ transports: [wsTransport()], listen: [] });
    const viaTcp = await startNode();
    const peer = await viaWs.sw.dial(wsAddress);
    expect(peer.transport).toBe('ws');
    await viaTcp.sw.dial(relay.address);
    await peer.send(0x20, bytes(50_000, 1));
    await waitFor(() => relay.agent.messages.length === 1, 3000, 'message over ws');
    expect(relay.agent.messages[0]!.message.length).toBe(50_000);
    const transports = relay.sw.status().peers.map((p) => p.transport).sort();
    expect(transports).toEqual(['tcp', 'ws']);
  });

  it('carries full-size frames under the message cap: 64 KiB messages, each a frame of 64 KiB + 20 B, both ways', async () => {
    const channels = [{ id: 0x20, sendQueueCapacity: 16, recvMessageCapacity: 1024 * 1024 }];
    const relay = await startNode({ channels, transports: [wsTransport()], listen: ['ws://127.0.0.1:0'] });
    const client = await startNode({ channels, transports: [wsTransport()], listen: [] });
    const peer = await client.sw.dial(relay.sw.addresses[0]!);
    for (let i = 0; i < 4; i++) expect(await peer.send(0x20, bytes(1024 * 1024, i))).toBe(true);
    await waitFor(() => relay.agent.messages.length === 4, 10_000, '1 MiB messages over ws');
    expect(relay.agent.messages.map((m) => m.message.length)).toEqual([1, 1, 1, 1].map(() => 1024 * 1024));
    expect(relay.agent.messages[3]!.message).toEqual(bytes(1024 * 1024, 3));
    const back = relay.sw.peers[0]!;
    expect(await back.send(0x20, bytes(1024 * 1024, 9))).toBe(true);
    await waitFor(() => client.agent.messages.length === 1, 10_000, 'a 1 MiB message back');
    expect(client.agent.removed).toHaveLength(0);
  });
});

describe('WebSocketLink (unit, over a fake socket)', () => {
  it('delivers bytes that arrived before attach() only after attach() returns, in order', async () => {
    const { WebSocketLink } = await import('../../src/transport/websocket-link.js');
    const socket = {
      binaryType: 'blob',
      bufferedAmount: 0,
      readyState: 1,
      send: () => undefined,
      close: () => undefined,
      onmessage: null as ((event: { data: unknown }) => void) | null,
      onclose: null,
      onerror: null,
    };
    const link = new WebSocketLink(socket, 'fake:1');
    socket.onmessage!({ data: Uint8Array.of(1) });
    socket.onmessage!({ data: Uint8Array.of(2) });
    const seen: number[] = [];
    let insideAttach = true;
    link.attach({ onData: (chunk) => seen.push(insideAttach ? -1 : chunk[0]!), onDrain: () => undefined, onClose: () => undefined });
    socket.onmessage!({ data: Uint8Array.of(3) });
    insideAttach = false;
    await new Promise((r) => setTimeout(r, 0));
    socket.onmessage!({ data: Uint8Array.of(4) });
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('tells whether a pause holds what arrives in memory: a browser WebSocket (no pause) does, a `ws` socket does not', async () => {
    const { WebSocketLink } = await import('../../src/transport/websocket-link.js');
    const socket = { binaryType: 'blob', bufferedAmount: 0, readyState: 1, send: () => undefined, close: () => undefined, onmessage: null, onclose: null, onerror: null };
    // The node's receive turns (src/conn/receive-turns.ts) pause only links where that slows the remote.
    expect(new WebSocketLink(socket, 'page:1').pauseHoldsInMemory).toBe(true);
    expect(new WebSocketLink({ ...socket, pause: () => undefined, resume: () => undefined }, 'ws:1').pauseHoldsInMemory).toBe(false);
  });
});
