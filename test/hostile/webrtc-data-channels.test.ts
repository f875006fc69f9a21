/**
 * A WebRTC remote is as hostile as any peer: what it does to our RTCPeerConnection beyond the signals
 * (extra data channels, a channel that may drop or reorder) must cost it its own link, typed, and leave
 * nothing behind. Real data channels (@roamhq/wrtc); the attacker is a node whose RTCPeerConnection
 * misbehaves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bytes, stopAll } from '../helpers/nodes.js';
import { errorsOf, reasonsOf, recordingConnections, rtcNode, rtcWith, startRelay, stillTakesHonestPeers, wrtc, type PeerConnectionClass } from './webrtc-scene.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

/** Dials: once its own data channel opens, it opens `extra` more (and writes into each). */
function openingExtraChannels(extra: number): PeerConnectionClass {
  return class extends wrtc.RTCPeerConnection {
    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      const channel = super.createDataChannel(label, init);
      channel.addEventListener('open', () => {
        for (let i = 0; i < extra; i++) {
          const more = super.createDataChannel(`extra-${i}`);
          more.addEventListener('open', () => more.send(new Uint8Array(64)));
        }
      });
      return channel;
    }
  };
}

/** Bytes the stray-stream attackers got the RTCPeerConnection to send. */
const strayFlood = { sent: 0 };

/**
 * Dials: once its own data channel opens, opens a pre-negotiated channel (SCTP stream 9: no DCEP open, so
 * the victim's stack has no channel for it and no `datachannel` event) and floods it, 16 KiB at a time.
 */
const floodingAStrayStream = class extends wrtc.RTCPeerConnection {
  override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
    const channel = super.createDataChannel(label, init);
    channel.addEventListener('open', () => {
      const stray = super.createDataChannel('stray', { negotiated: true, id: 9 });
      const chunk = new Uint8Array(16 * 1024);
      const timer = setInterval(() => {
        if (stray.readyState !== 'open' || this.connectionState === 'closed') {
          if (stray.readyState === 'closed' || this.connectionState === 'closed') clearInterval(timer);
          return;
        }
        try {
          while (stray.bufferedAmount < 1024 * 1024) {
            stray.send(chunk);
            strayFlood.sent += chunk.length;
          }
        } catch {
          clearInterval(timer); // cut: the channel closed under the loop
        }
      }, 5);
      setTimeout(() => clearInterval(timer), 30_000).unref();
    });
    return channel;
  }
};

/** Dials with a data channel that may drop and reorder messages. */
const unreliableChannel = class extends wrtc.RTCPeerConnection {
  override createDataChannel(label: string): RTCDataChannel {
    return super.createDataChannel(label, { ordered: false, maxRetransmits: 0 });
  }
};

/** Answers, then opens one more data channel of its own. */
const answererOpeningAChannel = class extends wrtc.RTCPeerConnection {
  constructor(config?: RTCConfiguration) {
    super(config);
    this.addEventListener('datachannel', () => this.createDataChannel('mine'));
  }
};

