import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { X25519_PUBLIC_KEY_BYTES } from '../../src/crypto/constants.js';
import type { EphemeralKey, HandshakeCrypto } from '../../src/crypto/handshake-crypto.js';
import { mayVerify, type NodeKey } from '../../src/crypto/keys.js';

// Raw keys go in and out as JWK (RFC 8037): ten times cheaper here than DER, which OpenSSL parses
// through its general decoder (~80 µs a key, as much as the X25519 agreement itself).
const base64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');

const publicKeyObject = (curve: 'X25519' | 'Ed25519', raw: Uint8Array): KeyObject =>
  createPublicKey({ key: { kty: 'OKP', crv: curve, x: base64url(raw) }, format: 'jwk' });

/**
 * Our identity's signing key as OpenSSL's, made once per NodeKey (the seed leaves the NodeKey only
 * to build it). Keyed weakly: a NodeKey dropped by the app takes its entry with it.
 */
const signingKeys = new WeakMap<NodeKey, KeyObject>();

function signingKeyOf(identity: NodeKey): KeyObject {
  let key = signingKeys.get(identity);
  if (key === undefined) {
    const seed = identity.exportSecret();
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: base64url(seed), x: base64url(identity.publicKey) }, format: 'jwk' });
    seed.fill(0);
    signingKeys.set(identity, key);
  }
  return key;
}

/**
 * X25519 and ed25519 through Node's OpenSSL: about 15× faster than the pure-JS default here (a
 * handshake's four operations ~0.25 ms against ~4 ms), which is how many handshakes a node can
 * answer a second. Same bytes as noble's: ed25519 signatures are deterministic.
 */
export const nodeHandshakeCrypto: HandshakeCrypto = Object.freeze({
  ephemeralKey(): EphemeralKey {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    return {
      publicKey: new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url')),
      agree(remotePublicKey: Uint8Array): Uint8Array {
        // OpenSSL refuses a low-order key (an all-zero result) by throwing; the handshake maps that.
        const remote = publicKeyObject('X25519', remotePublicKey.subarray(0, X25519_PUBLIC_KEY_BYTES));
        return new Uint8Array(diffieHellman({ privateKey, publicKey: remote }));
      },
    };
  },
  sign: (identity: NodeKey, message: Uint8Array): Uint8Array => new Uint8Array(sign(null, message, signingKeyOf(identity))),
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    if (!mayVerify(publicKey, message, signature)) return false;
    try {
      // OpenSSL's check is RFC 8032's strict one: S < L, the equation without the cofactor.
      return verify(null, message, publicKeyObject('Ed25519', publicKey), signature);
    } catch {
      return false; // a key that is not a point
    }
  },
});
