import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import type { Peer } from '../../src/switch/peer.js';
import { startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { startSilenceableProxy } from '../helpers/silenceable-proxy.js';
import { waitFor } from '../helpers/wait.js';

/** The port of a `tcp://<id>@host:port` address. */
const portOf = (address: string): number => Number(/:(\d+)\/?$/.exec(address)![1]);

describe('a key that connects again while we still hold its silent connection', () => {
  const relays: { close: () => void }[] = [];
  afterEach(async () => {
    for (const relay of relays.splice(0)) relay.close();
    await stopAll();
  });

  /** A node whose keep-alive would take a minute to notice; its pong timeout (1 s) bounds the probe. */
  const startHolder = (): Promise<TestNode> => startNode({ connection: { pingIntervalMs: 60_000, pongTimeoutMs: 1_000 } });

  /** A node that dialled `holder` through a proxy that then went silent: it saw the link end, `holder` did not. */
  async function silencedDialler(holder: TestNode): Promise<{ first: TestNode; oldPeer: Peer }> {
    const relay = await startSilenceableProxy(portOf(holder.address));
    relays.push(relay);
    const first = await startNode({ identity: generateNodeKey(), reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
    await first.sw.dial(`tcp://${holder.sw.nodeId}@127.0.0.1:${relay.port}`);
    await waitFor(() => holder.sw.getPeer(first.sw.nodeId) !== undefined);
    const oldPeer = holder.sw.getPeer(first.sw.nodeId)!;
    relay.silence();
    await waitFor(() => first.sw.peers.length === 0);
    return { first, oldPeer };
  }

  it('admits the new connection once the old one answers no ping, and cuts the old one with ERR_PONG_TIMEOUT', async () => {
    const holder = await startHolder();
    const { first, oldPeer } = await silencedDialler(holder);
    expect(holder.sw.getPeer(first.sw.nodeId)).toBe(oldPeer); // the holder has not noticed

    // The same key dials again directly. Before: refused with ERR_DUPLICATE_PEER until the holder's
    // keep-alive cut the old connection (pingIntervalMs + pongTimeoutMs, 105 s by default).
    const startedAt = performance.now();
    const peer = await first.sw.dial(holder.address);
    const tookMs = performance.now() - startedAt;
    expect(peer.id).toBe(holder.sw.nodeId);
    await waitFor(() => holder.sw.getPeer(first.sw.nodeId) !== undefined && holder.sw.getPeer(first.sw.nodeId) !== oldPeer);
    expect(tookMs).toBeLessThan(5_000);
    const removal = holder.agent.removed.find((entry) => entry.peer === oldPeer);
    expect(removal?.reason).toMatchObject({ code: 'ERR_PONG_TIMEOUT' });

    // The new connection carries messages both ways.
    const fromHolder = holder.sw.getPeer(first.sw.nodeId)!;
    expect(fromHolder.trySend(0x20, new Uint8Array([1, 2, 3]))).toBe(true);
    await waitFor(() => first.agent.messages.length === 1);
    expect(peer.trySend(0x20, new Uint8Array([4]))).toBe(true);
    await waitFor(() => holder.agent.messages.length === 1);
  });

  it('hands the old inbound slot to the new connection at a full node: no one else is evicted or refused', async () => {
    const holder = await startNode({ maxInbound: 2, connection: { pingIntervalMs: 60_000, pongTimeoutMs: 1_000 } });
    const honest = await startNode();
    await honest.sw.dial(holder.address);
    const relay = await startSilenceableProxy(portOf(holder.address));
    relays.push(relay);
    const first = await startNode({ reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
    await first.sw.dial(`tcp://${holder.sw.nodeId}@127.0.0.1:${relay.port}`);
    await waitFor(() => holder.sw.peers.length === 2);

    relay.silence();
    await waitFor(() => first.sw.peers.length === 0);
    // Fill the silent path's socket buffers, so that the old link lingers (up to 2 s) trying to say why
    // it is cut: its slot must still go to the newcomer.
    const old = holder.sw.getPeer(first.sw.nodeId)!;
    for (let i = 0; i < 100; i++) old.trySend(0x20, new Uint8Array(60 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await first.sw.dial(holder.address);
    await waitFor(() => holder.sw.peers.length === 2 && holder.sw.peers.every((peer) => peer.isConnected));
    expect(holder.sw.getPeer(honest.sw.nodeId)?.isConnected).toBe(true);
    expect(honest.sw.peers.length).toBe(1);
    expect(holder.agent.removed.filter((entry) => entry.peer.id === honest.sw.nodeId)).toEqual([]);
  });

  it('lets a connection we are closing gracefully finish: the key connecting again meanwhile is refused, not let cut its flush short', async () => {
    const holder = await startHolder();
    const { first, oldPeer: old } = await silencedDialler(holder);
    // Our graceful close of the old connection is under way (it cannot finish: the path is silent).
    expect(old.trySend(0x20, new Uint8Array([9]))).toBe(true);
    void holder.sw.disconnect(old);
    expect(old.connection.state).toBe('closing');
    await expect(first.sw.dial(holder.address)).rejects.toMatchObject({ code: 'ERR_DUPLICATE_PEER' });
    expect(holder.sw.getPeer(first.sw.nodeId)).toBe(old);
  });

  it('keeps a connection that answers: a second process with the same key is refused as a duplicate', async () => {
    const holder = await startHolder();
    const key = generateNodeKey();
    const first = await startNode({ identity: key });
    await first.sw.dial(holder.address);
    await waitFor(() => holder.sw.peers.length === 1);
    const oldPeer = holder.sw.peers[0]!;

    const second = await startNode({ identity: key });
    await expect(second.sw.dial(holder.address)).rejects.toMatchObject({ code: 'ERR_DUPLICATE_PEER' });
    expect(holder.sw.getPeer(first.sw.nodeId)).toBe(oldPeer);
    expect(oldPeer.isConnected).toBe(true);
    expect(first.sw.peers.length).toBe(1);
  });
});
