/**
 * Peers that disagree about channels (issue 13): each side declares its channels and their receive
 * capacities in NodeInfo; a send the remote would refuse fails here, typed, and costs nothing; when a
 * peer does cut us, it says why first, so our disconnect reason is its code, not a reset.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bytes, startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { ConfigError, ProtocolError, RemoteCloseError, SendError } from '../../src/errors.js';
import type { Peer } from '../../src/switch/peer.js';

afterEach(stopAll);

const SHARED = 0x20;
const ONLY_OURS = 0x21;
const ONLY_THEIRS = 0x22;
const SMALL_CAPACITY = 1024;

/** `ours` dials `theirs`: both have SHARED (theirs takes at most 1 KiB on it), one channel each of their own. */
async function disagreeingPair() {
  const theirs = await startNode({ channels: [{ id: SHARED, recvMessageCapacity: SMALL_CAPACITY }, { id: ONLY_THEIRS }] });
  const ours = await startNode({ channels: [{ id: SHARED, recvMessageCapacity: 1024 * 1024 }, { id: ONLY_OURS }] });
  const errors: Error[] = [];
  const disconnects: (Error | undefined)[] = [];
  ours.sw.on('peer:error', ({ error }) => errors.push(error));
  ours.sw.on('peer:disconnected', ({ reason }) => disconnects.push(reason));
  const peer = await ours.sw.dial(theirs.address);
  await waitFor(() => theirs.sw.peers.length === 1, 3000, 'theirs sees ours');
  return { ours, theirs, peer, errors, disconnects };
}

