import { ClosedError, PeerRejectedError, TimeoutError, toError } from '../errors.js';
import { DUPLICATE_PROBE_TIMEOUT_MS } from './constants.js';
import { inboundHostGroup, peerNetworkGroup, pickInboundToEvict } from './inbound-eviction.js';
import { HostSlots, slotHolderOf, type RelayHolderLookup, type SlotHolder } from '../transport/host-slots.js';
import type { Link } from '../transport/link.js';
import type { Dialer } from './dialer.js';
import type { NodeInfo } from './node-info.js';
import type { Peer } from './peer.js';
import type { Switch } from './switch.js';
import { upgradeLink, type AdmissionDecision } from './upgrade.js';

type Refusal = Exclude<AdmissionDecision, { accept: true }>;

/** An inbound peer admitted and being set up; `done` settles when that ends, as a Peer or not. */
interface Admission {
  readonly done: Promise<void>;
  readonly end: () => void;
}

function newAdmission(): Admission {
  let end!: () => void;
  const done = new Promise<void>((resolve) => (end = resolve));
  return { done, end };
}

/** A link handshaking now: its host group and network (undefined when the transport names none) and its abort. */
interface PendingLink {
  readonly holder: SlotHolder;
  readonly controller: AbortController;
}

/**
 * The accept path of a Switch: how many links may handshake at once (in all, and from one IP address so
 * that one host's silent connections cannot starve everyone else's), the admission rule the acceptor
 * decides alone, and the inbound peers admitted but not yet started (counted against limits and
 * duplicates until the Switch has them).
 */
export class Acceptor {
  /** Links handshaking now, oldest first; at most maxPendingInbound. */
  private readonly pendingLinks = new Set<PendingLink>();
  /** Bounded by maxPendingInbound: an entry exists only while one of its links is pending. */
  private readonly pendingByHost = new HostSlots();
  /** A WebRTC link counts where its relay, a connected peer, does (slotHolderOf). */
  private readonly relays: RelayHolderLookup = (relayId) => this.sw.getPeer(relayId)?.holder;
  /** Bounded by maxPendingInbound: an entry exists only while its link is pending. */
  private readonly admitted = new Map<string, Admission>();
  /** Connected peers whose key is connecting again, while we ping the old connection (≤ one per peer). */
  private readonly probing = new Set<string>();

  constructor(
    private readonly sw: Switch,
    private readonly dialer: Dialer,
  ) {}

  /** Inbound peers accepted but not yet started. */
  get admittedCount(): number {
    return this.admitted.size;
  }

  /** Whether an inbound connection from `peerId` is admitted and being set up. */
  isAdmitting(peerId: string): boolean {
    return this.admitted.has(peerId);
  }

  /**
   * Settles when the inbound connection from `peerId` now being set up has become a Peer or failed
   * (bounded by its handshake deadline); undefined when none is.
   */
  admissionOf(peerId: string): Promise<void> | undefined {
    return this.admitted.get(peerId)?.done;
  }

  /** A transport's listener handed us a raw link: upgrade it, or drop it at once when over a cap. */
  onLink(link: Link): void {
    const { options } = this.sw;
    const holder = slotHolderOf(link.remoteAddress, this.relays);
    if (!this.sw.isRunning || this.pendingByHost.held(holder.host) >= options.maxPendingInboundPerHost || (this.pendingLinks.size >= options.maxPendingInbound && !this.makeRoomFor(holder))) {
      link.destroy();
      return;
    }
    this.pendingByHost.take(holder);
    let admittedId: string | undefined;
    let settled = false;
    const controller = this.sw.trackInFlight();
    const pendingLink: PendingLink = { holder, controller };
    this.pendingLinks.add(pendingLink);
    const memory = this.sw.meterLink(link);
    const upgrade = this.sw.upgradeOptions('inbound', controller.signal);
    upgrade.admit = async (remote) => {
      const decision = await this.admit(remote, link.remoteAddress);
      if (!decision.accept) return decision;
      // The upgrade may have ended (deadline, stop) while admission waited on our own dial: the slot
      // is then nobody's, so it is given back at once instead of held for ever.
      if (settled) this.endAdmission(remote.id);
      else admittedId = remote.id;
      return decision;
    };
    upgradeLink(link, upgrade)
      .then((upgraded) => {
        const admission = this.admitted.get(upgraded.remoteInfo.id);
        this.admitted.delete(upgraded.remoteInfo.id);
        admittedId = undefined;
        try {
          if (!this.sw.isRunning) {
            upgraded.link.destroy(new ClosedError('Switch stopped'));
            return;
          }
          this.sw.addPeer(upgraded, 'inbound', link.remoteAddress, link.transport, false, memory);
        } finally {
          // After addPeer: whoever waits on the admission finds the Peer.
          admission?.end();
        }
      })
      .catch((error: unknown) => this.sw.emitInboundRejected(link.remoteAddress, toError(error)))
      .finally(() => {
        settled = true;
        this.sw.untrackInFlight(controller);
        this.release(pendingLink);
        if (admittedId !== undefined) this.endAdmission(admittedId);
      });
  }

