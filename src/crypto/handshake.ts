import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { HandshakeError } from '../errors.js';
import {
  AEAD_KEY_BYTES,
  AUTH_MESSAGE_BYTES,
  AUTH_SIGNATURE_CONTEXT,
  ED25519_PUBLIC_KEY_BYTES,
  HANDSHAKE_MAGIC,
  HANDSHAKE_VERSION,
  HELLO_BYTES,
  HKDF_INFO_LABEL,
  SESSION_KEY_MATERIAL_BYTES,
  X25519_PUBLIC_KEY_BYTES,
} from './constants.js';
import { nobleHandshakeCrypto, type EphemeralKey, type HandshakeCrypto } from './handshake-crypto.js';
import { nodeIdFromPublicKey, type NodeKey } from './keys.js';

/**
 * The pure half of the secret-connection handshake (station-to-station, after CometBFT's
 * SecretConnection). `secureHandshake` in src/conn/secure-link.ts drives it over a Link.
 *
 * ```
 *  A                                                    B
 *  hello: "mlk" | 0x02 | ephA (32)   ─────────────▶
 *                                   ◀─────────────     hello: "mlk" | 0x02 | ephB (32)
 *  both: dh = X25519(eph_sk, eph_pk_remote)    (low-order / all-zero → HandshakeError)
 *        (lo, hi) = sort(ephA, ephB)
 *        k1 | k2 | challenge = HKDF-SHA256(ikm = dh, salt = none,
 *                                          info = "meshlink/secret-connection/v1/keys" | lo | hi, 96)
 *        the side whose ephemeral is lo sends with k1 and receives with k2; the other the reverse
 *  frame #0: seal(pubA (32) | sigA (64))  ─────────▶
 *                                   ◀─────────────     frame #0: seal(pubB | sigB)
 *        sig = ed25519("meshlink/secret-connection/v2/auth" | role (lo: 1, hi: 2) | own pub | challenge)
 *  both: verify, remoteNodeId = hex(SHA-256(pub)[0..20]); frames #1.. carry data
 * ```
 * Frames are `u32be length | ChaCha20-Poly1305(ciphertext | tag)`, nonce = 4 zero bytes | u64le
 * counter per direction, starting at 0 with the auth frame (see secure-link-frame.ts).
 */

export type { EphemeralKey, HandshakeCrypto } from './handshake-crypto.js';

/**
 * Which side of the key exchange a node is on: 'low' when its ephemeral key sorts first. Both ends
 * agree on it without a round trip, and it tells the two auth signatures of one session apart.
 */
export type AuthRole = 'low' | 'high';

/** What an auth signature is bound to: this session's challenge and the signer's role in it. */
export interface AuthContext {
  /** Both sides sign this; it binds the identities to this very key exchange. */
  readonly challenge: Uint8Array;
  /** Our role; the remote's is the other one. */
  readonly localRole: AuthRole;
}

export interface SessionSecrets extends AuthContext {
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
}

export interface AuthenticatedPeer {
  readonly publicKey: Uint8Array;
  readonly nodeId: string;
}

const textEncoder = new TextEncoder();
const HKDF_INFO_PREFIX = textEncoder.encode(HKDF_INFO_LABEL);
const AUTH_CONTEXT = textEncoder.encode(AUTH_SIGNATURE_CONTEXT);

export function createEphemeralKey(crypto: HandshakeCrypto = nobleHandshakeCrypto): EphemeralKey {
  return crypto.ephemeralKey();
}

export function encodeHello(ephemeralPublicKey: Uint8Array): Uint8Array {
  const hello = new Uint8Array(HELLO_BYTES);
  hello.set(HANDSHAKE_MAGIC, 0);
  hello[HANDSHAKE_MAGIC.length] = HANDSHAKE_VERSION;
  hello.set(ephemeralPublicKey, HANDSHAKE_MAGIC.length + 1);
  return hello;
}

/** Returns the remote ephemeral public key; throws HandshakeError on a foreign or newer protocol. */
export function decodeHello(hello: Uint8Array): Uint8Array {
  if (hello.length !== HELLO_BYTES) {
    throw new HandshakeError('ERR_HANDSHAKE', `Handshake hello must be ${HELLO_BYTES} bytes, got ${hello.length}`);
  }
  for (let i = 0; i < HANDSHAKE_MAGIC.length; i++) {
    if (hello[i] !== HANDSHAKE_MAGIC[i]) {
      throw new HandshakeError('ERR_HANDSHAKE', 'Peer does not speak the meshlink secret connection (bad hello magic)', {
        detail: { helloPrefixHex: bytesToHex(hello.subarray(0, HANDSHAKE_MAGIC.length + 1)) },
      });
    }
  }
  const version = hello[HANDSHAKE_MAGIC.length];
  if (version !== HANDSHAKE_VERSION) {
    throw new HandshakeError('ERR_INCOMPATIBLE_PEER', `Peer speaks secret-connection version ${version}, we speak ${HANDSHAKE_VERSION}`, {
      detail: { remoteVersion: version, localVersion: HANDSHAKE_VERSION },
    });
  }
  return hello.slice(HANDSHAKE_MAGIC.length + 1);
}