function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('Peer channels: what both ends declared', () => {
  it('hasChannel is true only for channels both declared, and maxMessageBytes is the remote capacity', async () => {
    const { peer, theirs } = await disagreeingPair();
    expect(peer.hasChannel(SHARED)).toBe(true);
    expect(peer.hasChannel(ONLY_OURS)).toBe(false);
    expect(peer.hasChannel(ONLY_THEIRS)).toBe(false);
    expect(peer.hasChannel(300)).toBe(false);
    expect(peer.maxMessageBytes(SHARED)).toBe(SMALL_CAPACITY);
    expect(peer.maxMessageBytes(ONLY_OURS)).toBe(0);
    expect(peer.nodeInfo.channels).toEqual([SHARED, ONLY_THEIRS]);
    expect(peer.nodeInfo.recvMessageCapacities).toEqual([SMALL_CAPACITY, 1024 * 1024]);
    expect(theirs.sw.peers[0]!.maxMessageBytes(SHARED)).toBe(1024 * 1024);
  });

  it('refuses, locally and typed, a send on a channel the remote lacks; the connection stays up', async () => {
    const { peer, theirs, errors } = await disagreeingPair();
    const tried = thrown(() => peer.trySend(ONLY_OURS, bytes(10)));
    expect(tried).toBeInstanceOf(SendError);
    expect(tried).toMatchObject({ code: 'ERR_UNKNOWN_CHANNEL', peerId: peer.id, detail: { channelId: ONLY_OURS, missingOn: 'remote' } });
    await expect(peer.send(ONLY_OURS, bytes(10))).rejects.toMatchObject({ code: 'ERR_UNKNOWN_CHANNEL', detail: { missingOn: 'remote' } });
    // A channel only they have: ours lacks it, same code, the other side named.
    await expect(peer.send(ONLY_THEIRS, bytes(10))).rejects.toMatchObject({ code: 'ERR_UNKNOWN_CHANNEL', detail: { missingOn: 'local' } });
    expect(await peer.send(SHARED, bytes(10))).toBe(true);
    await waitFor(() => theirs.agent.messages.length === 1, 3000, 'the shared-channel message');
    expect(peer.isConnected).toBe(true);
    expect(errors).toEqual([]);
  });

  it('refuses a message over the remote recvMessageCapacity before queueing it; one at the limit goes', async () => {
    const { peer, theirs, errors } = await disagreeingPair();
    const tried = thrown(() => peer.trySend(SHARED, bytes(SMALL_CAPACITY + 1)));
    expect(tried).toBeInstanceOf(SendError);
    expect(tried).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE', detail: { channelId: SHARED, size: SMALL_CAPACITY + 1, limit: SMALL_CAPACITY } });
    await expect(peer.send(SHARED, bytes(SMALL_CAPACITY + 1))).rejects.toBeInstanceOf(SendError);
    expect(peer.status().channels.find((c) => c.id === SHARED)!.sendQueueLength).toBe(0);
    expect(peer.trySend(SHARED, bytes(SMALL_CAPACITY))).toBe(true);
    await waitFor(() => theirs.agent.messages.length === 1, 3000, 'the message at the limit');
    expect(errors).toEqual([]);
  });

  it('the other direction: a message bigger than our own capacity goes when the remote takes it', async () => {
    const { peer, ours, theirs } = await disagreeingPair();
    const back = theirs.sw.peers[0]!;
    expect(await back.send(SHARED, bytes(200 * 1024))).toBe(true);
    await waitFor(() => ours.agent.messages.length === 1, 5000, 'the large message');
    expect(ours.agent.messages[0]!.message.length).toBe(200 * 1024);
    expect(peer.isConnected).toBe(true);
  });

  it.each([300, -1, 1.5, Number.NaN, 256])('rejects channel id %s as out of range, never masked', async (id) => {
    const { peer } = await disagreeingPair();
    const tried = thrown(() => peer.trySend(id, bytes(1)));
    expect(tried).toBeInstanceOf(ConfigError);
    expect(tried).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: `Channel id must be an integer 0..255, got ${String(id)}` });
    await expect(peer.send(id, bytes(1))).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('rejects a channel id outside 0..255 when an agent declares it', async () => {
    await expect(startNode({ channels: [{ id: 300 }] })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', message: 'Channel id must be an integer 0..255, got 300' });
  });
});

describe('A peer that cuts us says why', () => {
  it('our disconnect reason is its ERR_UNKNOWN_CHANNEL, not a reset, when we send on a channel it lacks', async () => {
    const { peer, theirs, errors, disconnects } = await disagreeingPair();
    const theirErrors: Error[] = [];
    theirs.sw.on('peer:error', ({ error }) => theirErrors.push(error));
    peer.connection.trySend(ONLY_OURS, bytes(10)); // what an older or buggy peer would do
    await waitFor(() => disconnects.length === 1, 5000, 'we are cut');
    expect(theirErrors[0]).toBeInstanceOf(ProtocolError);
    expect(theirErrors[0]).toMatchObject({ code: 'ERR_UNKNOWN_CHANNEL' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RemoteCloseError);
    expect(errors[0]).toMatchObject({ code: 'ERR_UNKNOWN_CHANNEL', peerId: peer.id, detail: { remoteMessage: expect.stringContaining('unknown channel 0x21') } });
    expect(disconnects[0]).toBe(errors[0]);
  });

  it('our reason is its ERR_MESSAGE_TOO_LARGE when we send past its capacity', async () => {
    const { peer, errors } = await disagreeingPair();
    peer.connection.trySend(SHARED, bytes(SMALL_CAPACITY + 1));
    await waitFor(() => errors.length === 1, 5000, 'we are cut');
    expect(errors[0]).toMatchObject({ name: 'RemoteCloseError', code: 'ERR_MESSAGE_TOO_LARGE' });
  });

  it('an agent that refuses a message and a ban reach the sender as ERR_PROTOCOL and ERR_BANNED', async () => {
    const refusing = await startNode({
      channels: [],
      agents: {
        strict: {
          channels: [{ id: SHARED }],
          receive: () => {
            throw new Error('internal detail that must not leak');
          },
        },
      },
    });
    const sender = await startNode({ channels: [{ id: SHARED }] });
    const errors: Error[] = [];
    sender.sw.on('peer:error', ({ error }) => errors.push(error));
    const peer: Peer = await sender.sw.dial(refusing.address);
    expect(await peer.send(SHARED, bytes(4))).toBe(true);
    await waitFor(() => errors.length === 1, 5000, 'refused');
    expect(errors[0]).toMatchObject({ name: 'RemoteCloseError', code: 'ERR_PROTOCOL' });
    expect(errors[0]!.message).not.toContain('internal detail');

    const banned = await sender.sw.dial(refusing.address);
    await waitFor(() => refusing.sw.peers.length === 1, 3000, 'reconnected');
    refusing.sw.ban(sender.sw.nodeId, 60_000);
    await waitFor(() => errors.length === 2, 5000, 'banned');
    expect(errors[1]).toMatchObject({ name: 'RemoteCloseError', code: 'ERR_BANNED', peerId: banned.id });
  });
});
