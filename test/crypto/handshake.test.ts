import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { HANDSHAKE_VERSION, HELLO_BYTES } from '../../src/crypto/constants.js';
import {
  createEphemeralKey,
  decodeHello,
  deriveSessionSecrets,
  encodeAuthMessage,
  encodeHello,
  verifyAuthMessage,
} from '../../src/crypto/handshake.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { HandshakeError } from '../../src/errors.js';

function expectHandshakeError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).code).toBe(code);
    return;
  }
  throw new Error('expected a HandshakeError');
}

describe('hello', () => {
  it('pins the wire layout: "mlk", version 2, then the 32-byte ephemeral key', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const hello = encodeHello(key);
    expect(hello.length).toBe(HELLO_BYTES);
    expect(bytesToHex(hello)).toBe('6d6c6b02' + bytesToHex(key));
    expect(decodeHello(hello)).toEqual(key);
  });

  it('rejects a foreign protocol with ERR_HANDSHAKE', () => {
    const hello = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: example.org\r\n\r\n').subarray(0, HELLO_BYTES);
    expectHandshakeError(() => decodeHello(hello), 'ERR_HANDSHAKE');
  });

  it('rejects another protocol version with ERR_INCOMPATIBLE_PEER', () => {
    const hello = encodeHello(new Uint8Array(32).fill(9));
    hello[3] = HANDSHAKE_VERSION + 1;
    expectHandshakeError(() => decodeHello(hello), 'ERR_INCOMPATIBLE_PEER');
  });
});

describe('deriveSessionSecrets', () => {
  it('gives both sides mirrored keys and the same challenge', () => {
    const a = createEphemeralKey();
    const b = createEphemeralKey();
    const sa = deriveSessionSecrets(a, b.publicKey);
    const sb = deriveSessionSecrets(b, a.publicKey);
    expect(sa.sendKey).toEqual(sb.receiveKey);
    expect(sa.receiveKey).toEqual(sb.sendKey);
    expect(sa.challenge).toEqual(sb.challenge);
    expect(sa.sendKey).not.toEqual(sa.receiveKey);
    expect(sa.challenge.length).toBe(32);
  });

  it('derives k1|k2|challenge by HKDF-SHA256 over the DH secret with info = label|lo|hi; lo sends with k1', () => {
    const keyPair = (): { secretKey: Uint8Array; publicKey: Uint8Array; agree: (remote: Uint8Array) => Uint8Array } => {
      const { secretKey, publicKey } = x25519.keygen();
      return { secretKey, publicKey, agree: (remote) => x25519.getSharedSecret(secretKey, remote) };
    };
    const a = keyPair();
    const b = keyPair();
    const [lo, hi] = bytesToHex(a.publicKey) < bytesToHex(b.publicKey) ? [a, b] : [b, a];
    const label = new TextEncoder().encode('meshlink/secret-connection/v1/keys');
    const info = new Uint8Array([...label, ...lo.publicKey, ...hi.publicKey]);
    const okm = hkdf(sha256, x25519.getSharedSecret(lo.secretKey, hi.publicKey), undefined, info, 96);
    const fromLo = deriveSessionSecrets(lo, hi.publicKey);
    const fromHi = deriveSessionSecrets(hi, lo.publicKey);
    expect(fromLo.sendKey).toEqual(okm.subarray(0, 32));
    expect(fromLo.receiveKey).toEqual(okm.subarray(32, 64));
    expect(fromHi.sendKey).toEqual(okm.subarray(32, 64));
    expect(fromLo.challenge).toEqual(okm.subarray(64, 96));
  });

  it('rejects low-order ephemeral keys (all-zero shared secret) with ERR_HANDSHAKE', () => {
    const local = createEphemeralKey();
    const lowOrder = [
      new Uint8Array(32),
      Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)),
      // order-8 point from the libsodium blocklist
      Uint8Array.from(Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex')),
    ];
    for (const key of lowOrder) expectHandshakeError(() => deriveSessionSecrets(local, key), 'ERR_HANDSHAKE');
  });

  it('rejects our own ephemeral key coming back (a reflected hello)', () => {
    const local = createEphemeralKey();
    expectHandshakeError(() => deriveSessionSecrets(local, local.publicKey), 'ERR_HANDSHAKE');
  });
});

describe('auth message', () => {
  const a = createEphemeralKey();
  const b = createEphemeralKey();
  const ours = deriveSessionSecrets(a, b.publicKey);
  const theirs = deriveSessionSecrets(b, a.publicKey);
  const { challenge } = ours;
  const identity = generateNodeKey();

  it('proves the identity behind a node id', () => {
    const peer = verifyAuthMessage(encodeAuthMessage(identity, theirs), ours);
    expect(peer.nodeId).toBe(identity.nodeId);
    expect(peer.publicKey).toEqual(identity.publicKey);
  });

  it('fails for a signature over another session\'s challenge', () => {
    const other = deriveSessionSecrets(b, createEphemeralKey().publicKey);
    expectHandshakeError(() => verifyAuthMessage(encodeAuthMessage(identity, other), ours), 'ERR_HANDSHAKE');
  });

  it('fails for a signature made in our own role (a reflected auth message)', () => {
    expect(ours.localRole).not.toBe(theirs.localRole);
    expectHandshakeError(() => verifyAuthMessage(encodeAuthMessage(identity, ours), ours), 'ERR_HANDSHAKE');
  });

  it('fails when the public key is swapped for another', () => {
    const message = encodeAuthMessage(identity, theirs);
    message.set(generateNodeKey().publicKey, 0);
    expectHandshakeError(() => verifyAuthMessage(message, ours), 'ERR_HANDSHAKE');
  });

  it('does not accept a bare signature over the challenge (the context prefix is required)', () => {
    const message = new Uint8Array(96);
    message.set(identity.publicKey, 0);
    message.set(identity.sign(challenge), 32);
    expectHandshakeError(() => verifyAuthMessage(message, ours), 'ERR_HANDSHAKE');
  });

  it('fails on a wrong length', () => {
    expectHandshakeError(() => verifyAuthMessage(new Uint8Array(95), ours), 'ERR_HANDSHAKE');
  });
});
