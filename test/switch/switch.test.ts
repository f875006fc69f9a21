import { afterEach, describe, expect, it } from 'vitest';
import { startNode, stopAll, bytes, RecordingAgent } from '../helpers/nodes.js';
import { waitFor, within } from '../helpers/wait.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { ConfigError, HandshakeError, PeerRejectedError, ProtocolError, TransportError } from '../../src/errors.js';
import { Switch } from '../../src/switch/switch.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { connect, type Socket } from 'node:net';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import { MAX_ASYNC_RECEIVE_BYTES_PER_PEER } from '../../src/switch/constants.js';

afterEach(stopAll);

describe('Switch over real TCP', () => {
  it('connects two nodes; agents see the peer, then its messages, routed by channel', async () => {
    const a = await startNode();
    const b = await startNode();
    const peer = await a.sw.dial(b.address);
    expect(peer.id).toBe(b.sw.nodeId);
    expect(peer.direction).toBe('outbound');
    await waitFor(() => b.agent.added.length === 1, 2000, 'b sees a');
    expect(b.agent.added[0]!.id).toBe(a.sw.nodeId);
    expect(b.agent.added[0]!.direction).toBe('inbound');
    expect(await peer.send(0x20, bytes(100, 1))).toBe(true);
    expect(peer.trySend(0x30, bytes(200, 2))).toBe(true);
    await waitFor(() => b.agent.messages.length === 2, 2000, 'messages');
    expect(b.agent.messages.map((m) => [m.channelId, m.message.length])).toEqual([
      [0x20, 100],
      [0x30, 200],
    ]);
    expect(b.agent.messages[0]!.peer).toBe(b.agent.added[0]);
  });

  it('delivers messages an agent sends from addPeer, even when they race the end of the handshake', async () => {
    const greeter = (): Agent => ({
      channels: [{ id: 0x60 }],
      addPeer: (peer) => {
        peer.trySend(0x60, bytes(64 * 1024 - 1, 9));
        peer.trySend(0x60, bytes(3, 1));
      },
    });
    const got = new Map<string, number>();
    const counting = (name: string): Agent => ({ ...greeter(), receive: (_c, _p, m) => void got.set(name, (got.get(name) ?? 0) + m.length) });
    const a = await startNode({ agents: { greet: counting('a') } });
    const b = await startNode({ agents: { greet: counting('b') } });
    await a.sw.dial(b.address);
    await waitFor(() => got.get('a') === 64 * 1024 + 2 && got.get('b') === 64 * 1024 + 2, 3000, 'greetings both ways');
  });

  it('keeps exactly one connection when two nodes dial each other at the same moment, with no flap; both dials answer with it', async () => {
    for (let round = 0; round < 8; round++) {
      const a = await startNode();
      const b = await startNode();
      const [toB, toA] = await Promise.all([a.sw.dial(b.address), b.sw.dial(a.address)]);
      expect(toB.id).toBe(b.sw.nodeId);
      expect(toA.id).toBe(a.sw.nodeId);
      await waitFor(() => a.sw.peers.length === 1 && b.sw.peers.length === 1, 3000, 'one peer each');
      await new Promise((r) => setTimeout(r, 100));
      expect(a.agent.added).toHaveLength(1);
      expect(b.agent.added).toHaveLength(1);
      expect(a.agent.removed).toHaveLength(0);
      expect(b.agent.removed).toHaveLength(0);
      // Both ends agree on which connection survived: the one dialled by the lower id.
      const lower = a.sw.nodeId < b.sw.nodeId ? a : b;
      const higher = lower === a ? b : a;
      expect(lower.sw.peers[0]!.direction).toBe('outbound');
      expect(higher.sw.peers[0]!.direction).toBe('inbound');
      // The losing dial's answer is the connection that won, not a stale one.
      expect(a.sw.peers[0]).toBe(toB);
      expect(b.sw.peers[0]).toBe(toA);
      expect(await a.sw.peers[0]!.send(0x20, bytes(10))).toBe(true);
      await waitFor(() => b.agent.messages.length === 1, 2000, 'message over the kept connection');
      await stopAll();
    }
  });

  it('refuses to dial itself, by id or by address', async () => {
    const a = await startNode();
    await expect(a.sw.dial(a.address)).rejects.toMatchObject({ code: 'ERR_SELF_CONNECTION' });
    const port = a.address.split(':').pop();
    const otherId = generateNodeKey().nodeId;
    // Our own listen address under another id is caught before dialling.
    await expect(a.sw.dial(`tcp://${otherId}@127.0.0.1:${port}`)).rejects.toBeInstanceOf(PeerRejectedError);
    expect(a.sw.peers).toHaveLength(0);
  });

  it('refuses inbound peers over maxInbound after the handshake, before any agent sees them', async () => {
    const hub = await startNode({ maxInbound: 2 });
    const dialers = await Promise.all([startNode(), startNode(), startNode()]);
    const results = await Promise.allSettled(dialers.map((d) => d.sw.dial(hub.address)));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_PEER_LIMIT' });
    await new Promise((r) => setTimeout(r, 100));
    expect(hub.agent.added).toHaveLength(2);
    expect(hub.sw.peers).toHaveLength(2);
  });

  it('a peer dropped while agents hear of it: every agent hears addPeer before removePeer, the events come in order, nothing stays tracked', async () => {
    // Agents and event listeners that keep per-peer state (a Map filled on arrival, emptied on
    // departure) must hear of a peer's departure after its arrival, even when one of them drops the
    // peer from addPeer (PEX does, for a feeler) or from 'peer:connected'.
    const drops: Record<string, (sw: Switch, peer: Peer) => void> = {
      destroy: (_sw, peer) => peer.connection.destroy(),
      stopPeerForError: (sw, peer) => sw.stopPeerForError(peer, new ProtocolError('ERR_PROTOCOL', 'not wanted')),
      ban: (sw, peer) => sw.ban(peer.id, 60_000),
    };
    for (const [how, drop] of Object.entries(drops)) {
      for (const where of ['addPeer', 'peer:connected'] as const) {
        const log: string[] = [];
        const tracked = new Set<Peer>();
        let hub: Switch | undefined;
        const dropper: Agent = { channels: [], addPeer: (peer) => where === 'addPeer' && drop(hub!, peer) };
        const tracker: Agent = {
          channels: [],
          addPeer: (peer) => void (log.push('add'), tracked.add(peer)),
          removePeer: (peer) => void (log.push('remove'), tracked.delete(peer)),
        };
        const node = await startNode({ agents: { dropper, tracker } });
        hub = node.sw;
        const connected = new Set<Peer>();
        hub.on('peer:connected', ({ peer }) => {
          log.push('connected');
          connected.add(peer);
          if (where === 'peer:connected') drop(hub!, peer);
        });
        hub.on('peer:disconnected', ({ peer }) => void (log.push('disconnected'), connected.delete(peer)));
        const other = await startNode();
        await other.sw.dial(node.address).catch(() => undefined);
        await waitFor(() => log.includes('disconnected'), 3000, `${how} in ${where}: the peer is gone`);
        await new Promise((r) => setTimeout(r, 50));
        expect(log, `${how} in ${where}`).toEqual(['add', 'connected', 'remove', 'disconnected']);
        expect(tracked.size, `${how} in ${where}: agent state`).toBe(0);
        expect(connected.size, `${how} in ${where}: listener state`).toBe(0);
        expect(node.agent.added).toHaveLength(1);
        expect(node.agent.removed).toHaveLength(1);
        expect(hub.peers).toHaveLength(0);
        await stopAll();
      }
    }
  });

  it('keeps handshake slots for other hosts while one host holds silent connections', async () => {
    const hub = await startNode({ listen: ['tcp://[::]:0'], maxPendingInbound: 12, maxPendingInboundPerHost: 4 });
    const port = Number(hub.address.split(':').pop());
    // One host (127.0.0.1) opens 20 connections and never speaks.
    const silent = await Promise.all(
      Array.from({ length: 20 }, () => new Promise<Socket>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
        socket.on('error', () => undefined);
      })),
    );
    try {
      const closedByHub = (): number => silent.filter((s) => s.destroyed || s.readableEnded).length;
      await waitFor(() => closedByHub() >= 16, 3000, 'the hub to drop the connections over the per-host cap');
      expect(closedByHub()).toBeLessThanOrEqual(16);
      // Another host (::1) still gets through, well before the silent ones time out.
      const honest = await startNode({ listen: [] });
      const peer = await within(honest.sw.dial(`tcp://${hub.sw.nodeId}@[::1]:${port}`), 3000, 'dial over ::1');
      expect(peer.id).toBe(hub.sw.nodeId);
    } finally {
      for (const socket of silent) socket.destroy();
    }
  });

  it('stop() gives peers stopTimeoutMs to flush, then cuts off one that does not read', async () => {
    const a = await startNode({ stopTimeoutMs: 300, channels: [{ id: 0x20, sendQueueCapacity: 64, recvMessageCapacity: 64 * 1024 }] });
    const b = await startNode({ channels: [{ id: 0x20, sendQueueCapacity: 64, recvMessageCapacity: 64 * 1024 }] });
    const peer = await a.sw.dial(b.address);
    b.sw.peers[0]!.connection.pause();
    while (peer.trySend(0x20, bytes(60 * 1024))) await new Promise((r) => setImmediate(r));
    const started = Date.now();
    await a.sw.stop();
    // The connection's own close timeout is 5 s; the switch's 300 ms deadline must win.
    expect(Date.now() - started).toBeLessThan(3000);
    expect(a.sw.peers).toHaveLength(0);
  });

  it('enforces maxOutbound for non-persistent dials', async () => {
    const a = await startNode({ maxOutbound: 1 });
    const b = await startNode();
    const c = await startNode();
    await a.sw.dial(b.address);
    await expect(a.sw.dial(c.address)).rejects.toMatchObject({ code: 'ERR_PEER_LIMIT' });
    await a.sw.dial(c.address, { persistent: true });
    expect(a.sw.peers).toHaveLength(2);
  });

  it('redials a persistent peer after it restarts with the same key (new switch, same port)', async () => {
    const a = await startNode();
    const b = await startNode();
    const port = Number(b.address.split(':').pop());
    await a.sw.dial(b.address, { persistent: true });
    await b.sw.stop();
    await waitFor(() => a.sw.peers.length === 0, 3000, 'disconnect');
    expect(a.agent.removed).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    const b2 = await startNode({ identity: b.key, listen: [`tcp://127.0.0.1:${port}`] });
    await waitFor(() => a.sw.peers.length === 1, 5000, 'reconnect');
    expect(a.sw.peers[0]!.id).toBe(b2.sw.nodeId);
    expect(a.agent.added).toHaveLength(2);
  });

  it('does not retry a non-persistent dial', async () => {
    const a = await startNode();
    const failures: unknown[] = [];
    a.sw.on('dial:failed', (e) => failures.push(e));
    const id = generateNodeKey().nodeId;
    const server = await startNode();
    const port = Number(server.address.split(':').pop());
    await server.sw.stop();
    await expect(a.sw.dial(`tcp://${id}@127.0.0.1:${port}`)).rejects.toBeInstanceOf(TransportError);
    await new Promise((r) => setTimeout(r, 300));
    expect(failures).toHaveLength(0);
  });

  it('keeps a banned node out, both ways, until the ban expires', async () => {
    const a = await startNode();
    const b = await startNode();
    await a.sw.dial(b.address);
    a.sw.ban(b.sw.nodeId, 400);
    await waitFor(() => a.sw.peers.length === 0 && b.sw.peers.length === 0, 2000, 'ban disconnects');
    await expect(a.sw.dial(b.address)).rejects.toMatchObject({ code: 'ERR_BANNED' });
    await expect(b.sw.dial(a.address)).rejects.toMatchObject({ code: 'ERR_BANNED' });
    await new Promise((r) => setTimeout(r, 450));
    await a.sw.dial(b.address);
    expect(a.sw.peers).toHaveLength(1);
  });

  it('stops a peer that sends on an unknown channel, and other peers keep working', async () => {
    const hub = await startNode();
    const rogue = await startNode({ channels: [...hubChannels(), { id: 0x99 }] });
    const honest = await startNode();
    const errors: { code?: string }[] = [];
    hub.sw.on('peer:error', ({ error }) => errors.push(error as { code?: string }));
    const toHub = await rogue.sw.dial(hub.address);
    await honest.sw.dial(hub.address);
    // Straight to the connection: a Peer refuses a channel the hub did not declare (peer-channels.test.ts).
    toHub.connection.trySend(0x99, bytes(10));
    await waitFor(() => errors.length === 1, 2000, 'peer error');
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(errors[0]!.code).toBe('ERR_UNKNOWN_CHANNEL');
    await waitFor(() => hub.sw.peers.length === 1, 2000, 'rogue gone');
    expect(await honest.sw.peers[0]!.send(0x20, bytes(5))).toBe(true);
    await waitFor(() => hub.agent.messages.length === 1, 2000, 'honest message');
  });

  it('stops a peer that sends a message over the channel recvMessageCapacity', async () => {
    const hub = await startNode({ channels: [{ id: 0x30, recvMessageCapacity: 1024 }] });
    const big = await startNode({ channels: [{ id: 0x30, recvMessageCapacity: 1024 * 1024 }] });
    const errors: { code?: string }[] = [];
    hub.sw.on('peer:error', ({ error }) => errors.push(error as { code?: string }));
    const peer = await big.sw.dial(hub.address);
    peer.connection.trySend(0x30, bytes(2000)); // past the Peer's check of the hub's capacity
    await waitFor(() => errors.length === 1, 2000, 'peer error');
    expect(errors[0]!.code).toBe('ERR_MESSAGE_TOO_LARGE');
    expect(hub.agent.messages).toHaveLength(0);
  });

  it('refuses a peer on another network with ERR_INCOMPATIBLE_PEER', async () => {
    const a = await startNode({ network: 'net-a' });
    const b = await startNode({ network: 'net-b' });
    const error = await a.sw.dial(b.address).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect(error).toMatchObject({ code: 'ERR_INCOMPATIBLE_PEER' });
  });

  it('broadcasts to every peer; one peer that never reads costs only its own send', async () => {
    const hub = await startNode({ channels: [{ id: 0x20, sendQueueCapacity: 16, recvMessageCapacity: 64 * 1024 }] });
    const readers = await Promise.all([startNode(), startNode()]);
    const stuck = await startNode();
    for (const n of [...readers, stuck]) await n.sw.dial(hub.address);
    await waitFor(() => hub.sw.peers.length === 3, 2000, 'three peers');
    stuck.sw.peers[0]!.connection.pause();
    const stuckId = stuck.sw.nodeId;
    let stuckFalse = 0;
    const rounds = 100;
    for (let i = 0; i < rounds; i++) {
      const results = await hub.sw.broadcast(0x20, bytes(60 * 1024, i), { timeoutMs: 20 });
      expect(results.size).toBe(3);
      for (const r of readers) expect(results.get(r.sw.nodeId)).toBe(true);
      if (results.get(stuckId) === false) stuckFalse++;
      // The readers take each round before the next: their own queues never fill, however slow the
      // machine, so only the stuck peer's 20 ms wait can run out (the readers' did on a loaded CI host).
      for (const r of readers) await waitFor(() => r.agent.messages.length === i + 1, 10_000, 'readers take the round');
    }
    expect(stuckFalse).toBeGreaterThan(0);
    const stuckStatus = hub.sw.getPeer(stuckId)!.status();
    expect(stuckStatus.channels[0]!.sendQueueLength).toBeLessThanOrEqual(16);
    // Socket buffer + queue: bounded by the high-water mark and 16 queued messages, far below 400 × 32 KiB.
    expect(stuckStatus.linkBufferedBytes).toBeLessThan(1024 * 1024);
  });

  it('delivers pull-style channels through sw.receive(), ending on stop', async () => {
    const pullAgent: Agent = { channels: [{ id: 0x40 }] };
    const a = await startNode({ agents: { pull: pullAgent } });
    const b = await startNode({ agents: { pull: { channels: [{ id: 0x40 }] } } });
    const peer = await b.sw.dial(a.address);
    const got: string[] = [];
    const reading = (async () => {
      for await (const { peer: from, message } of a.sw.receive(0x40)) got.push(`${from.id.slice(0, 4)}:${message.length}`);
    })();
    for (let i = 1; i <= 3; i++) await peer.send(0x40, bytes(i));
    await waitFor(() => got.length === 3, 2000, 'pulled messages');
    expect(got).toEqual([1, 2, 3].map((n) => `${b.sw.nodeId.slice(0, 4)}:${n}`));
    await a.sw.stop();
    await within(reading, 2000, 'iterator end');
    expect(() => a.sw.receive(0x20)).toThrowError(ConfigError);
  });

  it('a pull reader that gives up with an AbortSignal stops waiting, and the next message waits for another reader', async () => {
    const a = await startNode({ agents: { pull: { channels: [{ id: 0x40 }] } } });
    const b = await startNode({ agents: { pull: { channels: [{ id: 0x40 }] } } });
    const peer = await b.sw.dial(a.address);
    const controller = new AbortController();
    const iterator = a.sw.receive(0x40, { signal: controller.signal })[Symbol.asyncIterator]();
    const waiting = iterator.next();
    const reason = new Error('reader gave up');
    controller.abort(reason);
    await expect(within(waiting, 2000, 'aborted wait')).rejects.toBe(reason);
    await peer.send(0x40, bytes(7));
    const second = a.sw.receive(0x40)[Symbol.asyncIterator]();
    const next = await within(second.next(), 2000, 'message for the second reader');
    expect(next.done).toBe(false);
    expect(next.value!.message.length).toBe(7);
    const already = new AbortController();
    already.abort();
    await expect(within(a.sw.receive(0x40, { signal: already.signal })[Symbol.asyncIterator]().next(), 2000, 'aborted before')).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('an honest sender to a small, slowly read pull inbox is paused and resumed, never cut: every message arrives once, in order', async () => {
    // Small messages, sent faster than the reader takes them: one frame carries hundreds of them, so
    // each resume hands on the rest of a frame while the inbox refills, over and over.
    const capacity = 8;
    const total = 3000;
    const a = await startNode({ agents: { pull: { channels: [{ id: 0x40, sendQueueCapacity: 4096 }] } }, inboxCapacity: capacity });
    const b = await startNode({ agents: { pull: { channels: [{ id: 0x40, sendQueueCapacity: 4096 }] } } });
    const removed: string[] = [];
    a.sw.on('peer:disconnected', ({ reason }) => removed.push(String(reason)));
    const peer = await b.sw.dial(a.address);
    const got: number[] = [];
    const reading = (async () => {
      for await (const { message } of a.sw.receive(0x40)) {
        got.push(new DataView(message.buffer, message.byteOffset).getUint32(0));
        if (got.length % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        if (got.length === total) return;
      }
    })();
    for (let i = 0; i < total; i++) {
      const message = new Uint8Array(4);
      new DataView(message.buffer).setUint32(0, i);
      if (!peer.trySend(0x40, message)) expect(await peer.send(0x40, message)).toBe(true);
    }
    await within(reading, 20_000, 'every message read').catch((error: unknown) => {
      throw new Error(`${String(error)}: read ${got.length}, removed ${removed.join()}`);
    });
    expect(removed).toEqual([]);
    expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
  }, 30_000);

  it('a pull inbox is bounded in bytes too: large messages pause their sender at inboxCapacityBytes, and every one arrives in order once read', async () => {
    const size = 256 * 1024;
    const total = 40; // 10 MiB, far under the 1,024-message capacity
    const pull = { channels: [{ id: 0x40, recvMessageCapacity: size, sendQueueCapacity: 64 }] };
    const a = await startNode({ agents: { pull }, inboxCapacityBytes: 1024 * 1024 });
    const b = await startNode({ agents: { pull } });
    const removed: string[] = [];
    a.sw.on('peer:disconnected', ({ reason }) => removed.push(String(reason)));
    const peer = await b.sw.dial(a.address);
    const sending = (async () => {
      for (let i = 0; i < total; i++) expect(await peer.send(0x40, bytes(size, i), { timeoutMs: 20_000 })).toBe(true);
    })();
    // Nobody reads for a while: the inbox takes 1 MiB and the message that found it full, then the sender waits.
    const received = (): number => a.sw.status().peers[0]?.channels.find((c) => c.id === 0x40)?.receivedMessages ?? 0;
    await waitFor(() => received() >= 4, 20_000, 'the inbox to fill');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received()).toBeLessThanOrEqual(5);
    const got: number[] = [];
    for await (const { message } of a.sw.receive(0x40)) {
      expect(Buffer.compare(message, bytes(size, got.length))).toBe(0);
      got.push(got.length);
      if (got.length === total) break;
    }
    await within(sending, 20_000, 'every message sent');
    expect(removed).toEqual([]);
  }, 90_000);

  it('an async receive holds at most MAX_ASYNC_RECEIVE_BYTES_PER_PEER of one peer\'s messages in flight, then that peer waits', async () => {
    const size = 1024 * 1024;
    const total = 12;
    const pending: (() => void)[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const slow: Agent = {
      channels: [{ id: 0x40, recvMessageCapacity: size }],
      receive: () =>
        new Promise<void>((resolve) => {
          mostInFlight = Math.max(mostInFlight, ++inFlight);
          pending.push(() => {
            inFlight--;
            resolve();
          });
        }),
    };
    const a = await startNode({ agents: { slow } });
    const b = await startNode({ agents: { slow: { channels: [{ id: 0x40, recvMessageCapacity: size }] } } });
    const peer = await b.sw.dial(a.address);
    const sending = (async () => {
      for (let i = 0; i < total; i++) expect(await peer.send(0x40, bytes(size, i), { timeoutMs: 20_000 })).toBe(true);
    })();
    await waitFor(() => inFlight >= MAX_ASYNC_RECEIVE_BYTES_PER_PEER / size, 20_000, 'receives in flight');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(mostInFlight).toBeLessThanOrEqual(MAX_ASYNC_RECEIVE_BYTES_PER_PEER / size + 1);
    let settled = 0;
    while (settled < total) {
      await waitFor(() => pending.length > 0, 20_000, 'the next receive');
      pending.shift()!();
      settled++;
    }
    await within(sending, 30_000, 'every message sent');
    expect(mostInFlight).toBeLessThanOrEqual(MAX_ASYNC_RECEIVE_BYTES_PER_PEER / size + 1);
  }, 90_000);

  it('more honest senders than a pull inbox holds are each paused, never cut: every message arrives', async () => {
    const capacity = 2;
    const senders = 6;
    const each = 200;
    const pull = { channels: [{ id: 0x40, sendQueueCapacity: 1024 }] };
    const a = await startNode({ agents: { pull }, inboxCapacity: capacity });
    const removed: string[] = [];
    a.sw.on('peer:disconnected', ({ reason }) => removed.push(String(reason)));
    const peers = await Promise.all(
      Array.from({ length: senders }, async () => {
        const node = await startNode({ agents: { pull: { channels: [{ id: 0x40, sendQueueCapacity: 1024 }] } } });
        return node.sw.dial(a.address);
      }),
    );
    await waitFor(() => a.sw.peers.length === senders, 5000, 'every sender connected');
    // Every sender's first messages arrive while nobody reads: the inbox fills, and each sender is paused.
    for (const peer of peers) for (let i = 0; i < each; i++) expect(peer.trySend(0x40, bytes(8, i))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    let read = 0;
    const reading = (async () => {
      for await (const _ of a.sw.receive(0x40)) if (++read === senders * each) return;
    })();
    await within(reading, 20_000, 'every message read').catch((error: unknown) => {
      throw new Error(`${String(error)}: read ${read}, removed ${removed.join()}`);
    });
    expect(removed).toEqual([]);
  }, 30_000);

  it('rejects two agents claiming one channel at start', async () => {
    const sw = new Switch({ identity: generateNodeKey(), network: 'x', transports: [tcpTransport()] });
    sw.addAgent('one', new RecordingAgent([{ id: 7 }]));
    sw.addAgent('two', new RecordingAgent([{ id: 7 }]));
    await expect(sw.start()).rejects.toBeInstanceOf(ConfigError);
  });

  it('stops the peer when an agent rejects a message by throwing', async () => {
    const picky: Agent = {
      channels: [{ id: 0x50 }],
      receive: () => {
        throw new ProtocolError('ERR_MALFORMED_MESSAGE', 'not a valid tx');
      },
    };
    const a = await startNode({ agents: { picky } });
    const b = await startNode({ agents: { picky: { channels: [{ id: 0x50 }] } } });
    const reasons: unknown[] = [];
    a.sw.on('peer:disconnected', ({ reason }) => reasons.push(reason));
    const peer = await b.sw.dial(a.address);
    peer.trySend(0x50, bytes(3));
    await waitFor(() => reasons.length === 1, 2000, 'disconnect');
    expect(reasons[0]).toMatchObject({ code: 'ERR_MALFORMED_MESSAGE' });
  });

  it('reports status with per-peer, per-channel counters', async () => {
    const a = await startNode({ moniker: 'alpha' });
    const b = await startNode();
    const peer = await a.sw.dial(b.address);
    await peer.send(0x20, bytes(1000));
    await waitFor(() => b.agent.messages.length === 1, 2000, 'message');
    const status = a.sw.status();
    expect(status.nodeId).toBe(a.sw.nodeId);
    expect(status.moniker).toBe('alpha');
    expect(status.listen[0]).toMatch(/^tcp:\/\/[0-9a-f]{40}@127\.0\.0\.1:\d+$/);
    expect(status.peers).toHaveLength(1);
    const channel = status.peers[0]!.channels.find((c) => c.id === 0x20)!;
    expect(channel.sentMessages).toBe(1);
    expect(channel.sentBytes).toBe(1000);
    expect(status.peers[0]!.direction).toBe('outbound');
    const remote = b.sw.status().peers[0]!.channels.find((c) => c.id === 0x20)!;
    expect(remote.receivedMessages).toBe(1);
    expect(remote.receivedBytes).toBe(1000);
  });
});

function hubChannels() {
  return [
    { id: 0x20, priority: 5, sendQueueCapacity: 100, recvMessageCapacity: 64 * 1024 },
    { id: 0x30, priority: 1, sendQueueCapacity: 100, recvMessageCapacity: 64 * 1024 },
  ];
}
