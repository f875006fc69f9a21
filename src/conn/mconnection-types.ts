import type { ChannelStatus } from './channel.js';

/** The shapes an MConnection is given and reports: what the Switch and the public API name. */

export interface MConnectionHandlers {
  /**
   * A whole message arrived on a known channel. The receiver owns `message` (its bytes are never
   * reused), but a small one is a view into a buffer shared with other received messages: use
   * `message.byteOffset`/`byteLength` with `message.buffer`, and copy it if it is kept for long.
   */
  onMessage(channelId: number, message: Uint8Array): void;
  /** The connection is closed; `error` says why when it failed. Fires exactly once. */
  onClose(error?: Error): void;
  /**
   * The link itself has closed. After a `destroy` that tells the peer why, that can be up to
   * CLOSE_REASON_LINGER_MS after `onClose`, while the peer reads the reason (see `linkOpen`).
   */
  onLinkClosed?(): void;
}

export interface SendOptions {
  /** Rejects the wait with AbortError. */
  signal?: AbortSignal;
  /** How long to wait for queue room before resolving false. @default config.sendTimeoutMs */
  timeoutMs?: number;
}

export type MConnectionState = 'open' | 'closing' | 'closed';

export interface ConnectionStatus {
  state: MConnectionState;
  uptimeMs: number;
  sentBytes: number;
  /**
   * Most bytes a second this connection sends (0 = unlimited): our `sendRateBytesPerSec`, or less when
   * the peer announced it reads less (each frame counted as at least 1 KiB, each message 128 B).
   */
  sendRateBytesPerSec: number;
  receivedBytes: number;
  /** Bytes handed to the link but not yet on the network. */
  linkBufferedBytes: number;
  /** Round trip of the last answered ping, in ms; undefined before the first pong. */
  lastPingRttMs: number | undefined;
  channels: ChannelStatus[];
}
