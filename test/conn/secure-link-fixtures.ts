import { concatBytes } from '@noble/hashes/utils.js';
import { secureHandshake, type SecureHandshakeOptions, type SecureLink } from '../../src/conn/secure-link.js';
import { FrameDecoder, FrameEncoder } from '../../src/conn/secure-link-frame.js';
import { nobleChaCha20Poly1305 } from '../../src/crypto/aead.js';
import { HELLO_BYTES, MAX_FRAME_PAYLOAD_BYTES } from '../../src/crypto/constants.js';
import {
  createEphemeralKey,
  decodeHello,
  deriveSessionSecrets,
  encodeAuthMessage,
  encodeHello,
  verifyAuthMessage,
  type AuthContext,
} from '../../src/crypto/handshake.js';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import type { Link, LinkHandlers } from '../../src/transport/link.js';
import { createMemoryLinkPair, type MemoryLinkPairOptions } from '../../src/transport/memory.js';
import { within } from '../helpers/wait.js';

/** Test plumbing for SecureLink: link taps, a hand-driven peer, and collectors. Not a test file. */

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return concatBytes(...parts);
}

/**
 * Wraps a Link and lets a test see or rewrite every outgoing write: `rewrite` returns the chunks to
 * really send (none, the same, altered, doubled, or split).
 */
export class TapLink implements Link {
  writes: Uint8Array[] = [];
  rewrite: ((chunk: Uint8Array) => Uint8Array[]) | undefined;
  constructor(readonly inner: Link) {}
  get transport(): string {
    return this.inner.transport;
  }
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get bufferedBytes(): number {
    return this.inner.bufferedBytes;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  attach(handlers: LinkHandlers): void {
    this.inner.attach(handlers);
  }
  write(chunk: Uint8Array): boolean {
    this.writes.push(chunk);
    let ok = true;
    for (const piece of this.rewrite ? this.rewrite(chunk) : [chunk]) ok = this.inner.write(piece);
    return ok;
  }
  pause(): void {
    this.inner.pause();
  }
  resume(): void {
    this.inner.resume();
  }
  close(): void {
    this.inner.close();
  }
  destroy(error?: Error): void {
    this.inner.destroy(error);
  }
}

/** Splits each write into pieces of `size` bytes, so the other side sees them as separate chunks. */
export function splitInto(size: number): (chunk: Uint8Array) => Uint8Array[] {
  return (chunk) => {
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < chunk.length; i += size) pieces.push(chunk.slice(i, i + size));
    return pieces;
  };
}

export interface Collected {
  readonly chunks: Uint8Array[];
  readonly bytes: () => Uint8Array;
  readonly text: () => string;
  readonly closed: Promise<Error | undefined>;
  closeCount: number;
  drains: number;
}

/** Attaches to `link` and records what it delivers. */
export function collect(link: Link): Collected {
  let resolveClosed!: (error: Error | undefined) => void;
  const result: Collected = {
    chunks: [],
    bytes: () => concat(result.chunks),
    text: () => new TextDecoder().decode(concat(result.chunks)),
    closed: new Promise((resolve) => (resolveClosed = resolve)),
    closeCount: 0,
    drains: 0,
  };
  link.attach({
    onData: (chunk) => result.chunks.push(chunk),
    onDrain: () => result.drains++,
    onClose: (error) => {
      result.closeCount++;
      resolveClosed(error);
    },
  });
  return result;
}

export interface SecurePair {
  a: SecureLink;
  b: SecureLink;
  keyA: NodeKey;
  keyB: NodeKey;
  tapA: TapLink;
  tapB: TapLink;
}

/** Two SecureLinks over a memory pair; each side's underlying link is tapped. */
export async function securePair(
  options: { a?: Partial<SecureHandshakeOptions>; b?: Partial<SecureHandshakeOptions>; link?: MemoryLinkPairOptions } = {},
): Promise<SecurePair> {
  const [rawA, rawB] = createMemoryLinkPair(options.link);
  const tapA = new TapLink(rawA);
  const tapB = new TapLink(rawB);
  const keyA = options.a?.identity ?? generateNodeKey();
  const keyB = options.b?.identity ?? generateNodeKey();
  const [a, b] = await within(
    Promise.all([secureHandshake(tapA, { ...options.a, identity: keyA }), secureHandshake(tapB, { ...options.b, identity: keyB })]),
    5000,
    'secure handshake',
  );
  return { a, b, keyA, keyB, tapA, tapB };
}

/**
 * The remote side of a handshake driven by hand from the pure functions, so a test can choose
 * exactly which bytes go out in which chunk. Speaks the protocol correctly unless told otherwise.
 */
export class ManualPeer {
  readonly identity: NodeKey;
  readonly ephemeral = createEphemeralKey();
  private buffered: Uint8Array = new Uint8Array(0);
  private waiter: (() => void) | undefined;
  closedWith: Error | undefined | null = null;
  encoder: FrameEncoder | undefined;
  decoder: FrameDecoder | undefined;
  authContext: AuthContext | undefined;

  constructor(readonly link: Link, identity?: NodeKey) {
    this.identity = identity ?? generateNodeKey();
    link.attach({
      onData: (chunk) => {
        this.buffered = concat([this.buffered, chunk]);
        this.waiter?.();
      },
      onDrain: () => undefined,
      onClose: (error) => {
        this.closedWith = error;
        this.waiter?.();
      },
    });
  }

  hello(): Uint8Array {
    return encodeHello(this.ephemeral.publicKey);
  }

  async read(n: number): Promise<Uint8Array> {
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.buffered.length >= n || this.closedWith !== null) resolve();
        };
        this.waiter = check;
        check();
      }),
      5000,
      `${n} bytes from the peer under test`,
    );
    const out = this.buffered.slice(0, n);
    this.buffered = this.buffered.slice(n);
    return out;
  }

  /** Reads the other side's hello and derives the session; returns our auth frame, not yet sent. */
  async acceptHello(
    maxFramePayloadBytes = MAX_FRAME_PAYLOAD_BYTES,
    authPlaintext: (identity: NodeKey, context: AuthContext) => Uint8Array = encodeAuthMessage,
  ): Promise<Uint8Array> {
    const remote = decodeHello(await this.read(HELLO_BYTES));
    const secrets = deriveSessionSecrets(this.ephemeral, remote);
    this.authContext = secrets;
    this.encoder = new FrameEncoder(nobleChaCha20Poly1305(secrets.sendKey), maxFramePayloadBytes);
    this.decoder = new FrameDecoder(nobleChaCha20Poly1305(secrets.receiveKey), maxFramePayloadBytes);
    return this.encoder.encode(authPlaintext(this.identity, secrets));
  }

  /** Reads and checks the other side's auth frame. */
  async verifyAuth(): Promise<string> {
    const header = await this.read(4);
    const body = await this.read(new DataView(header.buffer).getUint32(0, false));
    let nodeId = '';
    const error = this.decoder!.push(concat([header, body]), (p) => (nodeId = verifyAuthMessage(p, this.authContext!).nodeId));
    if (error) throw error;
    return nodeId;
  }

  frame(text: string): Uint8Array {
    return this.encoder!.encode(new TextEncoder().encode(text));
  }
}
