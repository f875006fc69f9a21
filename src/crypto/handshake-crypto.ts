import { x25519 } from '@noble/curves/ed25519.js';
import { ED25519_PUBLIC_KEY_BYTES } from './constants.js';
import { verifySignature, type NodeKey } from './keys.js';

/** One handshake's X25519 key: its public half, and the agreement with the remote's. */
export interface EphemeralKey {
  readonly publicKey: Uint8Array;
  /**
   * X25519 of our secret and `remotePublicKey` (32 bytes). May throw, or return all zeros, for a
   * low-order remote key: the handshake checks both.
   */
  agree(remotePublicKey: Uint8Array): Uint8Array;
}

/**
 * The public-key operations of the secret-connection handshake. The platform picks the
 * implementation, as for the AEAD: every one produces the same bytes (X25519 and ed25519 are
 * deterministic), so either side of a connection can use any. A handshake costs the side that
 * answers it one of each operation, and anyone can ask for one, so their speed bounds how many
 * handshakes a node can take a second.
 */
export interface HandshakeCrypto {
  ephemeralKey(): EphemeralKey;
  /** `identity`'s ed25519 signature over `message`. */
  sign(identity: NodeKey, message: Uint8Array): Uint8Array;
  /** Strict ed25519 verification that refuses small-order keys (see `verifySignature`); never throws. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** Pure JS (@noble/curves): the default, and what browsers use. */
export const nobleHandshakeCrypto: HandshakeCrypto = Object.freeze({
  ephemeralKey(): EphemeralKey {
    const { secretKey, publicKey } = x25519.keygen();
    return { publicKey, agree: (remotePublicKey: Uint8Array) => x25519.getSharedSecret(secretKey, remotePublicKey) };
  },
  sign: (identity: NodeKey, message: Uint8Array) => identity.sign(message),
  verify: verifySignature,
});

/** 2^255 − 19, the field of edwards25519. */
const FIELD_PRIME = (1n << 255n) - 19n;
/** y of the points of order 8 (the other two have y = p − this). */
const ORDER_8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
/**
 * The y coordinates of the eight small-order points (orders 1, 2, 4, 8), plus p and p + 1: the
 * non-canonical spellings of 0 and 1 that fit in 255 bits. The sign bit of x is ignored, so every
 * encoding of a small-order point is here (libsodium refuses the same list).
 */
const SMALL_ORDER_Y: ReadonlySet<bigint> = new Set([0n, 1n, FIELD_PRIME - 1n, FIELD_PRIME, FIELD_PRIME + 1n, ORDER_8_Y, FIELD_PRIME - ORDER_8_Y]);

/**
 * Whether an ed25519 public key's encoding names a point of small order, from its bytes alone (no
 * point decompression, which costs more than a native verification). Under cofactored verification
 * such a key "verifies" forged signatures, so it can prove no identity.
 */
export function isSmallOrderEncoding(publicKey: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  let y = 0n;
  for (let i = ED25519_PUBLIC_KEY_BYTES - 1; i >= 0; i--) {
    y = (y << 8n) | BigInt(i === ED25519_PUBLIC_KEY_BYTES - 1 ? publicKey[i]! & 0x7f : publicKey[i]!);
  }
  return SMALL_ORDER_Y.has(y);
}
