import { describe, expect, it } from 'vitest';
import { FrameEncoder } from '../../src/conn/secure-link-frame.js';
import { nobleChaCha20Poly1305 } from '../../src/crypto/aead.js';
import { AEAD_TAG_BYTES, FRAME_HEADER_BYTES } from '../../src/crypto/constants.js';
import { ProtocolError } from '../../src/errors.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, securePair } from './secure-link-fixtures.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

describe('SecureLink data path', () => {
  it('seals one write as one frame and makes exactly one underlying write for it', async () => {
    const { a, b, tapA } = await securePair();
    const atB = collect(b);
    const before = tapA.writes.length;
    const batch = new Uint8Array(40 * 1024).fill(7);
    a.write(batch);
    expect(tapA.writes.length).toBe(before + 1);
    expect(tapA.writes.at(-1)!.length).toBe(FRAME_HEADER_BYTES + batch.length + AEAD_TAG_BYTES);
    await waitFor(() => atB.bytes().length === batch.length, 2000, 'batch');
    expect(atB.chunks.length).toBe(1);
  });

  it('splits a write larger than the frame limit into full frames, one underlying write each', async () => {
    const max = 4096;
    const { a, b, tapA } = await securePair({ a: { maxFramePayloadBytes: max }, b: { maxFramePayloadBytes: max } });
    const atB = collect(b);
    const before = tapA.writes.length;
    const data = new Uint8Array(3 * max + 5).map((_, i) => i & 0xff);
    a.write(data);
    expect(tapA.writes.slice(before).map((w) => w.length - FRAME_HEADER_BYTES - AEAD_TAG_BYTES)).toEqual([max, max, max, 5]);
    await waitFor(() => atB.bytes().length === data.length, 2000, 'split data');
    expect(atB.bytes()).toEqual(data);
  });

  it('writes nothing for an empty chunk', async () => {
    const { a, tapA } = await securePair();
    const before = tapA.writes.length;
    expect(a.write(new Uint8Array(0))).toBe(true);
    expect(tapA.writes.length).toBe(before);
  });

  it('does not keep the caller\'s buffer: mutating it after write changes nothing', async () => {
    const { a, b } = await securePair();
    const atB = collect(b);
    const chunk = text('original');
    a.write(chunk);
    chunk.fill(0);
    await waitFor(() => atB.text() === 'original', 2000, 'data');
  });

  it('keeps data that arrives before attach() and delivers it, in order, on attach', async () => {
    const { a, b } = await securePair();
    a.write(text('one,'));
    a.write(text('two,'));
    a.write(text('three'));
    await tick();
    const atB = collect(b);
    await waitFor(() => atB.text() === 'one,two,three', 2000, 'early data');
  });

  it('delivers nothing while paused and everything, in order, after resume', async () => {
    const { a, b } = await securePair();
    const atB = collect(b);
    b.pause();
    for (let i = 0; i < 20; i++) a.write(text(`${i};`));
    await tick();
    expect(atB.chunks.length).toBe(0);
    b.resume();
    await waitFor(() => atB.chunks.length === 20, 2000, 'resumed data');
    expect(atB.text()).toBe(Array.from({ length: 20 }, (_, i) => `${i};`).join(''));
  });

  it('honours pause() called from inside onData for the rest of a coalesced chunk', async () => {
    const { a, b } = await securePair();
    const seen: string[] = [];
    b.attach({
      onData: (chunk) => {
        seen.push(new TextDecoder().decode(chunk));
        b.pause();
      },
      onDrain: () => undefined,
      onClose: () => undefined,
    });
    a.write(text('x'));
    a.write(text('y'));
    a.write(text('z'));
    await tick();
    expect(seen).toEqual(['x']);
    b.resume();
    await waitFor(() => seen.length === 2, 2000, 'second frame');
    b.resume();
    await waitFor(() => seen.length === 3, 2000, 'third frame');
    expect(seen).toEqual(['x', 'y', 'z']);
  });

  it('forwards write backpressure: write() returns false above the high-water mark, then onDrain fires', async () => {
    const { a, b } = await securePair({ link: { highWaterMarkBytes: 16 * 1024 } });
    const atA = collect(a);
    const atB = collect(b);
    expect(a.write(new Uint8Array(32 * 1024))).toBe(false);
    expect(a.bufferedBytes).toBeGreaterThan(32 * 1024);
    expect(a.write(new Uint8Array(0))).toBe(false);
    await waitFor(() => atA.drains === 1, 2000, 'drain');
    expect(atB.bytes().length).toBe(32 * 1024);
  });

  it('closes gracefully: the peer gets all data, then onClose() without error, once', async () => {
    const { a, b } = await securePair();
    const atA = collect(a);
    const atB = collect(b);
    a.write(text('last words'));
    a.close();
    expect(a.write(text('too late'))).toBe(false);
    expect(await within(atB.closed, 2000, 'remote close')).toBeUndefined();
    expect(atB.text()).toBe('last words');
    expect(await within(atA.closed, 2000, 'local close')).toBeUndefined();
    expect(atA.closeCount).toBe(1);
    expect(atB.closeCount).toBe(1);
    expect(a.closed && b.closed).toBe(true);
  });

  it('delivers the pending data of a paused link before reporting a graceful close', async () => {
    const { a, b } = await securePair();
    const atB = collect(b);
    b.pause();
    a.write(text('queued'));
    await tick();
    a.close();
    await tick();
    expect(atB.closeCount).toBe(0);
    b.resume();
    expect(await within(atB.closed, 2000, 'close after resume')).toBeUndefined();
    expect(atB.text()).toBe('queued');
  });

  it('destroy(error) reports that error locally once and resets the peer', async () => {
    const { a, b } = await securePair();
    const atA = collect(a);
    const atB = collect(b);
    const reason = new Error('local decision');
    a.destroy(reason);
    a.destroy(new Error('again'));
    expect(await atA.closed).toBe(reason);
    expect(atA.closeCount).toBe(1);
    expect(await within(atB.closed, 2000, 'remote reset')).toBeInstanceOf(Error);
    expect(a.write(text('x'))).toBe(false);
  });

  it('closes with ProtocolError ERR_DECRYPT when a frame is tampered with on the wire', async () => {
    const { a, b, tapA, keyA } = await securePair();
    const atB = collect(b);
    tapA.rewrite = (chunk) => {
      const copy = chunk.slice();
      copy[FRAME_HEADER_BYTES + 2]! ^= 0x40;
      return [copy];
    };
    a.write(text('transfer 10 coins'));
    const error = await within(atB.closed, 2000, 'close');
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'ERR_DECRYPT', peerId: keyA.nodeId });
    expect(atB.chunks.length).toBe(0);
    expect(tapA.inner.closed || b.closed).toBe(true);
    expect(b.closed).toBe(true);
  });

  it('closes with ERR_DECRYPT when a frame is replayed, after delivering the original once', async () => {
    const { a, b, tapA } = await securePair();
    const atB = collect(b);
    tapA.rewrite = (chunk) => [chunk, chunk];
    a.write(text('pay once'));
    const error = await within(atB.closed, 2000, 'close');
    expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_DECRYPT' });
    expect(atB.text()).toBe('pay once');
    expect(atB.closeCount).toBe(1);
  });

  it('closes with ERR_FRAME_TOO_LARGE on an oversize length header, without waiting for the body', async () => {
    const { b, tapA } = await securePair();
    const atB = collect(b);
    tapA.inner.write(Uint8Array.of(0x7f, 0xff, 0xff, 0xff));
    const error = await within(atB.closed, 2000, 'close');
    expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_FRAME_TOO_LARGE' });
    expect(b.closed).toBe(true);
  });

  it('rejects a frame sealed for a bigger limit than the receiver allows', async () => {
    const { a, b } = await securePair({ a: { maxFramePayloadBytes: 128 * 1024 } });
    const atB = collect(b);
    a.write(new Uint8Array(100 * 1024));
    expect(await within(atB.closed, 2000, 'close')).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' });
  });

  it('rejects frames injected by someone without the session key', async () => {
    const { b, tapA } = await securePair();
    const atB = collect(b);
    const forger = new FrameEncoder(nobleChaCha20Poly1305(new Uint8Array(32).fill(5)), 1024);
    tapA.inner.write(forger.encode(text('forged')));
    expect(await within(atB.closed, 2000, 'close')).toMatchObject({ code: 'ERR_DECRYPT' });
    expect(atB.chunks.length).toBe(0);
  });

  it('reports a link that ends in the middle of a frame as ERR_PROTOCOL', async () => {
    const { b, tapA } = await securePair();
    const atB = collect(b);
    tapA.inner.write(Uint8Array.of(0, 0, 0, 40, 1, 2, 3));
    tapA.inner.close();
    expect(await within(atB.closed, 2000, 'close')).toMatchObject({ name: 'ProtocolError', code: 'ERR_PROTOCOL' });
  });

  it('turns an exception thrown by onData into the close error instead of an uncaught throw', async () => {
    const { a, b } = await securePair();
    const bug = new Error('consumer bug');
    let closedWith: Error | undefined;
    b.attach({
      onData: () => {
        throw bug;
      },
      onDrain: () => undefined,
      onClose: (error) => (closedWith = error),
    });
    a.write(text('boom'));
    await waitFor(() => closedWith !== undefined, 2000, 'close');
    expect(closedWith).toBe(bug);
  });

  it('fires onClose for a link that closed before anyone attached', async () => {
    const { a, b } = await securePair();
    a.destroy();
    await tick();
    const atB = collect(b);
    expect(await within(atB.closed, 2000, 'late close')).toBeInstanceOf(Error);
    expect(atB.closeCount).toBe(1);
  });
});
