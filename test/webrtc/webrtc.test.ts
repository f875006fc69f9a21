import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { SIGNAL_CHANNEL_ID } from '../../src/webrtc/constants.js';
import { decodeSignalMessage, encodeSignalMessage } from '../../src/webrtc/signal-messages.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import type { Switch } from '../../src/switch/switch.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { bytes, startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

const CHANNELS = [{ id: 0x20, priority: 1, sendQueueCapacity: 100, recvMessageCapacity: 2 * 1024 * 1024 }];

/** A node that can dial and accept webrtc:// and is connected to `relay` over TCP. */
async function startRtcNode(relay: TestNode | undefined, extra: { signalBurst?: number } = {}): Promise<TestNode & { rtc: ReturnType<typeof webrtcTransport> }> {
  const key = generateNodeKey();
  const rtc = webrtcTransport({ signal: extra.signalBurst === undefined ? {} : { burstMessages: extra.signalBurst } });
  const node = await startNode({
    identity: key,
    channels: CHANNELS,
    transports: [tcpTransport(), rtc],
    listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`],
    agents: { signal: rtc.signalAgent },
  });
  if (relay !== undefined) await node.sw.dial(relay.address);
  return { ...node, rtc };
}

function startRelay(agent: Agent = new SignalAgent()): Promise<TestNode> {
  return startNode({ channels: CHANNELS, agents: { signal: agent } });
}

/** A relay that sends A's signals for B to C instead, and C's answers back to A as if from B. */
class RedirectingRelay implements Agent {
  readonly channels = new SignalAgent().channels;
  forwarded = 0;
  private sw: Switch | undefined;
  constructor(private readonly route: { a: string; b: string; c: string }) {}
  start(sw: Switch): void {
    this.sw = sw;
  }
  receive(_channelId: number, peer: Peer, bytes: Uint8Array): void {
    const message = decodeSignalMessage(bytes);
    if (message.type !== 'signal') return;
    const { a, b, c } = this.route;
    let to: string;
    let from: string;
    if (peer.id === a && message.to === b) [to, from] = [c, a];
    else if (peer.id === c && message.to === a) [to, from] = [a, b]; // forged: C's answer claims to be B's
    else return;
    this.forwarded++;
    this.sw!.getPeer(to)?.trySend(SIGNAL_CHANNEL_ID, encodeSignalMessage({ type: 'signal', from, to, data: message.data }));
  }
}

describe('WebRTC transport through a signalling relay', () => {
  it('connects two nodes over a WebRTC data channel via a relay, carrying messages both ways (1 MiB included)', async () => {
    const relay = await startRelay();
    const a = await startRtcNode(relay);
    const b = await startRtcNode(relay);
    b.sw.on('inbound:rejected', (e) => console.log('B REJ', e.error));
    const peer = await a.sw.dial(`webrtc://${b.key.nodeId}?via=${relay.key.nodeId}`).catch((e) => { console.log('DIALERR', e, e.detail); throw e; });
    expect(peer.id).toBe(b.key.nodeId);
    expect(peer.transport).toBe('webrtc');
    await waitFor(() => b.sw.getPeer(a.key.nodeId) !== undefined, 3000, 'B sees A');
    expect(b.sw.getPeer(a.key.nodeId)!.transport).toBe('webrtc');
    expect(b.sw.getPeer(a.key.nodeId)!.direction).toBe('inbound');

    const big = bytes(1024 * 1024, 7);
    expect(await peer.send(0x20, bytes(100, 1))).toBe(true);
    expect(await peer.send(0x20, big)).toBe(true);
    expect(await b.sw.getPeer(a.key.nodeId)!.send(0x20, bytes(3000, 2))).toBe(true);
    await waitFor(() => b.agent.messages.length === 2, 8000, 'B receives both messages');
    await waitFor(() => a.agent.messages.some((m) => m.peer.id === b.key.nodeId), 3000, 'A receives from B');
    expect(b.agent.messages[1]!.message).toEqual(big);
    expect(b.agent.messages.every((m) => m.peer.transport === 'webrtc')).toBe(true);
    expect(a.agent.messages.find((m) => m.peer.id === b.key.nodeId)!.message).toEqual(bytes(3000, 2));

    // The relay carried signalling only: no app message reached it, and it relayed both directions.
    const relaySignal = relay.sw.getAgent<SignalAgent>('signal')!;
    expect(relay.agent.messages).toEqual([]);
    expect(relaySignal.stats.relayed).toBeGreaterThanOrEqual(2);
    const fromA = relay.sw.status().peers.find((p) => p.id === a.key.nodeId)!;
    expect(fromA.transport).toBe('tcp');
    expect(fromA.receivedBytes).toBeLessThan(256 * 1024);

    // Closing the WebRTC peer closes it on both ends; the relay links stay up.
    await a.sw.disconnect(peer);
    // B learns of the close when its data channel closes (~2 s under @roamhq/wrtc).
    await waitFor(() => b.sw.getPeer(a.key.nodeId) === undefined, 8000, 'B notices the close');
    expect(a.sw.getPeer(relay.key.nodeId)?.isConnected).toBe(true);
  });

  it('fails with ERR_WRONG_PEER_ID when the relay redirects the offer to another node', async () => {
    const keys = { a: generateNodeKey(), b: generateNodeKey() };
    const evil = new RedirectingRelay({ a: keys.a.nodeId, b: keys.b.nodeId, c: '' });
    const relay = await startRelay(evil);
    const c = await startRtcNode(relay);
    (evil as unknown as { route: { c: string } }).route.c = c.key.nodeId;
    const rtcA = webrtcTransport();
    const a = await startNode({
      identity: keys.a,
      channels: CHANNELS,
      transports: [tcpTransport(), rtcA],
      listen: [`webrtc://${keys.a.nodeId}`],
      agents: { signal: rtcA.signalAgent },
    });
    await a.sw.dial(relay.address);
    const rtcB = webrtcTransport();
    const b = await startNode({ identity: keys.b, channels: CHANNELS, transports: [tcpTransport(), rtcB], listen: [`webrtc://${keys.b.nodeId}`], agents: { signal: rtcB.signalAgent } });
    await b.sw.dial(relay.address);

    const dial = a.sw.dial(`webrtc://${keys.b.nodeId}?via=${relay.key.nodeId}`);
    await expect(dial).rejects.toMatchObject({ code: 'ERR_WRONG_PEER_ID' });
    expect(evil.forwarded).toBeGreaterThan(0); // the WebRTC link to C did open: the handshake caught it
    expect(a.sw.peers.map((p) => p.id)).toEqual([relay.key.nodeId]);
    expect(c.sw.getPeer(keys.a.nodeId)).toBeUndefined();
  });

  it('stops a peer that floods the signalling channel, and other peers keep working', async () => {
    const relay = await startRelay();
    const a = await startRtcNode(relay);
    const b = await startRtcNode(relay);
    const flooder = await startRtcNode(relay);
    const errors: { peer: string; code: unknown }[] = [];
    relay.sw.on('peer:error', ({ peer, error }) => errors.push({ peer: peer.id, code: (error as { code?: unknown }).code }));

    const toRelay = flooder.sw.getPeer(relay.key.nodeId)!;
    const junk = encodeSignalMessage({ type: 'signal', from: flooder.key.nodeId, to: a.key.nodeId, data: { type: 'candidate', candidate: { candidate: 'candidate:0 1 UDP 1 127.0.0.1 9 typ host' } } });
    for (let i = 0; i < 200; i++) toRelay.trySend(SIGNAL_CHANNEL_ID, junk);
    await waitFor(() => relay.sw.getPeer(flooder.key.nodeId) === undefined, 3000, 'flooder stopped');
    expect(errors).toContainEqual({ peer: flooder.key.nodeId, code: 'ERR_RATE_LIMIT' });

    const peer = await a.sw.dial(`webrtc://${b.key.nodeId}?via=${relay.key.nodeId}`);
    expect(peer.transport).toBe('webrtc');
    expect(await peer.send(0x20, bytes(10, 3))).toBe(true);
    await waitFor(() => b.agent.messages.length === 1, 3000, 'message after the flood');
    expect(relay.sw.getPeer(a.key.nodeId)).toBeDefined();
  });

  it('fails fast with a typed error when the relay is not connected to the target, or we are not connected to the relay', async () => {
    const relay = await startRelay();
    const a = await startRtcNode(relay);
    const stranger = generateNodeKey().nodeId;
    const started = Date.now();
    await expect(a.sw.dial(`webrtc://${stranger}?via=${relay.key.nodeId}`)).rejects.toMatchObject({
      code: 'ERR_TRANSPORT',
      detail: { reason: 'unreachable' },
    });
    await expect(a.sw.dial(`webrtc://${stranger}?via=${generateNodeKey().nodeId}`)).rejects.toMatchObject({
      code: 'ERR_TRANSPORT',
      detail: { reason: 'no-relay' },
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(relay.sw.getAgent<SignalAgent>('signal')!.stats.unreachable).toBeGreaterThanOrEqual(1);
  });

  it('rejects malformed and oversized signalling messages with typed errors', () => {
    const id = generateNodeKey().nodeId;
    expect(() => decodeSignalMessage(encodeSignalMessage({ type: 'signal', from: 'x', to: id, data: { type: 'offer', sdp: 'v=0' } } as never))).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_MESSAGE' }),
    );
    expect(() => decodeSignalMessage(encodeSignalMessage({ type: 'signal', from: id, to: id, data: { type: 'renegotiate' } } as never))).toThrow(
      expect.objectContaining({ code: 'ERR_MALFORMED_MESSAGE' }),
    );
    expect(() => decodeSignalMessage(new Uint8Array(17 * 1024))).toThrow(expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE' }));
  });
});

describe('WebRTC simultaneous dials', () => {
  it('ends with one WebRTC connection when both nodes dial each other at once through the relay', async () => {
    const relay = await startRelay();
    const a = await startRtcNode(relay);
    const b = await startRtcNode(relay);
    const results = await Promise.allSettled([
      a.sw.dial(`webrtc://${b.key.nodeId}?via=${relay.key.nodeId}`),
      b.sw.dial(`webrtc://${a.key.nodeId}?via=${relay.key.nodeId}`),
    ]);
    const [low] = [a, b].sort((x, y) => (x.key.nodeId < y.key.nodeId ? -1 : 1));
    // The lower id's dial wins; the other dial gives way with a typed error or resolves to the same peer.
    expect(results[low === a ? 0 : 1]!.status).toBe('fulfilled');
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: expect.stringMatching(/^ERR_(TRANSPORT|DUPLICATE_PEER)$/) });
    await waitFor(() => a.sw.getPeer(b.key.nodeId) !== undefined && b.sw.getPeer(a.key.nodeId) !== undefined, 5000, 'connected both ways');
    expect(a.sw.getPeer(b.key.nodeId)!.transport).toBe('webrtc');
    expect(await a.sw.getPeer(b.key.nodeId)!.send(0x20, bytes(10, 9))).toBe(true);
    await waitFor(() => b.agent.messages.length === 1, 3000, 'message');
  });
});
