/**
 * The platform's handshake crypto against the pure-JS default: the same bytes (so either side of a
 * connection can use either), the same refusals (small-order keys, non-canonical signatures, low-order
 * X25519 keys). A handshake over TCP between one of each: test/conn/secure-link-tcp.test.ts.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { createPublicKey, verify as opensslVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nobleHandshakeCrypto, type HandshakeCrypto } from '../../src/crypto/handshake-crypto.js';
import { createEphemeralKey, deriveSessionSecrets } from '../../src/crypto/handshake.js';
import { generateNodeKey, isSmallOrderEncoding } from '../../src/crypto/keys.js';
import { HandshakeError } from '../../src/errors.js';
import { nodeHandshakeCrypto } from '../../platforms/node/handshake-crypto.js';

const implementations: [string, HandshakeCrypto][] = [
  ['noble', nobleHandshakeCrypto],
  ['node', nodeHandshakeCrypto],
];
const text = (value: string): Uint8Array => new TextEncoder().encode(value);
const FIELD_PRIME = (1n << 255n) - 19n;
const encodeY = (y: bigint, signBit = 0): Uint8Array => {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number((y >> BigInt(8 * i)) & 0xffn);
  bytes[31]! |= signBit << 7;
  return bytes;
};

describe('nodeHandshakeCrypto and nobleHandshakeCrypto', () => {
  it('make the same signatures, and each verifies the other’s', () => {
    for (let i = 0; i < 20; i++) {
      const identity = generateNodeKey();
      const message = text(`challenge ${i} ${'x'.repeat(i * 7)}`);
      const fromNode = nodeHandshakeCrypto.sign(identity, message);
      expect(fromNode).toEqual(nobleHandshakeCrypto.sign(identity, message));
      for (const [, crypto] of implementations) {
        expect(crypto.verify(identity.publicKey, message, fromNode)).toBe(true);
        expect(crypto.verify(identity.publicKey, text('another message'), fromNode)).toBe(false);
        expect(crypto.verify(generateNodeKey().publicKey, message, fromNode)).toBe(false);
      }
    }
  });

  it('agree on the X25519 secret across implementations, both ways', () => {
    for (const [, a] of implementations) {
      for (const [, b] of implementations) {
        const ours = a.ephemeralKey();
        const theirs = b.ephemeralKey();
        expect(ours.publicKey).toHaveLength(32);
        expect(ours.agree(theirs.publicKey)).toEqual(theirs.agree(ours.publicKey));
      }
    }
  });

  it('refuse every low-order X25519 key in the handshake with ERR_HANDSHAKE', () => {
    const lowOrder = [
      new Uint8Array(32),
      encodeY(1n),
      Uint8Array.from(Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex')),
      Uint8Array.from(Buffer.from('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', 'hex')),
      encodeY(FIELD_PRIME - 1n),
      encodeY(FIELD_PRIME),
      encodeY(FIELD_PRIME + 1n),
    ];
    for (const [name, crypto] of implementations) {
      for (const key of lowOrder) {
        const attempt = (): unknown => deriveSessionSecrets(createEphemeralKey(crypto), key);
        expect(attempt, name).toThrow(HandshakeError);
      }
    }
  });

  it('refuse a signature that RFC 8032 verification accepts for a small-order key (OpenSSL alone takes it)', () => {
    // A = the identity point, R = the identity point, S = 0: sB = R + hA holds for every message.
    const identityPoint = encodeY(1n);
    const forged = new Uint8Array(64);
    forged.set(identityPoint, 0);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), identityPoint]);
    expect(opensslVerify(null, text('anything'), createPublicKey({ key: spki, format: 'der', type: 'spki' }), forged)).toBe(true);
    for (const [name, crypto] of implementations) expect(crypto.verify(identityPoint, text('anything'), forged), name).toBe(false);
  });

  it('refuse a signature whose S is not reduced (S + L verifies the same equation)', () => {
    const identity = generateNodeKey();
    const message = text('malleable');
    const signature = nobleHandshakeCrypto.sign(identity, message);
    const order = ed25519.Point.CURVE().n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]!);
    const bumped = signature.slice();
    bumped.set(encodeY(s + order), 32);
    for (const [name, crypto] of implementations) {
      expect(crypto.verify(identity.publicKey, message, signature), name).toBe(true);
      expect(crypto.verify(identity.publicKey, message, bumped), name).toBe(false);
    }
  });

  it('never throw on malformed input', () => {
    const identity = generateNodeKey();
    const signature = nobleHandshakeCrypto.sign(identity, text('m'));
    const notAPoint = encodeY(2n); // y = 2 has no x on the curve
    for (const [name, crypto] of implementations) {
      expect(crypto.verify(new Uint8Array(31), text('m'), signature), name).toBe(false);
      expect(crypto.verify(identity.publicKey, text('m'), signature.subarray(1)), name).toBe(false);
      expect(crypto.verify(notAPoint, text('m'), signature), name).toBe(false);
      expect(crypto.verify(new Uint8Array(32).fill(0xff), text('m'), new Uint8Array(64).fill(0xff)), name).toBe(false);
      expect(crypto.verify(identity.publicKey, 'm' as unknown as Uint8Array, signature), name).toBe(false);
    }
  });
});

describe('isSmallOrderEncoding', () => {
  it('names every encoding of the eight small-order points, with either sign bit, and no ordinary key', () => {
    // The order-8 subgroup, made from one of its generators; every point's encoding must be caught.
    const generator = ed25519.Point.fromBytes(Uint8Array.from(Buffer.from('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'hex')));
    expect(generator.isSmallOrder()).toBe(true);
    const seen = new Set<string>();
    for (let k = 0n; k < 8n; k++) {
      const point = k === 0n ? ed25519.Point.ZERO : generator.multiplyUnsafe(k);
      const bytes = point.toBytes();
      seen.add(Buffer.from(bytes).toString('hex'));
      const flipped = bytes.slice();
      flipped[31]! ^= 0x80;
      expect(isSmallOrderEncoding(bytes)).toBe(true);
      expect(isSmallOrderEncoding(flipped)).toBe(true);
    }
    expect(seen.size).toBe(8);
    expect(isSmallOrderEncoding(encodeY(FIELD_PRIME))).toBe(true); // 0, spelt p
    expect(isSmallOrderEncoding(encodeY(FIELD_PRIME + 1n, 1))).toBe(true); // 1, spelt p + 1
    for (let i = 0; i < 200; i++) expect(isSmallOrderEncoding(generateNodeKey().publicKey)).toBe(false);
    expect(isSmallOrderEncoding(x25519.keygen().publicKey.subarray(0, 31))).toBe(false);
  });
});
