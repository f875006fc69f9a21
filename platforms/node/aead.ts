import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { assertAeadKey, assertAeadNonce, type Aead, type AeadFactory } from '../../src/crypto/aead.js';
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from '../../src/crypto/constants.js';
import { requireOptionalIfPresent } from './optional-dependency.js';

const ALGORITHM = 'chacha20-poly1305';
const CIPHER_OPTIONS = { authTagLength: AEAD_TAG_BYTES } as const;

/** The two libsodium calls used, from the optional `sodium-native` package (its documented API). */
export interface Sodium {
  crypto_aead_chacha20poly1305_ietf_encrypt(out: Uint8Array, message: Uint8Array, ad: null, nsec: null, nonce: Uint8Array, key: Uint8Array): number;
  /** Throws when the tag does not verify. */
  crypto_aead_chacha20poly1305_ietf_decrypt(out: Uint8Array, nsec: null, sealed: Uint8Array, ad: null, nonce: Uint8Array, key: Uint8Array): number;
}

/**
 * The same two calls on sodium-native 5's native binding, which its documented functions wrap in about
 * ten argument checks each (Node's `assert`, with rest arguments): together a sizable part of a small
 * frame's cost. The binding checks sizes too, but by aborting the process, so it is called only with
 * sizes fixed here: a 12-byte nonce, a 32-byte key, `out`/`sealed` exactly 16 bytes apart. Returns
 * the output length, or a negative number when the tag does not verify.
 */
export interface SodiumBinding {
  crypto_aead_chacha20poly1305_ietf_encrypt(out: Uint8Array, message: Uint8Array, ad: undefined, nonce: Uint8Array, key: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(out: Uint8Array, sealed: Uint8Array, ad: undefined, nonce: Uint8Array, key: Uint8Array): number;
}

/** Seal `message` into `out` (exactly 16 bytes longer); open `sealed` into `out` (16 bytes shorter; may be its start). */
export interface SodiumCalls {
  seal(out: Uint8Array, message: Uint8Array, nonce: Uint8Array, key: Uint8Array): number;
  /** False when the tag does not verify (then `out` is wiped, never decrypted). */
  open(out: Uint8Array, sealed: Uint8Array, nonce: Uint8Array, key: Uint8Array): boolean;
}

/** The binding layout above is sodium-native 5's (its binding.cc); another major goes through the wrapper. */
const BINDING_MAJOR_VERSION = '5';

/** Not loaded yet; null: not installed (or its binary does not load), so OpenSSL does every frame. */
let sodium: SodiumCalls | null | undefined;

/** Loaded on the first key, not at import: an app that never opens a connection never loads it. */
function loadSodium(): SodiumCalls | undefined {
  if (sodium === undefined) {
    const wrapper = requireOptionalIfPresent<Sodium>('sodium-native');
    sodium =
      wrapper === undefined
        ? null
        : sodiumCallsFor(wrapper, requireOptionalIfPresent<{ version?: unknown }>('sodium-native/package.json')?.version, () =>
            requireOptionalIfPresent<SodiumBinding>('sodium-native/binding.js'),
          );
  }
  return sodium ?? undefined;
}

function wrapperCalls(native: Sodium): SodiumCalls {
  return {
    seal: (out, message, nonce, key) => native.crypto_aead_chacha20poly1305_ietf_encrypt(out, message, null, null, nonce, key),
    open(out, sealed, nonce, key) {
      try {
        native.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, sealed, null, nonce, key);
        return true;
      } catch {
        return false;
      }
    },
  };
}

/**
 * @internal The binding's calls if `version` is the sodium-native major whose layout they assume and
 * they give the documented functions' bytes on a test vector (sealing, opening, refusing a forged
 * tag); otherwise the documented functions'. `loadBinding` runs only for that major.
 */
