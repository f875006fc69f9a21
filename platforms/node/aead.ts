import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { assertAeadKey, assertAeadNonce, type Aead, type AeadFactory } from '../../src/crypto/aead.js';
import { AEAD_TAG_BYTES } from '../../src/crypto/constants.js';
import { requireOptionalIfPresent } from './optional-dependency.js';

const ALGORITHM = 'chacha20-poly1305';
const CIPHER_OPTIONS = { authTagLength: AEAD_TAG_BYTES } as const;

/** The few libsodium calls used, from the optional `sodium-native` package. */
interface Sodium {
  crypto_aead_chacha20poly1305_ietf_encrypt(out: Uint8Array, message: Uint8Array, ad: null, nsec: null, nonce: Uint8Array, key: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(out: Uint8Array, nsec: null, sealed: Uint8Array, ad: null, nonce: Uint8Array, key: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    out: Uint8Array,
    nsec: null,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    ad: null,
    nonce: Uint8Array,
    key: Uint8Array,
  ): void;
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
 * ChaCha20-Poly1305 for Node: libsodium (sodium-native) when installed, Node's OpenSSL binding
 * otherwise. Same bytes as `nobleChaCha20Poly1305`, many times faster.
 *
 * libsodium serves every frame size: it seals into and opens in the caller's buffers, so a frame costs
 * no allocation, where OpenSSL's binding makes a cipher object and a result buffer per call (~4 µs per
 * small frame, and garbage that sets the pace of bulk transfers). On this project's bench machine the
 * two run at about the same speed per byte on 64 KiB frames.
 */
export const nodeChaCha20Poly1305: AeadFactory = (key32) => {
  assertAeadKey(key32);
  const native = loadSodium();
  if (native === undefined) return openSslAead(createSecretKey(key32));
  const keyBytes = Buffer.from(key32);
  const openInPlace = (nonce: Uint8Array, sealed: Uint8Array): boolean => {
    assertAeadNonce(nonce);
    if (sealed.length < AEAD_TAG_BYTES) return false;
    const split = sealed.length - AEAD_TAG_BYTES;
    const ciphertext = sealed.subarray(0, split);
    try {
      // libsodium checks the tag before it decrypts; on a forged one it wipes the bytes and throws.
      native.crypto_aead_chacha20poly1305_ietf_decrypt_detached(ciphertext, null, ciphertext, sealed.subarray(split), null, nonce, keyBytes);
    } catch {
      return false;
    }
    return true;
  };
  return withSeal({
    sealInto(nonce, plaintext, target, offset) {
      assertAeadNonce(nonce);
      const out = target.subarray(offset, offset + plaintext.length + AEAD_TAG_BYTES);
      return native.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, null, null, nonce, keyBytes);
    },
    open(nonce, sealed) {
      const copy = new Uint8Array(sealed); // not slice(): on a Buffer that is a view
      return openInPlace(nonce, copy) ? copy.subarray(0, copy.length - AEAD_TAG_BYTES) : undefined;
    },
    openInPlace,
  });
};

/** Node's OpenSSL binding alone: what `nodeChaCha20Poly1305` falls back to without sodium-native. */
export const openSslChaCha20Poly1305: AeadFactory = (key32) => {
  assertAeadKey(key32);
  return openSslAead(createSecretKey(key32));
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
