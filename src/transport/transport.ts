import type { Link } from './link.js';
import type { PeerAddress } from './address.js';

export interface DialOptions {
  /** Aborts the dial; the transport must release any half-open socket. */
  signal?: AbortSignal;
}

export interface Listener {
  /** Addresses actually bound (port 0 resolved), without node id: `tcp://127.0.0.1:40123`. */
  readonly addresses: readonly PeerAddress[];
  /** Stops accepting; links already accepted stay open. */
  close(): Promise<void>;
}

/**
 * A Transport turns addresses into Links. It knows nothing of keys, channels or peers.
 * Transports are registered on a Switch by the protocols they claim.
 */
export interface Transport {
  /** Address protocols this transport dials and listens on, e.g. ['tcp']. */
  readonly protocols: readonly string[];
  /** Opens a Link to `address`. Rejects with TransportError, TimeoutError or AbortError. */
  dial(address: PeerAddress, options?: DialOptions): Promise<Link>;
  /**
   * Starts accepting on `address` (optional for transports that only dial, e.g. a browser's WebSocket
   * client). Each accepted Link goes to `onLink`; the callee takes ownership.
   */
  listen?(address: PeerAddress, onLink: (link: Link) => void): Promise<Listener>;
  /** Releases global resources (servers shared between listeners, timers). Idempotent. */
  close?(): Promise<void>;
}
