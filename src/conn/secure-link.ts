import { nobleChaCha20Poly1305, type AeadFactory } from '../crypto/aead.js';
import { nobleHandshakeCrypto, type EphemeralKey, type HandshakeCrypto } from '../crypto/handshake-crypto.js';
import {
  HANDSHAKE_TIMEOUT_MS,
  HELLO_BYTES,
  MAX_FRAME_PAYLOAD_BYTES,
  MAX_FRAME_PAYLOAD_LIMIT_BYTES,
  MIN_FRAME_PAYLOAD_BYTES,
  NODE_ID_BYTES,
} from '../crypto/constants.js';
import {
  decodeHello,
  encodeHello,
  deriveSessionSecrets,
  encodeAuthMessage,
  verifyAuthMessage,
  type AuthContext,
} from '../crypto/handshake.js';
import type { NodeKey } from '../crypto/keys.js';
import { AbortError, ConfigError, HandshakeError, MeshlinkError, TimeoutError, toError } from '../errors.js';
import type { Link } from '../transport/link.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { FrameDecoder, FrameEncoder } from './secure-link-frame.js';
import { SecureLinkSession, type SecureLink } from './secure-link-session.js';

export type { SecureLink } from './secure-link-session.js';

export interface SecureHandshakeOptions {
  /** Our long-term identity; its public key and a signature go to the peer. */
  identity: NodeKey;
  /** When set, a peer proving any other id fails with HandshakeError ERR_WRONG_PEER_ID (case-insensitive). */
  expectedPeerId?: string;
  /** Whole-handshake deadline in ms; TimeoutError after it. @default 20_000 (HANDSHAKE_TIMEOUT_MS) */
  timeoutMs?: number;
  /** Aborts the handshake with AbortError. Has no effect once the promise has resolved. */
  signal?: AbortSignal;
  /** ChaCha20-Poly1305 implementation for this side only; the peer may use another. @default nobleChaCha20Poly1305 */
  aead?: AeadFactory;
  /** X25519 and ed25519 for this side only; the peer may use another. @default nobleHandshakeCrypto */
  handshakeCrypto?: HandshakeCrypto;
  /**
   * Largest plaintext per frame, in bytes, for both what we send and what we accept. Both sides must
   * allow at least what the other sends. @default 65_536 (MAX_FRAME_PAYLOAD_BYTES)
   */
  maxFramePayloadBytes?: number;
  /** Runs the deadline timer. @default systemClock */
  clock?: Clock;
}

export interface SecureHandshakeConfig {
  readonly identity: NodeKey;
  readonly expectedPeerId: string | undefined;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly aead: AeadFactory;
  readonly handshakeCrypto: HandshakeCrypto;
  readonly maxFramePayloadBytes: number;
  readonly clock: Clock;
}

export const DEFAULT_SECURE_HANDSHAKE_CONFIG = Object.freeze({
  timeoutMs: HANDSHAKE_TIMEOUT_MS,
  maxFramePayloadBytes: MAX_FRAME_PAYLOAD_BYTES,
  aead: nobleChaCha20Poly1305,
  handshakeCrypto: nobleHandshakeCrypto,
});

const NODE_ID_PATTERN = new RegExp(`^[0-9a-f]{${NODE_ID_BYTES * 2}}$`);