/**
 * X25519 + HKDF as in the diagram above. Throws HandshakeError when the remote ephemeral is a
 * low-order point (the shared secret would be predictable) or equals ours (a reflected hello).
 */
export function deriveSessionSecrets(local: EphemeralKey, remotePublicKey: Uint8Array): SessionSecrets {
  if (remotePublicKey.length !== X25519_PUBLIC_KEY_BYTES) {
    throw new HandshakeError('ERR_HANDSHAKE', 'Remote ephemeral key has the wrong length');
  }
  const order = compareBytes(local.publicKey, remotePublicKey);
  if (order === 0) {
    throw new HandshakeError('ERR_HANDSHAKE', 'Remote ephemeral key equals ours: reflected handshake');
  }
  let shared: Uint8Array;
  try {
    shared = local.agree(remotePublicKey);
  } catch (error) {
    throw new HandshakeError('ERR_HANDSHAKE', 'Remote ephemeral key is a low-order point', { cause: error });
  }
  if (isAllZero(shared)) {
    throw new HandshakeError('ERR_HANDSHAKE', 'X25519 shared secret is all zero');
  }
  const [lo, hi] = order < 0 ? [local.publicKey, remotePublicKey] : [remotePublicKey, local.publicKey];
  const info = new Uint8Array(HKDF_INFO_PREFIX.length + 2 * X25519_PUBLIC_KEY_BYTES);
  info.set(HKDF_INFO_PREFIX, 0);
  info.set(lo, HKDF_INFO_PREFIX.length);
  info.set(hi, HKDF_INFO_PREFIX.length + X25519_PUBLIC_KEY_BYTES);
  const material = hkdf(sha256, shared, undefined, info, SESSION_KEY_MATERIAL_BYTES);
  shared.fill(0);
  const key1 = material.slice(0, AEAD_KEY_BYTES);
  const key2 = material.slice(AEAD_KEY_BYTES, 2 * AEAD_KEY_BYTES);
  const challenge = material.slice(2 * AEAD_KEY_BYTES);
  material.fill(0);
  return order < 0
    ? { sendKey: key1, receiveKey: key2, challenge, localRole: 'low' }
    : { sendKey: key2, receiveKey: key1, challenge, localRole: 'high' };
}

/**
 * context | role (0x01 low, 0x02 high) | signer's ed25519 public key | challenge. The role keeps one
 * side's signature from ever standing for the other's; the key binds the signature to the identity
 * it proves (no key substitution under the same signature).
 */
function authSignedBytes(challenge: Uint8Array, signerRole: AuthRole, signerPublicKey: Uint8Array): Uint8Array {
  const signed = new Uint8Array(AUTH_CONTEXT.length + 1 + ED25519_PUBLIC_KEY_BYTES + challenge.length);
  signed.set(AUTH_CONTEXT, 0);
  signed[AUTH_CONTEXT.length] = signerRole === 'low' ? 0x01 : 0x02;
  signed.set(signerPublicKey, AUTH_CONTEXT.length + 1);
  signed.set(challenge, AUTH_CONTEXT.length + 1 + ED25519_PUBLIC_KEY_BYTES);
  return signed;
}

/** Our public key || signature over the challenge, our role and key: the plaintext of frame #0. */
export function encodeAuthMessage(identity: NodeKey, context: AuthContext, crypto: HandshakeCrypto = nobleHandshakeCrypto): Uint8Array {
  const message = new Uint8Array(AUTH_MESSAGE_BYTES);
  message.set(identity.publicKey, 0);
  message.set(crypto.sign(identity, authSignedBytes(context.challenge, context.localRole, identity.publicKey)), ED25519_PUBLIC_KEY_BYTES);
  return message;
}

/**
 * Checks the remote frame #0 (signed in the role opposite to `context.localRole`); throws
 * HandshakeError unless it proves the key behind a node id.
 */
export function verifyAuthMessage(message: Uint8Array, context: AuthContext, crypto: HandshakeCrypto = nobleHandshakeCrypto): AuthenticatedPeer {
  if (message.length !== AUTH_MESSAGE_BYTES) {
    throw new HandshakeError('ERR_HANDSHAKE', `Auth message must be ${AUTH_MESSAGE_BYTES} bytes, got ${message.length}`);
  }
  const publicKey = message.slice(0, ED25519_PUBLIC_KEY_BYTES);
  const signature = message.subarray(ED25519_PUBLIC_KEY_BYTES);
  const nodeId = nodeIdFromPublicKey(publicKey);
  const remoteRole: AuthRole = context.localRole === 'low' ? 'high' : 'low';
  if (!crypto.verify(publicKey, authSignedBytes(context.challenge, remoteRole, publicKey), signature)) {
    throw new HandshakeError('ERR_HANDSHAKE', 'Peer failed to prove its identity: bad challenge signature', {
      peerId: nodeId,
    });
  }
  return { publicKey, nodeId };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const byte of bytes) acc |= byte;
  return acc === 0;
}
