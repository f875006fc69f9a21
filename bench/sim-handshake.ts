/**
 * SIMULATION ONLY: a plaintext stand-in for the secure handshake, passed to simulated Switches through
 * the internal `secureHandshake` option. Each side sends its node id (40 hex characters) and takes the
 * other's at its word: no keys, no signatures, no encryption. That is what makes ten thousand nodes fit
 * in one process (an X25519 agreement, an ed25519 signature and a verification per connection, plus an
 * AEAD seal per frame, are most of a real connection's CPU). The simulator studies who connects to
 * whom; the real handshake has its own tests and every other test uses it.
 */
import type { SecureHandshakeOptions, SecureLink } from '../src/conn/secure-link.js';
import type { NodeKey } from '../src/crypto/keys.js';
import { AbortError, HandshakeError, TimeoutError } from '../src/errors.js';
import type { Link, LinkHandlers } from '../src/transport/link.js';
import { systemClock } from '../src/util/clock.js';

const NODE_ID_CHARS = 40;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function simulatedHandshake(link: Link, options: SecureHandshakeOptions): Promise<SecureLink> {
  const clock = options.clock ?? systemClock;
  return new Promise<SecureLink>((resolve, reject) => {
    let received = new Uint8Array(0);
    let done = false;
    const finish = (error: Error | undefined, remoteNodeId?: string, leftover?: Uint8Array): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error !== undefined) {
        link.destroy(error);
        reject(error);
        return;
      }
      link.pause();
      resolve(new SimulatedSecureLink(link, options.identity.nodeId, remoteNodeId!, leftover!));
    };
    const onAbort = (): void => finish(new AbortError('Simulated handshake aborted'));
    const timer = clock.setTimeout(() => finish(new TimeoutError(`Simulated handshake timed out after ${options.timeoutMs ?? 0} ms`)), options.timeoutMs ?? 20_000);
    if (options.signal?.aborted === true) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    link.attach({
      onData: (chunk) => {
        const joined = new Uint8Array(received.length + chunk.length);
        joined.set(received);
        joined.set(chunk, received.length);
        received = joined;
        if (received.length < NODE_ID_CHARS) return;
        const remoteNodeId = textDecoder.decode(received.subarray(0, NODE_ID_CHARS));
        const expected = options.expectedPeerId?.toLowerCase();
        if (expected !== undefined && remoteNodeId !== expected) {
          finish(new HandshakeError('ERR_WRONG_PEER_ID', `Dialled ${expected} but the peer is ${remoteNodeId}`, { peerId: remoteNodeId }));
          return;
        }
        finish(undefined, remoteNodeId, received.slice(NODE_ID_CHARS));
      },
      onDrain: () => undefined,
      onClose: (error) => finish(new HandshakeError('ERR_HANDSHAKE', 'Link closed during the simulated handshake', { cause: error })),
    });
    link.write(textEncoder.encode(options.identity.nodeId));
  });
}

/** The raw link, passed through, with the peer's claimed id and the bytes that came after its hello. */
class SimulatedSecureLink implements SecureLink {
  readonly remotePublicKey = new Uint8Array(32);
  private pending: Uint8Array | undefined;
  private paused = false;

  constructor(
    private readonly link: Link,
    readonly localNodeId: string,
    readonly remoteNodeId: string,
    leftover: Uint8Array,
  ) {
    this.pending = leftover.length > 0 ? leftover : undefined;
  }

  get transport(): string {
    return this.link.transport;
  }
  get remoteAddress(): string {
    return this.link.remoteAddress;
  }
  get bufferedBytes(): number {
    return this.link.bufferedBytes;
  }
  get closed(): boolean {
    return this.link.closed;
  }

  attach(handlers: LinkHandlers): void {
    // Bytes that came with the hello go first, then the link (paused since the hello) flows again.
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) queueMicrotask(() => (this.link.closed ? undefined : handlers.onData(pending)));
    this.link.attach(handlers);
    if (!this.paused) this.link.resume();
  }

  write(chunk: Uint8Array): boolean {
    return this.link.write(chunk);
  }
  pause(): void {
    this.paused = true;
    this.link.pause();
  }
  resume(): void {
    this.paused = false;
    this.link.resume();
  }
  close(): void {
    this.link.close();
  }
  destroy(error?: Error): void {
    this.link.destroy(error);
  }
}

/** A seeded identity for simulated nodes: the handshake above never signs, so no key pair is made. */
export function simulatedNodeKey(random: () => number): NodeKey {
  let nodeId = '';
  for (let i = 0; i < NODE_ID_CHARS; i++) nodeId += Math.floor(random() * 16).toString(16);
  return {
    nodeId,
    publicKey: new Uint8Array(32),
    sign: () => {
      throw new Error('A simulated node key cannot sign (it is used only with the simulated handshake)');
    },
    exportSecret: () => new Uint8Array(32),
  };
}