export function sodiumCallsFor(wrapper: Sodium, version: unknown, loadBinding: () => SodiumBinding | undefined): SodiumCalls {
  return (typeof version === 'string' && version.split('.')[0] === BINDING_MAJOR_VERSION ? bindingCalls(wrapper, loadBinding()) : undefined) ?? wrapperCalls(wrapper);
}

function bindingCalls(wrapper: Sodium, binding: SodiumBinding | undefined): SodiumCalls | undefined {
  if (typeof binding?.crypto_aead_chacha20poly1305_ietf_encrypt !== 'function' || typeof binding.crypto_aead_chacha20poly1305_ietf_decrypt !== 'function') {
    return undefined;
  }
  const calls: SodiumCalls = {
    seal: (out, message, nonce, key) => binding.crypto_aead_chacha20poly1305_ietf_encrypt(out, message, undefined, nonce, key),
    open: (out, sealed, nonce, key) => binding.crypto_aead_chacha20poly1305_ietf_decrypt(out, sealed, undefined, nonce, key) >= 0,
  };
  try {
    return agreesWithWrapper(calls, wrapper) ? calls : undefined;
  } catch {
    return undefined;
  }
}

function agreesWithWrapper(calls: SodiumCalls, wrapper: Sodium): boolean {
  const key = new Uint8Array(AEAD_KEY_BYTES).map((_, i) => i + 1);
  const nonce = new Uint8Array(AEAD_NONCE_BYTES).map((_, i) => 255 - i);
  const message = new Uint8Array(37).map((_, i) => i * 11);
  const viaBinding = new Uint8Array(message.length + AEAD_TAG_BYTES);
  const viaWrapper = new Uint8Array(message.length + AEAD_TAG_BYTES);
  if (calls.seal(viaBinding, message, nonce, key) !== viaBinding.length) return false;
  wrapper.crypto_aead_chacha20poly1305_ietf_encrypt(viaWrapper, message, null, null, nonce, key);
  if (!viaBinding.every((byte, i) => byte === viaWrapper[i])) return false;
  const opened = new Uint8Array(message.length);
  if (!calls.open(opened, viaBinding, nonce, key) || !opened.every((byte, i) => byte === message[i])) return false;
  viaBinding[0]! ^= 1;
  return !calls.open(opened, viaBinding, nonce, key);
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
  const key = new Uint8Array(key32); // a copy (a Buffer's slice() would be a view)
  const openInPlace = (nonce: Uint8Array, sealed: Uint8Array, given?: Uint8Array): Uint8Array | undefined => {
    assertAeadNonce(nonce);
    if (sealed.length < AEAD_TAG_BYTES) return undefined;
    // The binding aborts the process on a size it does not expect: a wrong `given` is a RangeError here.
    if (given !== undefined && given.length !== sealed.length - AEAD_TAG_BYTES) throw new RangeError(`openInPlace: plaintext of ${given.length} bytes for ${sealed.length} sealed`);
    // libsodium checks the tag before it decrypts (over the ciphertext's own bytes); on a forged one
    // it wipes them.
    const plaintext = given ?? sealed.subarray(0, sealed.length - AEAD_TAG_BYTES);
    return native.open(plaintext, sealed, nonce, key) ? plaintext : undefined;
  };
  return withSeal({
    sealInto(nonce, plaintext, target, offset) {
      assertAeadNonce(nonce);
      // A target of the sealed size is used as it is (the frame encoder makes that view itself).
      const length = plaintext.length + AEAD_TAG_BYTES;
      const out = offset === 0 && target.length === length ? target : target.subarray(offset, offset + length);
      // The binding aborts the process on a size it does not expect: a short target is a RangeError here.
      if (out.length !== length) throw new RangeError(`sealInto: target has ${target.length - offset} bytes from offset ${offset}, the frame needs ${length}`);
      return native.seal(out, plaintext, nonce, key);
    },
    open(nonce, sealed) {
      const copy = new Uint8Array(sealed); // not slice(): on a Buffer that is a view
      return openInPlace(nonce, copy);
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
