import { sharedMConnectionConfig } from '../conn/config.js';
import { MConnection } from '../conn/mconnection.js';
import { ReceiveTurns } from '../conn/receive-turns.js';
import { ClosedError, MeshlinkError, PeerRejectedError } from '../errors.js';
import type { BudgetAccount } from '../util/budget-account.js';
import type { AgentRegistry } from './agent-registry.js';
import { MAX_EVICTED_LINGERING } from './constants.js';
import type { ResolvedSwitchOptions } from './config.js';
import { resolveWildcardHosts } from './node-info.js';
import { arrivingPeerHolder } from './inbound-eviction.js';
import type { RelayHolderLookup } from '../transport/host-slots.js';
import { Peer } from './peer.js';
import type { Router } from './router.js';
import { pacedSendRate } from './send-pacing.js';
import type { SwitchEvents } from './switch-events.js';
import type { Direction, UpgradedLink } from './upgrade.js';

/** What the registry needs of its Switch. */
export interface PeerRegistryContext {
  readonly options: ResolvedSwitchOptions;
  readonly router: Router;
  readonly agents: AgentRegistry;
  emit<K extends keyof SwitchEvents & string>(type: K, detail: SwitchEvents[K]): void;
  stopPeerForError(peer: Peer, error: unknown): void;
  /** A peer is gone and every agent has heard of it. */
  onPeerGone(peer: Peer): void;
}

/**
 * The connected peers of a Switch, one per node id, and the order in which a peer's arrival and
 * departure are told: agents first, then the Switch's events. Bounded by the Switch's limits: a peer
 * gets here only through admission (inbound) or the dialer (outbound).
 */
export class PeerRegistry {
  private readonly byId = new Map<string, Peer>();
  /** A connected peer's holder by id: where a WebRTC link's relay counts (arrivingPeerHolder). */
  readonly relayHolder: RelayHolderLookup = (relayId) => this.byId.get(relayId)?.holder;
  /**
   * Links of departed peers still closing (cut with a reason the peer may read for up to
   * CLOSE_REASON_LINGER_MS): they count against the limits until they close, so peers that are cut
   * and never hang up cannot hold more links than the limits allow.
   */
  private readonly closing = { inbound: 0, outbound: 0 };
  /** Peers cut by `evict` (a Peer object leaves the registry, and with it this set, once it is gone). */
  private readonly evicted = new WeakSet<Peer>();
  /** Of the closing inbound links, those of evicted peers: their slots already went to newcomers. */
  private evictedLingering = 0;

  /** What each connection may hand on in a turn while others receive too (src/conn/receive-turns.ts). */
  private readonly receiveTurns: ReceiveTurns;

  constructor(private readonly context: PeerRegistryContext) {
    this.receiveTurns = new ReceiveTurns(context.options.clock);
  }

  get(id: string): Peer | undefined {
    return this.byId.get(id);
  }

  list(): Peer[] {
    return [...this.byId.values()];
  }

  /** Established peers by direction, and departed ones whose links are still closing. */
  counts(): { inbound: number; outbound: number } {
    let inbound = this.closing.inbound;
    let outbound = this.closing.outbound;
    for (const peer of this.byId.values()) {
      if (peer.direction === 'inbound') inbound++;
      else outbound++;
    }
    return { inbound, outbound };
  }

  /** Inbound slots taken: established peers and closing links, less evicted peers still closing. */
  inboundTaken(): number {
    return this.counts().inbound - this.evictedLingering;
  }

  /**
   * Cuts an inbound peer to give its slot to a newcomer (`reason` tells it why); false when too many
   * evicted peers are still reading their close reason, so that evictions cannot stack links past the
   * limit without bound.
   */
  evict(peer: Peer, reason: Error): boolean {
    if (this.evictedLingering >= MAX_EVICTED_LINGERING || this.byId.get(peer.id) !== peer) return false;
    this.evicted.add(peer);
    peer.connection.destroy(reason);
    return true;
  }

  /** Starts a peer: agents hear of it before any of its messages can arrive. */
  add(upgraded: UpgradedLink, direction: Direction, address: string, transport: string, persistent: boolean, memory: BudgetAccount): Peer {
    const { options, router, agents } = this.context;
    const existing = this.byId.get(upgraded.remoteInfo.id);
    if (existing !== undefined) {
      upgraded.link.destroy(new PeerRejectedError('ERR_DUPLICATE_PEER', 'already connected', { peerId: existing.id }));
      return existing;
    }
    let peer: Peer | undefined;
    // While agents and listeners hear of the arrival, one of them may drop the peer (PEX closes a
    // feeler from addPeer): its departure is told once all have heard of its arrival, never before,
    // so that whatever they keep for it is dropped too.
    let arriving = true;
    let departure: { reason: Error | undefined } | undefined;
    let lingering = false;
    let evictedLingering = false;
    const depart = (reason: Error | undefined): void => {
      if (!this.remove(peer!, reason) || !connection.linkOpen) return;
      lingering = true;
      this.closing[direction]++;
      if (this.evicted.has(peer!)) {
        evictedLingering = true;
        this.evictedLingering++;
      }
    };
    // One per peer, not one per message: an agent's rejected receive costs the peer its connection.
    const stopForRejectedMessage = (error: unknown): void => this.context.stopPeerForError(peer!, error);
    const connection = new MConnection(
      upgraded.link,
      router.channels,
      {
        onMessage: (channelId, message) => router.route(peer!, channelId, message, stopForRejectedMessage, memory),
        onClose: (error) => {
          // Errors raised below the Switch (packets, channels) do not know the peer: name it here.
          const reason = error instanceof MeshlinkError && error.peerId === undefined ? error.withPeer(peer!.id) : error;
          if (arriving) departure = { reason };
          else depart(reason);
        },
        onLinkClosed: () => {
          if (!lingering) return;
          lingering = false;
          this.closing[direction]--;
          if (evictedLingering) this.evictedLingering--;
          evictedLingering = false;
        },
      },
      options.connection,
      options.clock,
      memory,
      pacedSendRate(sharedMConnectionConfig(options.connection).sendRateBytesPerSec, upgraded.remoteInfo.recvBytesPerSecond),
      upgraded.link.pauseHoldsInMemory === true ? undefined : this.receiveTurns,
    );
    const holder = arrivingPeerHolder(upgraded.link.remoteAddress, direction, address, this.relayHolder);
    peer = new Peer(resolveWildcardHosts(upgraded.remoteInfo, upgraded.link.remoteAddress), direction, address, transport, persistent, connection, options.clock.now(), holder);
    // Cut by the node-wide memory budget as a peer from now on: told why, reported as its error. Also
    // while closing gracefully: its queues must go now, as the budget counts on (stopPeerForError would not).
    memory.onCut = (error) => connection.destroy(error);
    this.byId.set(peer.id, peer);
    agents.peerAdded(peer);
    this.context.emit('peer:connected', { peer });
    arriving = false;
    if (departure !== undefined) depart(departure.reason);
    else connection.start(upgraded.leftover);
    return peer;
  }

  /** False if the peer was not here (any more). */
  private remove(peer: Peer, reason: Error | undefined): boolean {
    if (this.byId.get(peer.id) !== peer) return false;
    this.byId.delete(peer.id);
    this.context.router.forgetPeer(peer);
    if (reason !== undefined && !(reason instanceof ClosedError)) this.context.emit('peer:error', { peer, error: reason });
    this.context.agents.peerRemoved(peer, reason);
    this.context.emit('peer:disconnected', { peer, reason });
    this.context.onPeerGone(peer);
    return true;
  }
}
