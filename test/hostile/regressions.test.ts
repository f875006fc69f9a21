import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import { BanList } from '../../src/switch/ban-list.js';
import { endpointHostGroup } from '../../src/transport/address.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { wsTransport, WS_MAX_PAYLOAD_BYTES } from '../../platforms/node/ws-transport.js';
import { TransportError } from '../../src/errors.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

const servers: { close(callback?: () => void): unknown }[] = [];
afterEach(async () => {
  await stopAll();
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(() => done(undefined)))));
});

/** Two keys, ordered so that `low.nodeId < high.nodeId`. */
function orderedKeys(): { low: NodeKey; high: NodeKey } {
  const a = generateNodeKey();
  const b = generateNodeKey();
  return a.nodeId < b.nodeId ? { low: a, high: b } : { low: b, high: a };
}

/** A TCP server that accepts and then says nothing: a WebSocket dial to it hangs until its timeout. */
async function silentServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  servers.push({ close: (callback) => { for (const socket of sockets) socket.destroy(); return server.close(callback); } });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('hostile-peer regressions over real sockets', () => {
  it('gives back an inbound admission slot whose handshake deadline fired while it waited on our own dial', async () => {
    const { low, high } = orderedKeys();
    // `victim` (lower id) dials `high` at an address that never answers the WebSocket upgrade: the
    // dial hangs for dialTimeoutMs, longer than the inbound handshake's whole deadline.
    const victim = await startNode({ identity: low, transports: [tcpTransport(), wsTransport()], handshakeTimeoutMs: 400, dialTimeoutMs: 1500, maxInbound: 1 });
    const other = await startNode({ identity: high, handshakeTimeoutMs: 3000 });
    const blackHole = await silentServer();
    const ourDial = victim.sw.dial(`ws://${high.nodeId}@127.0.0.1:${blackHole}/`).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // `high` dials in; the victim's admission waits on its own (winning) dial, past the deadline.
    const refused = await other.sw.dial(victim.address).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(await ourDial).toBeInstanceOf(Error);
    // The slot must be free: the same peer can now connect, and the inbound count is honest.
    await waitFor(() => victim.sw.peerCounts().inbound === 0, 2000, 'the admission slot to be released');
    const peer = await other.sw.dial(victim.address);
    expect(peer.id).toBe(low.nodeId);
    await waitFor(() => victim.sw.getPeer(high.nodeId) !== undefined, 2000, 'victim to see the peer');
    expect(victim.sw.peerCounts().inbound).toBe(1);
  });

  it('ends a dialled WebSocket link whose server sends a message over WS_MAX_PAYLOAD_BYTES', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    servers.push(server);
    await new Promise((resolve) => server.once('listening', resolve));
    server.on('connection', (socket) => socket.send(new Uint8Array(WS_MAX_PAYLOAD_BYTES + 1)));
    const port = (server.address() as { port: number }).port;
    const link = await wsTransport().dial({ protocol: 'ws', nodeId: undefined, host: '127.0.0.1', port, path: '/', params: {} });
    const closed = new Promise<Error | undefined>((resolve) => link.attach({ onData: () => undefined, onDrain: () => undefined, onClose: resolve }));
    const received: number[] = [];
    link.attach({ onData: (chunk) => received.push(chunk.length), onDrain: () => undefined, onClose: () => undefined });
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 3000))]);
    expect(link.closed).toBe(true);
    expect(received).toEqual([]);
  });

  it('refuses host names that resolve to local addresses when allowLocalNames is off, and dials IP literals', async () => {
    const target = await startNode();
    const port = Number(new URL(target.address.replace('tcp://', 'http://')).port);
    const guarded = tcpTransport({ allowLocalNames: false });
    const refused = await guarded.dial({ protocol: 'tcp', nodeId: undefined, host: 'localhost', port, path: '', params: {} }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as Error).message).toMatch(/local address/);
    const literal = await guarded.dial({ protocol: 'tcp', nodeId: undefined, host: '127.0.0.1', port, path: '', params: {} });
    literal.destroy();
    const ws = await wsTransport({ allowLocalNames: false })
      .dial({ protocol: 'ws', nodeId: undefined, host: 'localhost', port, path: '/', params: {} })
      .catch((error: unknown) => error);
    expect(ws).toBeInstanceOf(TransportError);
  });

  it('dials host names that resolve to local addresses through the guarded lookup when allowLocalNames is on', async () => {
    const target = await startNode();
    const port = Number(new URL(target.address.replace('tcp://', 'http://')).port);
    // What createNode's transports are with PEX and allowLocal on: peer names, local answers allowed.
    const link = await tcpTransport({ allowLocalNames: true, peerNames: true }).dial({ protocol: 'tcp', nodeId: undefined, host: 'localhost', port, path: '', params: {} });
    link.destroy();
  });
});

