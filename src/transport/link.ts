import type { MemoryAccount } from '../util/memory-budget.js';

/**
 * A Link is one duplex byte stream to one remote endpoint: a TCP socket, a WebSocket, a WebRTC data
 * channel, or an in-memory pipe. It is the only thing a transport hands upward; everything above a
 * Link is the same code in Node and in browsers.
 *
 * Contract:
 * - Bytes are delivered in order, without loss or duplication, while the link is open. Chunk
 *   boundaries carry no meaning (a stream, not messages).
 * - No data is delivered before `attach()`; bytes that arrive earlier wait (in the kernel, or in a
 *   transport buffer bounded by the transport's own flow control).
 * - `write()` never throws on a closed link; it returns false and the bytes are discarded, because
 *   `onClose` has told (or is about to tell) the owner.
 * - `onClose` fires exactly once, after which no other handler fires.
 */
export interface LinkHandlers {
  /** Bytes arrived. The receiver owns the chunk, unless it declares `retainsChunks: false`. */
  onData(chunk: Uint8Array): void;
  /**
   * False when `onData` reads its chunk only during the call and copies whatever it keeps: the link
   * may then lend it a view of a read buffer that it reuses for the next read (Node's TCP does, saving
   * an allocation and the stream machinery per read). @default true: every chunk is the receiver's.
   */
  readonly retainsChunks?: boolean;
  /** Buffered outgoing bytes fell back under the high-water mark after `write()` returned false. */
  onDrain(): void;
  /** The link is closed; `error` is set when it failed rather than ended. Fires once. */
  onClose(error?: Error): void;
  /**
   * The remote has finished sending (a TCP FIN) but can still read: what we queued may still be sent,
   * then `close()`. Fires at most once, after the last `onData`. Without this handler the link ends
   * its side at once, as if the owner had called `close()`.
   */
  onEnd?(): void;
}

export interface Link {
  /** Transport name: 'tcp', 'ws', 'webrtc', 'memory'. */
  readonly transport: string;
  /** The remote endpoint as the transport sees it (`127.0.0.1:26656`), for logs and the address book. */
  readonly remoteAddress: string;
  /**
   * Bytes queued for sending that the transport has not yet handed to the network; a link whose exact
   * figure is costly to read may give an upper bound (WebRTC), so 0 always means idle.
   */
  readonly bufferedBytes: number;
  /**
   * True when `write()` is done with its chunk by the time it returns (a SecureLink seals it into a
   * frame of its own): the writer may reuse that buffer at once. Absent: the link may keep the chunk.
   */
  readonly releasesWrittenChunk?: boolean;
  readonly closed: boolean;
  /** Set (or replace) the handlers. Delivery starts with the first call. */
  attach(handlers: LinkHandlers): void;
  /**
   * Queue bytes for sending. The link may keep a reference to `chunk` until written: do not mutate it
   * afterwards. Returns false when the buffered bytes are above the high-water mark: stop writing
   * until `onDrain`. `onReleased`, when the link can tell, is called once the link holds `chunk` no
   * more (written to the network, or dropped), so that the writer may reuse it; a link that cannot
   * tell never calls it, and must not call it any earlier.
   */
  write(chunk: Uint8Array, onReleased?: () => void): boolean;
  /**
   * For a link that holds what arrives while paused in memory rather than in the kernel (a page's
   * WebSocket, a data channel): charge it to `account`, the Switch's node-wide budget for peers. Called
   * by the Switch once, when the link reaches it; the account may destroy the link.
   */
  useMemoryAccount?(account: MemoryAccount): void;
  /**
   * True when `pause()` cannot stop the remote from sending: what arrives meanwhile waits in memory, and
   * past a bound costs the link (a page's WebSocket, a data channel). Absent: bytes wait in the kernel
   * and the remote is slowed. A short pause to share the node's receive work among peers (ReceiveTurns)
   * is taken only where it slows the remote; elsewhere it would cut a fast honest peer.
   */
  readonly pauseHoldsInMemory?: boolean;
  /** Stop delivering data (read backpressure); bytes wait in the kernel or the transport. */
  pause(): void;
  resume(): void;
  /** Graceful: send what is buffered, then end the stream. `onClose` follows. */
  close(): void;
  /** Immediate: drop buffered bytes and close. `onClose(error)` follows. */
  destroy(error?: Error): void;
}
