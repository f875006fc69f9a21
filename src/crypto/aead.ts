import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ConfigError } from '../errors.js';
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from './constants.js';

/**
 * ChaCha20-Poly1305 (RFC 8439) bound to one key, without associated data. The platform picks the
 * implementation: Node's native one is many times faster, noble runs everywhere. Both must produce
 * byte-identical output so either side of a connection can use either.
 *
 * Layout of sealed bytes: ciphertext (same length as the plaintext) || 16-byte tag.
 */
export interface Aead {
  /** Returns a new buffer; `plaintext` is not retained. `nonce` is 12 bytes and must never repeat for this key. */
  seal(nonce: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Returns the plaintext, or undefined when `sealed` is not authentic (tampered, wrong nonce, too short). */
  open(nonce: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
  /**
   * Optional: seals straight into `target` at `offset` (room for plaintext + 16 bytes) and returns the
   * bytes written. Lets a frame be built with one allocation instead of three.
   */
  sealInto?(nonce: Uint8Array, plaintext: Uint8Array, target: Uint8Array, offset: number): number;
  /**
   * Optional: opens `sealed` (ciphertext || tag) where it lies, leaving the plaintext in its first
   * `sealed.length - 16` bytes, and returns that plaintext (a view of `sealed`); undefined when not
   * authentic (the bytes may then have been wiped, never decrypted). Saves a buffer per frame on the
   * receiving side, where the sealed bytes already belong to the caller. `plaintext`, when given, is
   * where the plaintext goes and what is returned: `sealed.length - 16` bytes, normally a view of the start
   * of `sealed` that the caller made with it (cheaper there than cutting one from `sealed` here).
   */
  openInPlace?(nonce: Uint8Array, sealed: Uint8Array, plaintext?: Uint8Array): Uint8Array | undefined;
}

/**
 * Builds an Aead for a 32-byte key; must not depend on the caller keeping `key32` unchanged.
 * Throws ConfigError ERR_INVALID_ARGUMENT on a wrong key size.
 */
export type AeadFactory = (key32: Uint8Array) => Aead;

/** Shared argument checks for AeadFactory implementations; throws on misuse by local code. */
export function assertAeadKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== AEAD_KEY_BYTES) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `An AEAD key is ${AEAD_KEY_BYTES} bytes`);
  }
}

export function assertAeadNonce(nonce: Uint8Array): void {
  if (nonce.length !== AEAD_NONCE_BYTES) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `An AEAD nonce is ${AEAD_NONCE_BYTES} bytes`);
  }
}

/**
 * Pure-JS ChaCha20-Poly1305 from @noble/ciphers: the default, and the one browsers use. Seals into and
 * opens in the caller's buffers (noble writes to a given output, and checks the tag before decrypting).
 */
export const nobleChaCha20Poly1305: AeadFactory = (key32) => {
  assertAeadKey(key32);
  const key = key32.slice();
  const openInto = (nonce: Uint8Array, sealed: Uint8Array, target: Uint8Array | undefined): Uint8Array | undefined => {
    assertAeadNonce(nonce);
    if (sealed.length < AEAD_TAG_BYTES) return undefined;
    try {
      return chacha20poly1305(key, nonce).decrypt(sealed, target);
    } catch {
      return undefined;
    }
  };
  return {
    seal(nonce, plaintext) {
      assertAeadNonce(nonce);
      return chacha20poly1305(key, nonce).encrypt(plaintext);
    },
    sealInto(nonce, plaintext, target, offset) {
      assertAeadNonce(nonce);
      const length = plaintext.length + AEAD_TAG_BYTES;
      chacha20poly1305(key, nonce).encrypt(plaintext, target.subarray(offset, offset + length));
      return length;
    },
    open: (nonce, sealed) => openInto(nonce, sealed, undefined),
    openInPlace: (nonce, sealed, plaintext) => openInto(nonce, sealed, plaintext ?? sealed.subarray(0, sealed.length - AEAD_TAG_BYTES)),
  };
};