describe('nothing accepted for delivery is lost when the other end closes gracefully', () => {
  it('flushes what a peer accepted after the remote closed its side (TCP half-close), then closes', async () => {
    const a = await startNode();
    const b = await startNode();
    const toA = await b.sw.dial(a.address);
    await waitFor(() => a.sw.peers.length === 1, 2000, 'a to see b');
    let accepted = 0;
    const pump = setInterval(() => {
      for (let i = 0; i < 5; i++) if (toA.trySend(0x20, new Uint8Array(64))) accepted++;
    }, 1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const closing = a.sw.disconnect(a.sw.peers[0]!);
    await new Promise((resolve) => setTimeout(resolve, 5)); // b keeps accepting while a's FIN is on its way
    clearInterval(pump);
    await closing;
    await waitFor(() => !toA.isConnected, 3000, 'b to close too');
    expect(accepted).toBeGreaterThan(0);
    expect(a.agent.messages.filter((m) => m.channelId === 0x20)).toHaveLength(accepted);
    expect(a.agent.removed[0]?.reason).toBeUndefined(); // a closed gracefully
    expect(b.agent.removed[0]?.reason).toMatchObject({ code: 'ERR_CLOSED' }); // b was closed by its remote, after flushing
  });
});

describe('bounded state keyed by what peers say', () => {
  it('holds at most maxEntries bans: expired ones are swept, then the soonest to expire gives way', () => {
    let now = 0;
    const bans = new BanList(() => now, 100);
    for (let i = 0; i < 1000; i++) bans.ban(`${i.toString(16).padStart(40, '0')}`, 1000 + i);
    expect(bans.size).toBe(100);
    expect(bans.isBanned('3e7'.padStart(40, '0'))).toBe(true); // the longest ban survives
    expect(bans.isBanned('0'.padStart(40, '0'))).toBe(false);
    now = 10_000;
    bans.ban('f'.repeat(40), 5);
    expect(bans.size).toBe(1);
  });

  it('groups IPv6 endpoints by /64 and IPv4 endpoints by address for the per-host handshake cap', () => {
    expect(endpointHostGroup('[2001:db8:1:2:aaaa::1]:5000')).toBe('2001:db8:1:2::/64');
    expect(endpointHostGroup('[2001:db8:1:2:bbbb:cccc:dddd:eeee]:5000')).toBe('2001:db8:1:2::/64');
    expect(endpointHostGroup('[2001:db8::1]:5000')).toBe('2001:db8:0:0::/64');
    expect(endpointHostGroup('[::ffff:10.1.2.3]:5000')).toBe('10.1.2.3');
    expect(endpointHostGroup('[::1]:5000')).toBe('0:0:0:0::/64');
    expect(endpointHostGroup('10.1.2.3:5000')).toBe('10.1.2.3');
    expect(endpointHostGroup('memory:abc')).toBeUndefined();
  });

  it('counts a link-local peer with a zone (as Node reports it) against its /64, not as a peer with no host', () => {
    // Before: undefined, so a LAN peer connecting from its link-local address escaped every per-host cap.
    expect(endpointHostGroup('[fe80::1%eth0]:5000')).toBe('fe80:0:0:0::/64');
    expect(endpointHostGroup('[fe80::2%25]:5000')).toBe('fe80:0:0:0::/64');
  });
});
