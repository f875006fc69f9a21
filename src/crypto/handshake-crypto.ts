import { x25519 } from '@noble/curves/ed25519.js';
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
