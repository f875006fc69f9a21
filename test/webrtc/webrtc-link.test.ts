import { describe, expect, it } from 'vitest';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import { WEBRTC_HIGH_WATER_MARK_BYTES, WEBRTC_MAX_CHUNK_BYTES, WEBRTC_MAX_PAUSED_BYTES } from '../../src/webrtc/constants.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { WebRtcLink } from '../../src/webrtc/webrtc-link.js';
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
    peer.bufferSize = WEBRTC_HIGH_WATER_MARK_BYTES;
    expect(link.write(new Uint8Array(10))).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(state.drains).toBe(0);
    peer.bufferSize = 0;
    await waitFor(() => state.drains === 1, 1000, 'drain');
  });

  it('reads the data channel\'s buffered amount once per burst (each read crosses into wrtc\'s thread), and afresh in the next', async () => {
    const peer = new FakePeer();
    let reads = 0;
    let amount = 0;
    Object.defineProperty(peer, 'bufferSize', { get: () => (reads++, amount) });
    peer.send = (chunk) => {
      peer.sent.push(chunk);
      amount += chunk.length;
    };
    const link = new WebRtcLink(peer, 'x');
    expect(link.bufferedBytes).toBe(0); // "is the link idle?", as MConnection asks before a lone message
    expect(link.write(new Uint8Array(100))).toBe(true);
    expect(link.bufferedBytes).toBe(100); // counted, not read
    expect(reads).toBe(1);
    // The channel drained meanwhile: the next burst sees it, and a full channel still stops writes.
    await Promise.resolve();
    amount = WEBRTC_HIGH_WATER_MARK_BYTES;
    expect(link.write(new Uint8Array(10))).toBe(false);
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