describe('a WebRTC remote and the data channels of our RTCPeerConnection', () => {
  it('closes every data channel a dialler opens beyond the first (40 of them) and keeps none of their timers', async () => {
    const relay = await startRelay();
    const channels: RTCDataChannel[] = [];
    const connections: RTCPeerConnection[] = [];
    const victim = await rtcNode(relay, rtcWith(recordingConnections(connections, (pc) => pc.addEventListener('datachannel', (event) => channels.push((event as RTCDataChannelEvent).channel)))));
    const timersBefore = activeTimers();
    const attacker = await rtcNode(relay, rtcWith(openingExtraChannels(40)));
    await attacker.sw.dial(`webrtc://${victim.key.nodeId}?via=${relay.key.nodeId}`).catch(() => undefined);
    await waitFor(() => channels.length > 1, 15_000, 'the extra channels reach the victim');
    // The first extra channel costs the attacker the negotiation: its RTCPeerConnection is closed.
    await waitFor(() => connections.every((pc) => pc.signalingState === 'closed'), 15_000, 'the victim closes the connection');
    expect(victim.sw.getPeer(attacker.key.nodeId)).toBeUndefined();
    await attacker.sw.stop();
    // simple-peer's channel-closing checks run every 5 s; the attacker's node and its links are stopped.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    // Before: one 5 s interval per extra channel, never cleared, pinning the peer and its connection (+40).
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore + 4);
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);

  it('refuses a dialler whose data channel may drop or reorder messages (unreliable-data-channel): what we send is never silently lost', async () => {
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    const attacker = await rtcNode(relay, rtcWith(unreliableChannel));
    const dial = await attacker.sw.dial(`webrtc://${victim.key.nodeId}?via=${relay.key.nodeId}`).then(
      () => 'connected',
      (error: Error) => error,
    );
    // Before: connected, with the victim's messages on a channel allowed to drop them.
    expect(dial).not.toBe('connected');
    expect(victim.sw.getPeer(attacker.key.nodeId)).toBeUndefined();
    expect(victim.sw.getPeer(attacker.key.nodeId)).toBeUndefined();
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);

  it('cuts a dialler sending data on an SCTP stream with no channel of ours (ERR_DATA_CHANNEL, stray-stream-data)', async () => {
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    const errors = errorsOf(victim);
    const attacker = await rtcNode(relay, rtcWith(floodingAStrayStream));
    strayFlood.sent = 0;
    const started = Date.now();
    await attacker.sw.dial(`webrtc://${victim.key.nodeId}?via=${relay.key.nodeId}`);
    // Before: the victim's stack decrypted and dropped it unseen, at line rate, and the link stayed up
    // (200 MiB in 8.7 s, 6.7 s of CPU in one process with the sender, nothing counted by the link).
    await waitFor(() => reasonsOf(errors).includes('stray-stream-data'), 20_000, 'the victim cuts the attacker');
    console.log(`stray stream: cut after ${Date.now() - started} ms, ${(strayFlood.sent / 1048576).toFixed(1)} MiB sent`);
    await waitFor(() => victim.sw.getPeer(attacker.key.nodeId) === undefined, 15_000, 'the attacker gone');
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);

  it('keeps an honest peer sending all it can both ways for 12 s (its overhead is not stray data)', async () => {
    const relay = await startRelay();
    const a = await rtcNode(relay);
    const b = await rtcNode(relay);
    const errors = [...[a, b].map(errorsOf)].flat();
    const toB = await a.sw.dial(`webrtc://${b.key.nodeId}?via=${relay.key.nodeId}`);
    const toA = b.sw.getPeer(a.key.nodeId)!;
    const message = bytes(60 * 1024, 7);
    let received = 0;
    const end = Date.now() + 12_000;
    while (Date.now() < end) {
      while (toB.trySend(0x20, message)) {}
      while (toA.trySend(0x20, message)) {}
      received += a.agent.messages.length + b.agent.messages.length;
      a.agent.messages.length = 0;
      b.agent.messages.length = 0;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    console.log(`honest bulk: ${((received * message.length) / 1048576).toFixed(0)} MiB in 12 s`);
    expect(reasonsOf(errors)).toEqual([]);
    expect(a.sw.getPeer(b.key.nodeId)?.isConnected).toBe(true);
  }, 60_000);

  it('cuts an answerer that opens a data channel of its own (ERR_DATA_CHANNEL, extra-data-channel)', async () => {
    const relay = await startRelay();
    const victim = await rtcNode(relay);
    const errors = errorsOf(victim);
    const attacker = await rtcNode(relay, rtcWith(answererOpeningAChannel));
    const dial = await victim.sw.dial(`webrtc://${attacker.key.nodeId}?via=${relay.key.nodeId}`).then(
      () => undefined,
      (error: Error) => error,
    );
    if (dial !== undefined) errors.push(dial);
    // Before: the channel was taken, never read and never closed, for as long as the link lasted.
    await waitFor(() => reasonsOf(errors).includes('extra-data-channel'), 15_000, 'the victim cuts the attacker');
    await waitFor(() => victim.sw.getPeer(attacker.key.nodeId) === undefined, 15_000, 'the attacker gone');
    await stillTakesHonestPeers(relay, victim);
  }, 60_000);
});
