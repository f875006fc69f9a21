import type { MConnection, ConnectionStatus, SendOptions } from '../conn/mconnection.js';
import type { NodeInfo } from './node-info.js';
import type { Direction } from './upgrade.js';

export interface PeerStatus extends ConnectionStatus {
  id: string;
  moniker: string;
  /** The address we dialled, or the remote endpoint for inbound peers. */
  address: string;
  direction: Direction;
  transport: string;
  persistent: boolean;
}

/**
 * A connected, authenticated peer. Agents get the same Peer object in addPeer, receive and removePeer,
 * so it can be used as a Map/WeakMap key; `data` holds per-peer agent state and disappears with it.
 */
export class Peer {
  /** Per-peer state for agents (key by agent name or a symbol). Dropped when the peer goes. */
  readonly data = new Map<string | symbol, unknown>();

  constructor(
    readonly nodeInfo: NodeInfo,
    readonly direction: Direction,
    /** Dialled address (with id) for outbound peers; transport endpoint for inbound. */
    readonly address: string,
    readonly transport: string,
    readonly persistent: boolean,
    /** @internal */
    readonly connection: MConnection,
    /** When the connection was established, in the switch clock's ms. */
    readonly connectedAt: number,
  ) {}

  get id(): string {
    return this.nodeInfo.id;
  }

  get isConnected(): boolean {
    return this.connection.state === 'open';
  }

  /** Whether the peer declared `channelId` in its NodeInfo. */
  hasChannel(channelId: number): boolean {
    return this.nodeInfo.channels.includes(channelId);
  }

  /**
   * Queues a message, waiting (bounded by `timeoutMs`, default 10 s, or `signal`) for room.
   * Resolves true once queued, false on timeout or if the peer is gone. The buffer must not be
   * modified afterwards: it is sent as it is when its turn comes.
   */
  send(channelId: number, message: Uint8Array, options?: SendOptions): Promise<boolean> {
    return this.connection.send(channelId, message, options);
  }

  /** Queues a message if there is room right now; never waits. */
  trySend(channelId: number, message: Uint8Array): boolean {
    return this.connection.trySend(channelId, message);
  }

  status(): PeerStatus {
    return {
      id: this.id,
      moniker: this.nodeInfo.moniker,
      address: this.address,
      direction: this.direction,
      transport: this.transport,
      persistent: this.persistent,
      ...this.connection.status(),
    };
  }

  toString(): string {
    return `Peer{${this.id.slice(0, 12)} ${this.direction} ${this.address}}`;
  }
}