  /**
   * The pending pool is full: the oldest pending link of the busiest host of the busiest network gives
   * way to a newcomer from a network holding fewer, or from a host of that network holding fewer (false:
   * none does; see HostSlots.busiest). Dropping newcomers instead let a few hosts' silent connections,
   * renewed every handshake timeout, lock every new peer out for free; now they must outpace honest
   * handshakes of their own network, and cannot push out other networks' at all.
   */
  private makeRoomFor(newcomer: SlotHolder): boolean {
    const busiest = this.pendingByHost.busiest(newcomer);
    if (busiest === undefined) return false;
    for (const pending of this.pendingLinks) {
      if (pending.holder.host !== busiest) continue;
      this.release(pending);
      pending.controller.abort(new PeerRejectedError('ERR_PEER_LIMIT', `Pending handshakes full (${this.sw.options.maxPendingInbound}): the oldest of the busiest host gave way`));
      return true;
    }
    return false;
  }

  /** Gives a pending link's slots back, once (on eviction, then again when its upgrade settles). */
  private release(pending: PendingLink): void {
    if (!this.pendingLinks.delete(pending)) return;
    this.pendingByHost.give(pending.holder);
  }

  /**
   * The acceptor's admission rule. When both nodes dial each other at once, the connection dialled by
   * the node with the lower id wins on both ends; if our own (winning) dial is still in flight we wait
   * for it, so that a failed dial does not leave both sides without a connection. A key we are connected
   * to is admitted only if its old connection has gone silent (hasGoneSilent).
   */
  private async admit(remote: NodeInfo, remoteAddress: string): Promise<AdmissionDecision> {
    const refuse = (code: Refusal['code'], reason: string): AdmissionDecision => ({ accept: false, code, reason });
    const sw = this.sw;
    if (remote.id === sw.nodeId) return refuse('ERR_SELF_CONNECTION', 'connected to itself');
    if (sw.bans.isBanned(remote.id)) return refuse('ERR_BANNED', 'banned');
    const ourDial = this.dialer.pendingDialTo(remote.id);
    if (ourDial !== undefined && sw.nodeId < remote.id) {
      const ourDialWon = await ourDial.then(() => true, () => false);
      if (ourDialWon) return refuse('ERR_DUPLICATE_PEER', 'already connected (simultaneous dial: lower id dials)');
      // The wait may have been long (up to our dial's deadline): ask again.
      if (sw.bans.isBanned(remote.id)) return refuse('ERR_BANNED', 'banned');
    }
    if (this.admitted.has(remote.id) || this.probing.has(remote.id)) return refuse('ERR_DUPLICATE_PEER', 'already connected');
    const existing = sw.getPeer(remote.id);
    if (existing !== undefined) {
      if (!(await this.hasGoneSilent(existing))) return refuse('ERR_DUPLICATE_PEER', 'already connected');
      // The probe took a while: ask again.
      if (sw.bans.isBanned(remote.id)) return refuse('ERR_BANNED', 'banned');
      if (sw.getPeer(remote.id) !== undefined || this.admitted.has(remote.id)) return refuse('ERR_DUPLICATE_PEER', 'already connected');
    }
    if (sw.inboundTaken() >= sw.options.maxInbound && !this.dialer.isPersistent(remote.id) && !this.evictFor(remoteAddress)) {
      return refuse('ERR_PEER_LIMIT', `inbound limit ${sw.options.maxInbound} reached`);
    }
    if (!sw.isRunning) return refuse('ERR_PEER_LIMIT', 'node is stopping');
    this.admitted.set(remote.id, newAdmission());
    return { accept: true };
  }

  /**
   * The key of `existing` connects again (see DUPLICATE_PROBE_TIMEOUT_MS): true, with the old connection
   * cut, when it answers no ping in time or ends meanwhile; false when it answers.
   */
  private async hasGoneSilent(existing: Peer): Promise<boolean> {
    // Closing gracefully (`disconnect`): it is flushing what was accepted for the peer and goes within
    // closeTimeoutMs; cut for a newcomer, that tail would be lost. The newcomer is refused as before.
    if (existing.connection.state === 'closing') return false;
    const timeoutMs = Math.min(DUPLICATE_PROBE_TIMEOUT_MS, this.sw.options.connection.pongTimeoutMs ?? DUPLICATE_PROBE_TIMEOUT_MS);
    this.probing.add(existing.id);
    try {
      if (await existing.connection.probe(timeoutMs)) return false;
    } finally {
      this.probing.delete(existing.id);
    }
    const reason = new TimeoutError(`Replaced: the peer connected again and this connection answered no ping within ${timeoutMs} ms`, {
      code: 'ERR_PONG_TIMEOUT',
      detail: { pongTimeoutMs: timeoutMs },
      peerId: existing.id,
    });
    // A TimeoutError is told to nobody (closePacketFor): the old link goes at once, and its inbound slot
    // with it, so at a full node the newcomer takes that slot, refusing or evicting no one.
    this.sw.stopPeerForError(existing, reason);
    return true;
  }

  /** Every inbound slot is taken: cuts the peer `pickInboundToEvict` names for a newcomer from `remoteAddress`, if any. */
  private evictFor(remoteAddress: string): boolean {
    const sw = this.sw;
    const inbound = sw.peers.filter((peer) => peer.direction === 'inbound').map((peer) => ({ peer, group: peerNetworkGroup(peer) }));
    const victim = pickInboundToEvict(inbound, inboundHostGroup(remoteAddress, this.relays), sw.options.maxInbound, (peer) => peer.persistent || this.dialer.isPersistent(peer.id));
    if (victim === undefined) return false;
    const reason = new PeerRejectedError('ERR_PEER_LIMIT', `Evicted: inbound slots are full and a peer from a less represented network arrived`, { peerId: victim.id });
    return sw.evictInbound(victim, reason);
  }

  private endAdmission(peerId: string): void {
    this.admitted.get(peerId)?.end();
    this.admitted.delete(peerId);
  }
}