/** Merges options over the defaults and rejects what cannot work. Throws ConfigError. */
export function resolveSecureHandshakeConfig(options: SecureHandshakeOptions): SecureHandshakeConfig {
  const merged = { ...DEFAULT_SECURE_HANDSHAKE_CONFIG, ...stripUndefined(options) };
  const { timeoutMs, maxFramePayloadBytes } = merged;
  if (typeof merged.identity?.sign !== 'function') {
    throw new ConfigError('ERR_INVALID_CONFIG', 'secureHandshake needs an identity (NodeKey)');
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigError('ERR_INVALID_CONFIG', `timeoutMs must be a positive number of ms, got ${timeoutMs}`);
  }
  if (!Number.isInteger(maxFramePayloadBytes) || maxFramePayloadBytes < MIN_FRAME_PAYLOAD_BYTES || maxFramePayloadBytes > MAX_FRAME_PAYLOAD_LIMIT_BYTES) {
    throw new ConfigError('ERR_INVALID_CONFIG', `maxFramePayloadBytes must be an integer in [${MIN_FRAME_PAYLOAD_BYTES}, ${MAX_FRAME_PAYLOAD_LIMIT_BYTES}], got ${maxFramePayloadBytes}`);
  }
  const expectedPeerId = options.expectedPeerId?.toLowerCase();
  if (expectedPeerId !== undefined && !NODE_ID_PATTERN.test(expectedPeerId)) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `expectedPeerId "${options.expectedPeerId}" is not a node id (${NODE_ID_BYTES * 2} hex characters)`);
  }
  return { identity: merged.identity, expectedPeerId, timeoutMs, signal: options.signal, aead: merged.aead, handshakeCrypto: merged.handshakeCrypto, maxFramePayloadBytes, clock: options.clock ?? systemClock };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Runs the secret-connection handshake (diagram in src/crypto/handshake.ts) over a fresh `link` and
 * returns the authenticated, encrypted link. Both sides call it the same way; there is no initiator.
 * Takes ownership of `link`: on any failure it is destroyed and the promise rejects with
 * HandshakeError (codes ERR_HANDSHAKE, ERR_WRONG_PEER_ID, ERR_INCOMPATIBLE_PEER, or the frame
 * layer's ERR_DECRYPT / ERR_FRAME_TOO_LARGE), TimeoutError, AbortError, or ConfigError for bad options.
 */
export function secureHandshake(link: Link, options: SecureHandshakeOptions): Promise<SecureLink> {
  let config: SecureHandshakeConfig;
  try {
    config = resolveSecureHandshakeConfig(options);
  } catch (error) {
    link.destroy(toError(error));
    return Promise.reject(error);
  }
  return new Promise<SecureLink>((resolve, reject) => {
    new HandshakeRun(link, config, resolve, reject).start();
  });
}

const HandshakePhase = { Hello: 0, Auth: 1, Done: 2 } as const;
type HandshakePhase = (typeof HandshakePhase)[keyof typeof HandshakePhase];

/** One handshake attempt: reads the hello, then frame #0, under one deadline. Settles exactly once. */
class HandshakeRun {
  private phase: HandshakePhase = HandshakePhase.Hello;
  private readonly ephemeral: EphemeralKey;
  private readonly hello = new Uint8Array(HELLO_BYTES);
  private helloFilled = 0;
  private authContext: AuthContext | undefined;
  private decoder: FrameDecoder | undefined;
  private encoder: FrameEncoder | undefined;
  private session: SecureLinkSession | undefined;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly link: Link,
    private readonly config: SecureHandshakeConfig,
    private readonly resolve: (link: SecureLink) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.ephemeral = config.handshakeCrypto.ephemeralKey();
  }

  start(): void {
    const { signal, timeoutMs } = this.config;
    if (signal?.aborted) return this.fail(abortError(signal));
    if (this.link.closed) return this.fail(new HandshakeError('ERR_HANDSHAKE', 'Link was closed before the secure handshake'));
    this.timer = this.config.clock.setTimeout(() => {
      this.fail(new TimeoutError(`Secure handshake timed out after ${timeoutMs} ms`, { detail: { timeoutMs, remoteAddress: this.link.remoteAddress } }));
    }, timeoutMs);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    // The hello is copied, frame #0 is read (its key copied) in the call, and later frames go through
    // the session, which copies what it keeps: chunks are not retained.
    this.link.attach({ onData: this.onData, onDrain: noop, onClose: this.onClose, retainsChunks: false });
    this.link.write(encodeHello(this.ephemeral.publicKey));
  }

  private readonly onAbort = (): void => {
    this.fail(abortError(this.config.signal!));
  };

  private readonly onClose = (error?: Error): void => {
    if (this.phase === HandshakePhase.Done) return;
    this.fail(new HandshakeError('ERR_HANDSHAKE', 'Link closed during the secure handshake', { cause: error }));
  };

  private readonly onData = (chunk: Uint8Array): void => {
    if (this.phase === HandshakePhase.Done) return;
    try {
      let offset = 0;
      if (this.phase === HandshakePhase.Hello) {
        offset = Math.min(HELLO_BYTES - this.helloFilled, chunk.length);
        this.hello.set(chunk.subarray(0, offset), this.helloFilled);
        this.helloFilled += offset;
        if (this.helloFilled < HELLO_BYTES) return;
        this.beginAuth(decodeHello(this.hello));
      }
      if (offset < chunk.length) {
        const error = this.decoder!.push(offset === 0 ? chunk : chunk.subarray(offset), this.onFrame);
        // After success the rest of this chunk belongs to the session, errors included.
        if (error !== undefined) {
          if (this.session !== undefined) this.session.fail(error);
          else throw error;
        }
      }
    } catch (error) {
      this.fail(error);
    }
  };

  private beginAuth(remoteEphemeral: Uint8Array): void {
    const secrets = deriveSessionSecrets(this.ephemeral, remoteEphemeral);
    const { aead, maxFramePayloadBytes } = this.config;
    this.authContext = secrets;
    this.encoder = new FrameEncoder(aead(secrets.sendKey), maxFramePayloadBytes);
    this.decoder = new FrameDecoder(aead(secrets.receiveKey), maxFramePayloadBytes);
    this.phase = HandshakePhase.Auth;
    this.link.write(this.encoder.encode(encodeAuthMessage(this.config.identity, secrets, this.config.handshakeCrypto)));
  }

  /** Frame #0 is the peer's proof; any later frame in the same chunk is already session data. */
  private readonly onFrame = (plaintext: Uint8Array): void => {
    if (this.session !== undefined) {
      this.session.receiveFrame(plaintext);
      return;
    }
    const remote = verifyAuthMessage(plaintext, this.authContext!, this.config.handshakeCrypto);
    const expected = this.config.expectedPeerId;
    if (expected !== undefined && remote.nodeId !== expected) {
      throw new HandshakeError('ERR_WRONG_PEER_ID', `Dialled ${expected} but the peer proved to be ${remote.nodeId}`, {
        peerId: remote.nodeId,
        detail: { expectedPeerId: expected, actualPeerId: remote.nodeId },
      });
    }
    this.settle();
    this.session = new SecureLinkSession(this.link, this.decoder!, this.encoder!, this.config.identity.nodeId, remote);
    this.resolve(this.session);
  };

  private settle(): void {
    this.phase = HandshakePhase.Done;
    this.config.clock.clearTimeout(this.timer);
    this.config.signal?.removeEventListener('abort', this.onAbort);
    this.authContext = undefined;
  }

  private fail(cause: unknown): void {
    if (this.phase === HandshakePhase.Done) return;
    this.settle();
    this.decoder?.halt();
    const error = asHandshakeFailure(cause);
    this.link.destroy(error);
    this.reject(error);
  }
}

/** Keeps the promise's error types to the documented few; a frame error keeps its code. */
function asHandshakeFailure(cause: unknown): Error {
  if (cause instanceof HandshakeError || cause instanceof TimeoutError || cause instanceof AbortError) return cause;
  if (cause instanceof MeshlinkError) {
    return new HandshakeError(cause.code, `Secure handshake failed: ${cause.message}`, { cause, peerId: cause.peerId, detail: cause.detail });
  }
  return new HandshakeError('ERR_HANDSHAKE', `Secure handshake failed: ${toError(cause).message}`, { cause });
}

function abortError(signal: AbortSignal): AbortError {
  return new AbortError('Secure handshake aborted', { cause: signal.reason });
}

function noop(): void {}
