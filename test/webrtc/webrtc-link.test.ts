import { describe, expect, it } from 'vitest';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import { WEBRTC_HIGH_WATER_MARK_BYTES, WEBRTC_MAX_CHUNK_BYTES, WEBRTC_MAX_PAUSED_BYTES } from '../../src/webrtc/constants.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { WebRtcLink } from '../../src/webrtc/webrtc-link.js';
import { systemClock } from '../../src/util/clock.js';
import { waitFor } from '../helpers/wait.js';

/** A simple-peer stand-in: records sends, lets the test set bufferSize and emit events. */
class FakePeer implements SimplePeerLike {
  bufferSize = 0;
  connected = true;
  destroyed = false;
  readonly sent: Uint8Array[] = [];
  private readonly listeners = new Map<string, ((...args: never[]) => void)[]>();
  signal(_data: SignalData): void {}
  send(chunk: Uint8Array): void {
    this.sent.push(chunk);
    this.bufferSize += chunk.length;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
  on(event: string, listener: (...args: never[]) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  emit(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (...a: unknown[]) => void)(...args);
  }
}

function handlers() {
  const state = { data: [] as Uint8Array[], drains: 0, closes: [] as (Error | undefined)[] };
  return {
    state,
    h: { onData: (c: Uint8Array) => state.data.push(c), onDrain: () => state.drains++, onClose: (e?: Error) => state.closes.push(e) },
  };
}

describe('WebRtcLink', () => {
  it('splits writes into messages of at most 16 KiB, views of the written chunk (no copy)', () => {
    const peer = new FakePeer();
    const link = new WebRtcLink(peer, 'x');
    const big = new Uint8Array(WEBRTC_MAX_CHUNK_BYTES * 2 + 5).map((_, i) => i & 0xff);
    expect(link.write(big.subarray(1))).toBe(true);
    expect(peer.sent.map((c) => c.length)).toEqual([WEBRTC_MAX_CHUNK_BYTES, WEBRTC_MAX_CHUNK_BYTES, 4]);
    for (const chunk of peer.sent) expect(chunk.buffer).toBe(big.buffer);
    expect(Buffer.concat(peer.sent)).toEqual(Buffer.from(big.subarray(1)));
  });

  it('returns false above the high-water mark and calls onDrain once bufferedAmount falls (polled)', async () => {
    const peer = new FakePeer();
    const link = new WebRtcLink(peer, 'x');
    const { state, h } = handlers();
    link.attach(h);
    // The channel does not drain (the fake sends nothing): what we write fills it.
    expect(link.write(new Uint8Array(WEBRTC_HIGH_WATER_MARK_BYTES - 1))).toBe(true);
    expect(link.write(new Uint8Array(10))).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(state.drains).toBe(0);
    peer.bufferSize = 0;
    await waitFor(() => state.drains === 1, 1000, 'drain');
    expect(link.bufferedBytes).toBe(0);
  });

  it('reads the data channel\'s buffered amount only past half the high-water mark (each read crosses into wrtc\'s thread)', () => {
    const peer = new FakePeer();
    let reads = 0;
    let amount = 0;
    let channelSendsAtOnce = false;
    Object.defineProperty(peer, 'bufferSize', { get: () => (reads++, amount) });
    peer.send = (chunk) => {
      peer.sent.push(chunk);
      if (!channelSendsAtOnce) amount += chunk.length;
    };
    const link = new WebRtcLink(peer, 'x');
    const half = WEBRTC_HIGH_WATER_MARK_BYTES / 2;
    // "Is the link idle?", as MConnection asks before a lone message: an upper bound, counted, not read.
    expect(link.bufferedBytes).toBe(0);
    expect(link.write(new Uint8Array(100))).toBe(true);
    expect(link.bufferedBytes).toBe(100);
    expect(reads).toBe(0);
    // The channel sends as fast as we write: one read when the bound reaches half the mark, which finds it empty.
    channelSendsAtOnce = true;
    amount = 0;
    let written = 100;
    while (reads === 0) {
      link.write(new Uint8Array(1000));
      written += 1000;
    }
    expect(written).toBeGreaterThanOrEqual(half);
    expect(link.bufferedBytes).toBe(0);
    for (let i = 0; i < 10; i++) link.write(new Uint8Array(1000));
    expect(reads).toBe(1);
    // A channel that really is full still stops writes.
    channelSendsAtOnce = false;
    amount = WEBRTC_HIGH_WATER_MARK_BYTES;
    expect(link.write(new Uint8Array(half))).toBe(false);
    expect(reads).toBe(2);
    link.destroy();
  });

  it('holds data until attach, delivers it after attach returns, in order', async () => {
    const peer = new FakePeer();
    const link = new WebRtcLink(peer, 'x');
    peer.emit('data', new Uint8Array([1]));
    peer.emit('data', new Uint8Array([2]));
    const { state, h } = handlers();
    link.attach(h);
    expect(state.data).toEqual([]);
    peer.emit('data', new Uint8Array([3]));
    await Promise.resolve();
    expect(state.data.map((c) => c[0])).toEqual([1, 2, 3]);
  });

  it('destroys with ERR_RATE_LIMIT when the peer sends past the paused bound, and closes once', () => {
    const peer = new FakePeer();
    const link = new WebRtcLink(peer, 'x');
    const { state, h } = handlers();
    link.attach(h);
    link.pause();
    for (let sent = 0; sent <= WEBRTC_MAX_PAUSED_BYTES; sent += 64 * 1024) peer.emit('data', new Uint8Array(64 * 1024));
    expect(link.closed).toBe(true);
    expect(peer.destroyed).toBe(true);
    expect(state.closes).toHaveLength(1);
    expect(state.closes[0]).toMatchObject({ code: 'ERR_RATE_LIMIT' });
    link.destroy();
    peer.emit('close');
    expect(state.closes).toHaveLength(1);
    expect(link.write(new Uint8Array(1))).toBe(false);
  });

  it('close() waits for buffered bytes to leave, then closes without error', async () => {
    const peer = new FakePeer();
    const link = new WebRtcLink(peer, 'x');
    const { state, h } = handlers();
    link.attach(h);
    link.write(new Uint8Array(100));
    link.close();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(peer.destroyed).toBe(false);
    peer.bufferSize = 0;
    await waitFor(() => state.closes.length === 1, 1000, 'closed');
    expect(state.closes[0]).toBeUndefined();
    expect(peer.destroyed).toBe(true);
  });

  it('close() keeps waiting for buffered bytes across a one-hour step forward of the wall clock (before: cut at once, the bytes lost)', async () => {
    const peer = new FakePeer();
    let wall = Date.now();
    // Only the wall clock steps (NTP, a VM catching up); timers and monotonic time do not.
    const link = new WebRtcLink(peer, 'x', WEBRTC_HIGH_WATER_MARK_BYTES, { ...systemClock, now: () => wall });
    const { state, h } = handlers();
    link.attach(h);
    link.write(new Uint8Array(100));
    link.close();
    wall += 3_600_000;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(peer.destroyed, 'still flushing').toBe(false);
    peer.bufferSize = 0;
    await waitFor(() => state.closes.length === 1, 1000, 'closed');
    expect(state.closes[0]).toBeUndefined();
  });

  it('reports a peer error as a TransportError on close', () => {
    const peer = new FakePeer();
    const link = new WebRtcLink(peer, 'x');
    const { state, h } = handlers();
    link.attach(h);
    peer.emit('error', Object.assign(new Error('ice failed'), { code: 'ERR_ICE_CONNECTION_FAILURE' }));
    peer.emit('close');
    expect(state.closes[0]).toMatchObject({ code: 'ERR_TRANSPORT', detail: { code: 'ERR_ICE_CONNECTION_FAILURE' } });
  });
});
