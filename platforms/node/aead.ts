import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { assertAeadKey, assertAeadNonce, type Aead, type AeadFactory } from '../../src/crypto/aead.js';
import { AEAD_TAG_BYTES } from '../../src/crypto/constants.js';
import { requireOptionalIfPresent } from './optional-dependency.js';

const ALGORITHM = 'chacha20-poly1305';
const CIPHER_OPTIONS = { authTagLength: AEAD_TAG_BYTES } as const;

/**
 * Below this size libsodium wins (no per-call cipher object: ~0.8 µs per small frame against ~3.7 µs
 * to seal and ~6.5 µs to open with OpenSSL's binding); above it OpenSSL's per-byte speed wins. Measured
 * on this project's bench machine; both produce the same bytes, so the split is invisible on the wire.
 */
export const SODIUM_MAX_FRAME_BYTES = 8 * 1024;

/** The few libsodium calls used, from the optional `sodium-native` package. */
interface Sodium {
  crypto_aead_chacha20poly1305_ietf_encrypt(out: Uint8Array, message: Uint8Array, ad: null, nsec: null, nonce: Uint8Array, key: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(out: Uint8Array, nsec: null, sealed: Uint8Array, ad: null, nonce: Uint8Array, key: Uint8Array): number;
}

/** Not loaded yet; null: not installed (or its binary does not load), so OpenSSL does every frame. */
let sodium: Sodium | null | undefined;

/** Loaded on the first key, not at import: an app that never opens a connection never loads it. */
function loadSodium(): Sodium | undefined {
  sodium ??= requireOptionalIfPresent<Sodium>('sodium-native') ?? null;
  return sodium ?? undefined;
}

/** Whether the fast path for small frames is available: the optional `sodium-native` is installed. */
export function hasSodium(): boolean {
  return loadSodium() !== undefined;
}

/**
 * ChaCha20-Poly1305 for Node: libsodium (sodium-native) for small frames when installed, Node's OpenSSL
 * binding otherwise. Same bytes as `nobleChaCha20Poly1305`, many times faster.
 */
export const nodeChaCha20Poly1305: AeadFactory = (key32) => {
  assertAeadKey(key32);
  const keyObject = createSecretKey(key32);
  const keyBytes = Buffer.from(key32);
  const native = loadSodium();
  if (native === undefined) return openSslAead(keyObject);
  const large = openSslAead(keyObject);
  return withSeal({
    sealInto(nonce, plaintext, target, offset) {
      if (plaintext.length > SODIUM_MAX_FRAME_BYTES) return large.sealInto!(nonce, plaintext, target, offset);
      assertAeadNonce(nonce);
      const out = target.subarray(offset, offset + plaintext.length + AEAD_TAG_BYTES);
      return native.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, null, null, nonce, keyBytes);
    },
    open(nonce, sealed) {
      if (sealed.length > SODIUM_MAX_FRAME_BYTES + AEAD_TAG_BYTES) return large.open(nonce, sealed);
      assertAeadNonce(nonce);
      if (sealed.length < AEAD_TAG_BYTES) return undefined;
      const plaintext = new Uint8Array(sealed.length - AEAD_TAG_BYTES);
      try {
        native.crypto_aead_chacha20poly1305_ietf_decrypt(plaintext, null, sealed, null, nonce, keyBytes);
      } catch {
        return undefined; // libsodium throws on a forged tag
      }
      return plaintext;
    },
  });
};

/** OpenSSL through node:crypto; the key is a KeyObject once so each frame skips re-importing it. */
function openSslAead(key: KeyObject): Aead {
  return withSeal({
    sealInto(nonce, plaintext, target, offset) {
      assertAeadNonce(nonce);
      const cipher = createCipheriv(ALGORITHM, key, nonce, CIPHER_OPTIONS);
      const ciphertext = cipher.update(plaintext);
      cipher.final();
      target.set(ciphertext, offset);
      target.set(cipher.getAuthTag(), offset + ciphertext.length);
      return ciphertext.length + AEAD_TAG_BYTES;
    },
    open(nonce, sealed) {
      assertAeadNonce(nonce);
      if (sealed.length < AEAD_TAG_BYTES) return undefined;
      const split = sealed.length - AEAD_TAG_BYTES;
      const decipher = createDecipheriv(ALGORITHM, key, nonce, CIPHER_OPTIONS);
      decipher.setAuthTag(sealed.subarray(split));
      const plaintext = decipher.update(sealed.subarray(0, split));
      try {
        decipher.final();
      } catch {
        return undefined;
      }
      // Same type from every AeadFactory (a Buffer differs in equality and toString); a view, no copy.
      return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
    },
  });
}

type SealingInPlace = Omit<Aead, 'seal' | 'sealInto'> & Required<Pick<Aead, 'sealInto'>>;

/** `seal` in terms of `sealInto`: one exact-size buffer. */
function withSeal(aead: SealingInPlace): Aead {
  return {
    ...aead,
    seal(nonce, plaintext) {
      const sealed = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
      aead.sealInto(nonce, plaintext, sealed, 0);
      return sealed;
    },
  };
}
