/**
 * Every wait of the public API ends when its AbortSignal fires or its deadline passes, whatever peers
 * do (go silent mid-handshake, hold a dial of the same peer open). Real TCP on 127.0.0.1.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { closedPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const servers: { server: Server; sockets: Set<Socket> }[] = [];
afterEach(async () => {
  await stopAll();
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A TCP server that accepts and never says a word: a dial to it hangs in the handshake until its deadline. */
async function silentPeer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.resume(); // reads (and drops) the dialler's hello, so its hang-up is seen
    socket.once('close', () => sockets.delete(socket));
  });
  servers.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** Ms until `promise` settles, and how. */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  const error = await promise.then(() => undefined, (failure: unknown) => failure);
  return { ms: performance.now() - started, error };
}

describe('bounded waits', () => {
  it('a dial joining another dial of the same peer still ends when its own signal fires', async () => {
    const node = await startNode({ handshakeTimeoutMs: 4000 });
    const address = `tcp://${generateNodeKey().nodeId}@127.0.0.1:${await silentPeer()}`;
    // Someone (PEX, a persistent peer, the app) is already dialling it: it hangs in the handshake.
    const first = node.sw.dial(address).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const controller = new AbortController();
    const second = timed(node.sw.dial(address, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 100);
    const { ms, error } = await second;
    // Before: it waited for the other dial's handshake deadline (4 s here, 20 s by default).
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(ms).toBeLessThan(1000);
    await first;
  });

  it('a dial given an already-aborted signal rejects at once when the same peer is being dialled; the last caller to give up abandons the dial', async () => {
    const node = await startNode({ handshakeTimeoutMs: 4000 });
    const address = `tcp://${generateNodeKey().nodeId}@127.0.0.1:${await silentPeer()}`;
    const running = node.sw.dial(address).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { ms, error } = await timed(node.sw.dial(address, { signal: AbortSignal.abort() }));
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(ms).toBeLessThan(200);
    // Two callers with signals: the dial goes on while one still waits, and is abandoned (its socket
    // closed) when both gave up.
    const other = `tcp://${generateNodeKey().nodeId}@127.0.0.1:${await silentPeer()}`;
    const live = (): number => servers.at(-1)!.sockets.size;
    const [a, b] = [new AbortController(), new AbortController()];
    const first = timed(node.sw.dial(other, { signal: a.signal }));
    const second = timed(node.sw.dial(other, { signal: b.signal }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    a.abort();
    expect((await first).error).toMatchObject({ name: 'AbortError' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(live()).toBe(1);
    b.abort();
    expect((await second).error).toMatchObject({ name: 'AbortError' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(live()).toBe(0);
    await running;
  });

  it('one caller giving up does not fail the wait of another dialling the same peer (a persistent redial)', async () => {
    const node = await startNode({ handshakeTimeoutMs: 1000 });
    const address = `tcp://${generateNodeKey().nodeId}@127.0.0.1:${await silentPeer()}`;
    const controller = new AbortController();
    const impatient = timed(node.sw.dial(address, { signal: controller.signal }));
    // A caller without a signal joins it: the Switch's persistent redial dials this way.
    const patient = timed(node.sw.dial(address));
    setTimeout(() => controller.abort(), 100);
    expect((await impatient).error).toMatchObject({ name: 'AbortError' });
    // It gets the dial's real outcome (the silent peer's handshake deadline), not the other's abort:
    // the redial loop stopped for good on an AbortError (before: AbortError after 100 ms).
    const { ms, error } = await patient;
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(ms).toBeGreaterThan(800);
  });


  it('a persistent dial that fails (the peer is down) keeps being retried until the peer is back', async () => {
    const node = await startNode();
    const key = generateNodeKey();
    const port = await closedPort();
    const address = `tcp://${key.nodeId}@127.0.0.1:${port}`;
    const failures: boolean[] = [];
    node.sw.on('dial:failed', ({ willRetry }) => void failures.push(willRetry));
    await expect(node.sw.dial(address, { persistent: true })).rejects.toMatchObject({ name: 'TransportError' });
    await waitFor(() => failures.length >= 2, 3000, 'redials of the persistent peer');
    // The peer comes back where it was: it is connected without the app dialling again (before: never).
    const peer = await startNode({ identity: key, listen: [`tcp://127.0.0.1:${port}`] });
    await waitFor(() => node.sw.getPeer(key.nodeId) !== undefined, 5000, 'the persistent peer to be connected');
    expect(failures.every(Boolean)).toBe(true);
    void peer;
  });

  it('waiting for an event with an already-aborted signal rejects at once', async () => {
    const node = await startNode();
    // Before: the listener went on a signal that had fired already, so the wait lasted until the event
    // came (here: a peer that never connects), whatever the caller's signal said.
    const { ms, error } = await timed(Promise.race([node.sw.once('peer:connected', { signal: AbortSignal.abort() }), new Promise((resolve) => setTimeout(resolve, 1000))]));
    expect(error, 'rejected').toBeInstanceOf(Error);
    expect(ms).toBeLessThan(500);
  });

  it('a persistent peer that takes each connection and hangs up at once is redialled with a growing backoff, not every base delay', async () => {
    // The default policy (0.5 s base): a node that accepts and then cuts us must not make us pay a
    // handshake (X25519, two ed25519 operations) every half second for as long as it likes.
    const node = await startNode({ reconnect: {} });
    const hangsUp = await startNode();
    let connections = 0;
    hangsUp.sw.on('peer:connected', ({ peer }) => {
      connections++;
      setImmediate(() => peer.connection.destroy());
    });
    await node.sw.dial(hangsUp.address, { persistent: true });
    await new Promise((resolve) => setTimeout(resolve, 4500));
    // 0.5 s, then 1, 2, 4 s (±25 %): at most 4 connections in 4.5 s (before: one per ~0.5 s, 8 to 10).
    expect(connections, 'connections in 4.5 s').toBeGreaterThanOrEqual(2);
    expect(connections, 'connections in 4.5 s').toBeLessThanOrEqual(4);
  });

  it('a persistent peer back from a long outage that drops its first connection is redialled at once, not after the longest backoff', async () => {
    // A fast policy standing in for the default (0.5 s … 60 s): the outage takes the backoff to its cap.
    const reconnect = { baseDelayMs: 50, maxDelayMs: 3000, jitterRatio: 0 };
    const node = await startNode({ reconnect });
    const key = generateNodeKey();
    let peer = await startNode({ identity: key });
    const port = peer.address.slice(peer.address.lastIndexOf(':') + 1);
    await node.sw.dial(peer.address, { persistent: true });
    await peer.sw.stop();
    await new Promise((resolve) => setTimeout(resolve, 3500)); // dials fail: 50, 100 … 1,600 ms, then 3 s
    // Back (a deploy: it starts, then restarts once more at once).
    peer = await startNode({ identity: key, listen: [`tcp://127.0.0.1:${port}`] });
    await waitFor(() => node.sw.getPeer(key.nodeId) !== undefined, 5000, 'reconnected after the outage');
    await peer.sw.stop();
    peer = await startNode({ identity: key, listen: [`tcp://127.0.0.1:${port}`] });
    const { ms } = await timed(waitFor(() => node.sw.getPeer(key.nodeId) !== undefined, 5000, 'reconnected after the restart'));
    // The short connection is the second in a row (base · 2²); before: the outage's failed dials still
    // counted, so the node waited the longest backoff (60 s by default) for a peer that was back.
    expect(ms, 'reconnected after the restart').toBeLessThan(1500);
  }, 15000);

  it('a persistent peer refusing us as a duplicate (it still holds our old connection) is redialled at a steady pace, not a growing backoff', async () => {
    // Our old connection lingers on its side (we restarted; it has not seen the connection die yet): here a
    // second node with our key holds it. The policy stands in for the default (0.5 s … 60 s).
    const reconnect = { baseDelayMs: 50, maxDelayMs: 3000, jitterRatio: 0 };
    const peer = await startNode();
    const key = generateNodeKey();
    const oldSelf = await startNode({ identity: key });
    await oldSelf.sw.dial(peer.address);
    const node = await startNode({ identity: key, reconnect });
    const refusals: string[] = [];
    node.sw.on('dial:failed', ({ error }) => void refusals.push((error as { code?: string }).code ?? error.name));
    await expect(node.sw.dial(peer.address, { persistent: true })).rejects.toMatchObject({ code: 'ERR_DUPLICATE_PEER' });
    await new Promise((resolve) => setTimeout(resolve, 1700));
    // The old connection ends (the peer's keep-alive would): we are taken at the next redial.
    await oldSelf.sw.stop();
    const { ms } = await timed(waitFor(() => node.sw.getPeer(peer.sw.nodeId) !== undefined, 5000, 'reconnected once the old connection ended'));
    // Refusals wait base · 2³ (400 ms) each, no more: before, each doubled the wait (50, 100 … 1,600 ms), so
    // the peer, free since 1.7 s, was redialled at ~3.1 s (with the defaults: up to a minute after it was free).
    expect(ms, 'reconnected after the old connection ended').toBeLessThan(700);
    // Not a tight loop either: a refusal costs both ends a handshake.
    expect(refusals.every((code) => code === 'ERR_DUPLICATE_PEER'), refusals.join()).toBe(true);
    expect(refusals.length, 'refusals in 1.7 s').toBeLessThanOrEqual(7);
  }, 15000);
});
