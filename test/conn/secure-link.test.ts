import { describe, expect, it } from 'vitest';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { secureHandshake } from '../../src/conn/secure-link.js';
import { nobleChaCha20Poly1305 } from '../../src/crypto/aead.js';
import { HELLO_BYTES } from '../../src/crypto/constants.js';
import { encodeHello } from '../../src/crypto/handshake.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { AbortError, ConfigError, HandshakeError, TimeoutError } from '../../src/errors.js';
import { createMemoryLinkPair } from '../../src/transport/memory.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, concat, ManualPeer, securePair, splitInto, TapLink } from './secure-link-fixtures.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return within(
    promise.then(
      () => {
        throw new Error('expected the handshake to fail');
      },
      (error: unknown) => error as Error,
    ),
    5000,
    'handshake failure',
  );
}

describe('secureHandshake over a memory pair', () => {
  it('lets both sides learn and prove each other\'s node ids', async () => {
    const { a, b, keyA, keyB } = await securePair();
    expect(a.remoteNodeId).toBe(keyB.nodeId);
    expect(b.remoteNodeId).toBe(keyA.nodeId);
    expect(a.localNodeId).toBe(keyA.nodeId);
    expect(a.remotePublicKey).toEqual(keyB.publicKey);
    expect(a.transport).toBe('memory');
  });

  it('carries data both ways after the handshake', async () => {
    const { a, b } = await securePair();
    const atA = collect(a);
    const atB = collect(b);
    a.write(text('ping'));
    b.write(text('pong'));
    await waitFor(() => atA.text() === 'pong' && atB.text() === 'ping', 2000, 'data both ways');
  });

  it('accepts the expected peer id, in either letter case', async () => {
    const keyB = generateNodeKey();
    const { a } = await securePair({ a: { expectedPeerId: keyB.nodeId.toUpperCase() }, b: { identity: keyB } });
    expect(a.remoteNodeId).toBe(keyB.nodeId);
  });

  it('rejects a peer proving another id with ERR_WRONG_PEER_ID and destroys the link', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    const expected = generateNodeKey().nodeId;
    const actual = generateNodeKey();
    const dialer = secureHandshake(rawA, { identity: generateNodeKey(), expectedPeerId: expected });
    const listener = secureHandshake(rawB, { identity: actual }).catch((e: unknown) => e);
    const error = await rejection(dialer);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe('ERR_WRONG_PEER_ID');
    expect((error as HandshakeError).peerId).toBe(actual.nodeId);
    expect((error as HandshakeError).detail).toMatchObject({ expectedPeerId: expected, actualPeerId: actual.nodeId });
    expect(rawA.closed).toBe(true);
    await listener;
  });

  it('times out on a silent peer with TimeoutError and destroys the link', async () => {
    const [rawA] = createMemoryLinkPair();
    const started = Date.now();
    const error = await rejection(secureHandshake(rawA, { identity: generateNodeKey(), timeoutMs: 100 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('ERR_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(rawA.closed).toBe(true);
  });

  it('times out when the peer sends only part of its hello', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    rawB.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
    rawB.write(encodeHello(new Uint8Array(32).fill(9)).subarray(0, HELLO_BYTES - 1));
    const error = await rejection(secureHandshake(rawA, { identity: generateNodeKey(), timeoutMs: 100 }));
    expect(error).toBeInstanceOf(TimeoutError);
  });

  it('fails with AbortError when the signal fires, and at once for an aborted signal', async () => {
    const [rawA] = createMemoryLinkPair();
    const controller = new AbortController();
    const pending = secureHandshake(rawA, { identity: generateNodeKey(), signal: controller.signal });
    controller.abort();
    expect(await rejection(pending)).toBeInstanceOf(AbortError);
    expect(rawA.closed).toBe(true);

    const [rawC] = createMemoryLinkPair();
    expect(await rejection(secureHandshake(rawC, { identity: generateNodeKey(), signal: AbortSignal.abort() }))).toBeInstanceOf(AbortError);
    expect(rawC.closed).toBe(true);
  });

  it('rejects a garbage hello with HandshakeError ERR_HANDSHAKE', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    const peerSeen = collect(rawB);
    rawB.write(text('GET / HTTP/1.1\r\nHost: meshlink.example\r\n\r\n'));
    const error = await rejection(secureHandshake(rawA, { identity: generateNodeKey() }));
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe('ERR_HANDSHAKE');
    expect(rawA.closed).toBe(true);
    expect(await peerSeen.closed).toBeInstanceOf(Error);
  });

  it('rejects a hello of another protocol version with ERR_INCOMPATIBLE_PEER', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    const hello = encodeHello(new Uint8Array(32).fill(9));
    hello[3] = 99;
    collect(rawB);
    rawB.write(hello);
    const error = await rejection(secureHandshake(rawA, { identity: generateNodeKey() }));
    expect((error as HandshakeError).code).toBe('ERR_INCOMPATIBLE_PEER');
  });

  it('rejects a low-order ephemeral key in the hello', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    collect(rawB);
    rawB.write(encodeHello(new Uint8Array(32)));
    const error = await rejection(secureHandshake(rawA, { identity: generateNodeKey() }));
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe('ERR_HANDSHAKE');
  });

  it('rejects a reflected hello (our own ephemeral key sent back)', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    rawB.attach({ onData: (chunk) => rawB.write(chunk), onDrain: () => undefined, onClose: () => undefined });
    const error = await rejection(secureHandshake(rawA, { identity: generateNodeKey() }));
    expect((error as HandshakeError).code).toBe('ERR_HANDSHAKE');
  });

  it('rejects a peer whose auth frame carries a bad signature', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    const peer = new ManualPeer(rawB);
    const pending = secureHandshake(rawA, { identity: generateNodeKey() });
    rawB.write(peer.hello());
    rawB.write(await peer.acceptHello(undefined, (identity) => concat([identity.publicKey, new Uint8Array(64).fill(1)])));
    const error = await rejection(pending);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe('ERR_HANDSHAKE');
  });

  it('reports a tampered auth frame as HandshakeError with code ERR_DECRYPT', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    const peer = new ManualPeer(rawB);
    const pending = secureHandshake(rawA, { identity: generateNodeKey() });
    rawB.write(peer.hello());
    const auth = await peer.acceptHello();
    auth[20]! ^= 1;
    rawB.write(auth);
    const error = await rejection(pending);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe('ERR_DECRYPT');
  });

  it('fails with ERR_HANDSHAKE when the peer hangs up mid-handshake', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    collect(rawB);
    const pending = secureHandshake(rawA, { identity: generateNodeKey() });
    rawB.destroy();
    const error = await rejection(pending);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe('ERR_HANDSHAKE');
  });

  it('rejects bad options with ConfigError and destroys the link', async () => {
    for (const options of [{ timeoutMs: 0 }, { maxFramePayloadBytes: 10 }, { maxFramePayloadBytes: 1.5e9 }, { expectedPeerId: 'nope' }]) {
      const [rawA] = createMemoryLinkPair();
      const error = await rejection(secureHandshake(rawA, { identity: generateNodeKey(), ...options }));
      expect(error).toBeInstanceOf(ConfigError);
      expect(rawA.closed).toBe(true);
    }
  });

  it('completes when every handshake byte arrives in its own chunk', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    const tapA = new TapLink(rawA);
    const tapB = new TapLink(rawB);
    tapA.rewrite = splitInto(1);
    tapB.rewrite = splitInto(1);
    const [a, b] = await Promise.all([secureHandshake(tapA, { identity: generateNodeKey() }), secureHandshake(tapB, { identity: generateNodeKey() })]);
    const atB = collect(b);
    a.write(text('after a byte-by-byte handshake'));
    await waitFor(() => atB.text() === 'after a byte-by-byte handshake', 2000, 'data');
  });

  it('completes for writes split in odd sizes (7, 13, 37 bytes)', async () => {
    for (const size of [7, 13, 37]) {
      const [rawA, rawB] = createMemoryLinkPair();
      const tapA = new TapLink(rawA);
      tapA.rewrite = splitInto(size);
      const [a, b] = await Promise.all([secureHandshake(tapA, { identity: generateNodeKey() }), secureHandshake(rawB, { identity: generateNodeKey() })]);
      const atB = collect(b);
      a.write(text(`size ${size}`));
      await waitFor(() => atB.text() === `size ${size}`, 2000, 'data');
    }
  });

  it('hands data frames coalesced with the hello and auth frame to the SecureLink, in order', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    const peer = new ManualPeer(rawB);
    const pending = secureHandshake(rawA, { identity: generateNodeKey(), expectedPeerId: peer.identity.nodeId });
    // Wait for A's hello, then answer with hello + auth + two data frames in ONE chunk.
    const ourHello = peer.hello();
    const auth = await peer.acceptHello();
    rawB.write(concat([ourHello, auth, peer.frame('first'), peer.frame('second')]));
    const a = await within(pending, 2000, 'handshake');
    expect(await peer.verifyAuth()).toBe(a.localNodeId);
    const atA = collect(a);
    // Both frames, in order; as for any Link, chunk boundaries carry no meaning (held frames are packed).
    await waitFor(() => atA.text() === 'firstsecond', 2000, 'coalesced frames');
  });

  it('closes the new SecureLink with ERR_DECRYPT when a bad frame is coalesced behind the auth frame', async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    const peer = new ManualPeer(rawB);
    const pending = secureHandshake(rawA, { identity: generateNodeKey() });
    const ourHello = peer.hello();
    const auth = await peer.acceptHello();
    const bad = peer.frame('bad');
    bad[6]! ^= 1;
    rawB.write(concat([ourHello, auth, peer.frame('good'), bad]));
    const a = await within(pending, 2000, 'handshake');
    const atA = collect(a);
    const error = await within(atA.closed, 2000, 'close');
    expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_DECRYPT', peerId: peer.identity.nodeId });
    expect(atA.closeCount).toBe(1);
    expect(rawA.closed).toBe(true);
  });

  it('interoperates: Node-native AEAD on one side, noble on the other', async () => {
    const { a, b } = await securePair({ a: { aead: nodeChaCha20Poly1305 }, b: { aead: nobleChaCha20Poly1305 } });
    const atA = collect(a);
    const atB = collect(b);
    const big = new Uint8Array(200 * 1024).map((_, i) => (i * 31) & 0xff);
    a.write(big);
    b.write(text('small from noble'));
    await waitFor(() => atB.bytes().length === big.length && atA.text() === 'small from noble', 5000, 'interop data');
    expect(atB.bytes()).toEqual(big);
  });
});

