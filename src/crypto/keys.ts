import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { ConfigError, MeshlinkError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import {
  DEFAULT_NODE_KEY_STORAGE_KEY,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  NODE_ID_BYTES,
  NODE_KEY_SEED_BYTES,
} from './constants.js';

/**
 * A node's long-term ed25519 identity. The secret never leaves the object except through
 * `exportSecret()`, which exists only so the platform can persist it.
 */
export interface NodeKey {
  /** 32-byte ed25519 public key (a copy: mutating it changes nothing). */
  readonly publicKey: Uint8Array;
  /** 40 lower-case hex characters, see `nodeIdFromPublicKey`. */
  readonly nodeId: string;
  /** 64-byte ed25519 signature over `message`. */
  sign(message: Uint8Array): Uint8Array;
  /** The 32-byte seed the key was derived from (a copy). */
  exportSecret(): Uint8Array;
}

// `#` fields keep the seed out of JSON.stringify and util.inspect output.
class Ed25519NodeKey implements NodeKey {
  readonly nodeId: string;
  readonly #seed: Uint8Array;
  readonly #publicKey: Uint8Array;

  constructor(seed: Uint8Array) {
    this.#seed = seed.slice();
    this.#publicKey = ed25519.getPublicKey(this.#seed);
    this.nodeId = nodeIdFromPublicKey(this.#publicKey);
  }

  get publicKey(): Uint8Array {
    return this.#publicKey.slice();
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#seed);
  }

  exportSecret(): Uint8Array {
    return this.#seed.slice();
  }
}

export function generateNodeKey(): NodeKey {
  return new Ed25519NodeKey(ed25519.utils.randomSecretKey());
}

/** Rebuilds a key from the 32-byte seed returned by `exportSecret()`. */
export function nodeKeyFromSecret(seed: Uint8Array): NodeKey {
  if (!(seed instanceof Uint8Array) || seed.length !== NODE_KEY_SEED_BYTES) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `A node key seed is ${NODE_KEY_SEED_BYTES} bytes`, {
      detail: { length: seed instanceof Uint8Array ? seed.length : undefined },
    });
  }
  return new Ed25519NodeKey(seed);
}

/** Lower-case hex of the first 20 bytes of SHA-256(publicKey), as CometBFT derives node ids. */
export function nodeIdFromPublicKey(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `An ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  }
  return bytesToHex(sha256(publicKey).subarray(0, NODE_ID_BYTES));
}

/**
 * Strict RFC 8032 verification. Small-order public keys are refused outright: under cofactored
 * (ZIP-215) rules they "verify" forged signatures, which would let anyone claim the node id of such
 * a key. Never throws: malformed input is simply not a valid signature.
 */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!mayVerify(publicKey, message, signature)) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * The checks every ed25519 verification of ours makes before the curve (verifySignature, and the
 * platforms' own): byte arrays of the right sizes, and a public key that is not of small order.
 */
export function mayVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  return message instanceof Uint8Array && !isSmallOrderEncoding(publicKey);
}

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

/**
 * Returns the node key kept in `storage` under `key`, creating and storing a new one on first use.
 * A stored value that is not a 32-byte seed is an ERR_STORAGE error: silently replacing it would
 * change the node's identity behind the operator's back.
 */
export async function loadOrCreateNodeKey(storage: Storage, key: string = DEFAULT_NODE_KEY_STORAGE_KEY): Promise<NodeKey> {
  const stored = await storage.get(key);
  if (stored !== undefined) {
    if (stored.length !== NODE_KEY_SEED_BYTES) {
      throw new MeshlinkError('ERR_STORAGE', `Stored node key "${key}" is corrupt: expected a ${NODE_KEY_SEED_BYTES}-byte seed, found ${stored.length} bytes`, {
        detail: { key, length: stored.length },
      });
    }
    return nodeKeyFromSecret(stored);
  }
  const created = generateNodeKey();
  await storage.set(key, created.exportSecret());
  return created;
}
