import { assertChannelId, hex } from '../conn/channel-descriptor.js';
import type { MConnection } from '../conn/mconnection.js';
import type { ConnectionStatus, SendOptions } from '../conn/mconnection-types.js';
import { SendError } from '../errors.js';
import type { NodeInfo } from './node-info.js';
import type { Direction } from './upgrade.js';
import type { SlotHolder } from '../transport/host-slots.js';

const NO_HOLDER: SlotHolder = Object.freeze({ host: undefined, network: undefined });

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
  /** Made on first use: many peers never get any. */
  private dataMap: Map<string | symbol, unknown> | undefined;

  constructor(
    readonly nodeInfo: NodeInfo,
    readonly direction: Direction,
    /** Dialled address (with id) for outbound peers; transport endpoint for inbound. */
    readonly address: string,
    readonly transport: string,
    readonly persistent: boolean,
    /** @internal */
    readonly connection: MConnection,
    /**
     * When the connection was established, in the switch clock's now() (wall-clock) ms: a timestamp to
     * show or store. How long a peer has stayed, and which peers are the oldest, read connectedAtMonotonic.
     */
    readonly connectedAt: number,
    /**
     * The host and network the peer counts in (per-host caps, eviction, peerNetworkGroup), fixed when it
     * arrived; a WebRTC peer's are its relay's (see arrivingPeerHolder).
     */
    readonly holder: SlotHolder = NO_HOLDER,
  ) {}

  /**
   * When the connection was established, on the switch clock's monotonicNow(): for intervals and ages
   * (eviction's oldest peers, whether a connection lasted), which a wall-clock step must not bend (after
   * a step back, peers arriving next would look older than all the others).
   * @internal
   */
  get connectedAtMonotonic(): number {
    return this.connection.startedAtMonotonicMs;
  }

  /** Per-peer state for agents (key by agent name or a symbol). Dropped when the peer goes. */
  get data(): Map<string | symbol, unknown> {
    return (this.dataMap ??= new Map());
  }

  /** The remote's recvMessageCapacity for `channelId`; undefined for a channel it did not declare. */
  private remoteCapacity(channelId: number): number | undefined {
    // A scan of the NodeInfo's few channels instead of a Map per peer.
    const index = this.nodeInfo.channels.indexOf(channelId);
    return index < 0 ? undefined : this.nodeInfo.recvMessageCapacities[index];
  }

  /**
   * What the peer announced it takes from us on `channelId` (messages a second, sustained and at once):
   * its word, unbounded here. Undefined when it announced none (an older node, or 0).
   */
  announcedRate(channelId: number): { perSecond: number; burst: number } | undefined {
    const index = this.nodeInfo.channels.indexOf(channelId);
    const perSecond = this.nodeInfo.recvMessagesPerSecond?.[index];
    const burst = this.nodeInfo.recvMessageBursts?.[index];
    return index < 0 || perSecond === undefined || burst === undefined || perSecond === 0 || burst === 0 ? undefined : { perSecond, burst };
  }

  get id(): string {
    return this.nodeInfo.id;
  }

  get isConnected(): boolean {
    return this.connection.state === 'open';
  }

  /**
   * Whether both ends declared `channelId` (we, through an agent; the peer, in its NodeInfo): only
   * then can a message go over it. False for ids outside 0..255.
   */
  hasChannel(channelId: number): boolean {
    return this.remoteCapacity(channelId) !== undefined && this.connection.hasChannel(channelId);
  }

  /**
   * The largest message `send`/`trySend` accept on `channelId` for this peer: the peer's
   * recvMessageCapacity for it (it would cut us for more). 0 when the channel is not shared.
   */
  maxMessageBytes(channelId: number): number {
    return this.hasChannel(channelId) ? this.remoteCapacity(channelId)! : 0;
  }

  /**
   * Queues a message, waiting (bounded by `timeoutMs`, default 10 s, or `signal`) for room.
   * Resolves true once queued; false on timeout or if the peer is gone. Rejects, without queueing,
   * with ConfigError ERR_INVALID_ARGUMENT for a channel id outside 0..255, SendError
   * ERR_UNKNOWN_CHANNEL for a channel both ends did not declare (`detail.missingOn`: 'local' |
   * 'remote'), SendError ERR_MESSAGE_TOO_LARGE over the peer's recvMessageCapacity, and AbortError
   * when `signal` fires. The buffer must not be modified afterwards: it is sent as it is when its
   * turn comes.
   */
  send(channelId: number, message: Uint8Array, options?: SendOptions): Promise<boolean> {
    try {
      this.checkSendable(channelId, message);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.connection.send(channelId, message, options);
  }

  /**
   * Queues a message if there is room right now; never waits. Returns false when the queue is full
   * or the peer is gone (try again later); throws, like `send` rejects, when the message can never
   * go: bad channel id, a channel both ends did not declare, a message over the peer's capacity.
   */
  trySend(channelId: number, message: Uint8Array): boolean {
    this.checkSendable(channelId, message);
    return this.connection.trySend(channelId, message);
  }

  private checkSendable(channelId: number, message: Uint8Array): void {
    assertChannelId(channelId);
    // A channel we lack is refused by the connection, with the same code and missingOn 'local'.
    if (!this.connection.hasChannel(channelId)) return;
    const capacity = this.remoteCapacity(channelId);
    if (capacity === undefined) {
      throw new SendError('ERR_UNKNOWN_CHANNEL', `Peer ${this.id.slice(0, 12)} did not declare channel 0x${hex(channelId)}`, {
        peerId: this.id,
        detail: { channelId, missingOn: 'remote' },
      });
    }
    if (message instanceof Uint8Array && message.length > capacity) {
      throw new SendError(
        'ERR_MESSAGE_TOO_LARGE',
        `Message of ${message.length} bytes exceeds peer ${this.id.slice(0, 12)}'s recvMessageCapacity ${capacity} on channel 0x${hex(channelId)}`,
        { peerId: this.id, detail: { channelId, size: message.length, limit: capacity } },
      );
    }
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