describe('SecureLink: frames held for an owner that is not reading', () => {
  it('hands 150,000 one-byte frames coalesced behind the auth frame to its owner in linear work (faster than opening them)', { timeout: 120_000 }, async () => {
    const [rawA, rawB] = createMemoryLinkPair();
    const peer = new ManualPeer(rawB);
    const pending = secureHandshake(rawA, { identity: generateNodeKey(), aead: nodeChaCha20Poly1305 });
    const ourHello = peer.hello();
    const auth = await peer.acceptHello();
    const count = 150_000;
    const frame = 4 + 1 + 16; // length header, one byte, tag
    const chunk = new Uint8Array(ourHello.length + auth.length + count * frame);
    chunk.set(concat([ourHello, auth]));
    for (let i = 0, offset = ourHello.length + auth.length; i < count; i++, offset += frame) chunk.set(peer.frame('x'), offset);
    const openStarted = performance.now();
    rawB.write(chunk);
    const a = await within(pending, 60_000, 'handshake'); // every frame is opened before this resolves
    const openMs = performance.now() - openStarted;
    let received = 0;
    const flushStarted = performance.now();
    a.attach({ onData: (chunk) => void (received += chunk.length), onDrain: () => undefined, onClose: () => undefined });
    await waitFor(() => received === count, 60_000, 'every held frame delivered');
    const flushMs = performance.now() - flushStarted;
    // Taking each held frame with shift() was quadratic: seconds on seconds; by index it is a loop.
    expect(flushMs, `delivering ${count} held frames (ms) vs opening them (${openMs.toFixed(0)} ms)`).toBeLessThan(openMs);
    a.destroy();
  });
});
