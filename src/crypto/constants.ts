/**
 * Tunables and wire constants of the crypto layer: node keys, the secret-connection handshake and
 * the sealed frames that carry everything after it. Changing a wire constant is a protocol break:
 * bump HANDSHAKE_VERSION with it.
 */

/** A handshake that has not completed by then costs the link (CometBFT uses the same order). */
export const HANDSHAKE_TIMEOUT_MS = 20 * 1000;

/** Largest plaintext carried by one sealed frame; bigger writes are split. */
export const MAX_FRAME_PAYLOAD_BYTES = 64 * 1024;
/** The auth message (96 bytes) must fit in one frame, so no configuration may go below this. */
export const MIN_FRAME_PAYLOAD_BYTES = 1024;
/** Ceiling for `maxFramePayloadBytes`: one frame is buffered whole before it is opened. */
export const MAX_FRAME_PAYLOAD_LIMIT_BYTES = 16 * 1024 * 1024;

/** Big-endian uint32 length of the sealed bytes that follow. */
export const FRAME_HEADER_BYTES = 4;

export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
export const AEAD_TAG_BYTES = 16;

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const NODE_KEY_SEED_BYTES = 32;
/** Node id = hex of this many leading bytes of SHA-256(public key), as CometBFT. */
export const NODE_ID_BYTES = 20;

export const X25519_PUBLIC_KEY_BYTES = 32;

/** ASCII "mlk": lets a peer that speaks something else fail fast with a clear error. */
export const HANDSHAKE_MAGIC: readonly number[] = [0x6d, 0x6c, 0x6b];
/** 2: the auth signature also covers the signer's role and public key. */
export const HANDSHAKE_VERSION = 2;
/** magic (3) || version (1) || ephemeral X25519 public key (32). */
export const HELLO_BYTES = HANDSHAKE_MAGIC.length + 1 + X25519_PUBLIC_KEY_BYTES;

/** HKDF output: send/receive keys for the two directions, then the challenge both sides sign. */
export const SESSION_KEY_MATERIAL_BYTES = 2 * AEAD_KEY_BYTES + 32;
export const HKDF_INFO_LABEL = 'meshlink/secret-connection/v1/keys';
/** Prefixed to the challenge before signing so a node key can never be tricked into signing a bare challenge elsewhere. */
export const AUTH_SIGNATURE_CONTEXT = 'meshlink/secret-connection/v2/auth';
/** ed25519 public key (32) || signature (64), sent as the first sealed frame. */
export const AUTH_MESSAGE_BYTES = ED25519_PUBLIC_KEY_BYTES + ED25519_SIGNATURE_BYTES;

export const DEFAULT_NODE_KEY_STORAGE_KEY = 'node-key';
