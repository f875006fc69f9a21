import type { Peer } from '../switch/peer.js';
import type { Switch } from '../switch/switch.js';
import type { AddressBook } from './address-book.js';
import type { PexConfig } from './config.js';
import { peerNetworkGroup } from '../switch/inbound-eviction.js';
import { connectedPeerGroup, networkGroupOf, networkWaits, relayedGroupOf, type DialPlanContext } from './pex-dial-planner.js';
import type { PexDialer } from './pex-dialer.js';
import type { HangUpList, PexPeerState } from './pex-peers.js';

/** Picks from the book before a feeler round gives up (busy, banned or undialable addresses). */
const FEELER_PICK_ATTEMPTS = 8;

/**
 * The PEX agent's outbound side as its dial decisions see it: how many outbound slots are taken (peers,
 * the switch's dials, our dials waiting out their jitter), where those peers and dials came from, and
 * which nodes must not be dialled now (connected, being dialled, a seed, lately hung up on us, banned,
 * or over a transport we lack). The same rules serve a round's plan and a feeler's target. And which
 * of those peers are the anchors to dial first at the next start.
 */
export class PexOutboundView {
  constructor(
    private readonly sw: Switch,
    private readonly dialer: PexDialer,
    private readonly book: AddressBook,
    private readonly config: PexConfig,
    private readonly random: () => number,
    private readonly now: () => number,
    /** The agent's time that never steps, which the hang-ups are kept on. */
    private readonly paceNow: () => number,
    /** The agent's connected peers: read, never changed. */
    private readonly peerStates: ReadonlyMap<Peer, PexPeerState>,
    private readonly seedIds: ReadonlySet<string>,
    private readonly hangUps: HangUpList,
  ) {}

  /** Connected outbound peers, the switch's dials in flight, and our dials still waiting out their jitter. */
  outboundCount(counts = this.sw.peerCounts()): number {
    return counts.outbound + counts.dialing + this.dialer.waitingCount;
  }

  /** What planDials and planCrawl decide from, now, with `outbound` slots taken. */
  planContext(outbound: number): DialPlanContext {
    const sw = this.sw;
    const dialer = this.dialer;
    const nowMs = this.now();
    const paceNowMs = this.paceNow();
    const outboundSources: (string | undefined)[] = [];
    const outboundGroups: string[] = [];
    // As the Switch groups the pages a relay introduces (slotHolderOf): a relay naming no network is its own.
    const relayNetwork = (relayId: string): string | undefined => {
      const relay = sw.getPeer(relayId);
      return relay === undefined ? undefined : (peerNetworkGroup(relay) ?? `via:${relayId}`);
    };
    for (const dial of dialer.pendingPeerDials()) {
      outboundSources.push(dial.source);
      outboundGroups.push(relayedGroupOf(dial.address, networkGroupOf(dial.address), relayNetwork));
    }
    for (const [peer, state] of this.peerStates) {
      if (peer.direction !== 'outbound' || state.feeler) continue;
      outboundSources.push(state.source);
      outboundGroups.push(connectedPeerGroup(peer, peer.address));
    }
    return {
      book: this.book,
      config: this.config,
      nowMs,
      random: this.random,
      maxOutbound: sw.options.maxOutbound,
      outbound,
      outboundSources,
      outboundGroups,
      trustedSources: this.seedIds,
      isBusy: (nodeId) => this.isBusy(nodeId, paceNowMs),
      hungUp: (nodeId) => this.hangUps.has(nodeId, paceNowMs),
      isBanned: (address) => sw.bans.isBanned(address),
      networkWaitMs: (info) => dialer.failingNetworks.groupWaitMs(info.group, paceNowMs),
      canDial: (protocol) => this.canDial(protocol),
      isConnected: (nodeId) => sw.getPeer(nodeId) !== undefined,
      relayNetwork,
      seedCanHelp: dialer.seedsAnswer(this.config.seeds.length),
    };
  }

  /**
   * The address for a feeler (see AddressBook.pickFeelerAddress), skipping busy, banned and undialable
   * ones; undefined when the book offers none or FEELER_PICK_ATTEMPTS picks found none.
   */
  feelerAddress(): string | undefined {
    const paceNowMs = this.paceNow();
    for (let attempt = 0; attempt < FEELER_PICK_ATTEMPTS; attempt++) {
      const address = this.book.pickFeelerAddress();
      if (address === undefined) return undefined;
      const info = this.book.get(address);
      if (info === undefined || this.isBusy(info.nodeId, paceNowMs) || this.sw.bans.isBanned(address)) continue;
      if (networkWaits({ networkWaitMs: (entry) => this.dialer.failingNetworks.groupWaitMs(entry.group, paceNowMs) }, info)) continue;
      if (!this.canDial(address.slice(0, address.indexOf('://')))) continue;
      return address;
    }
    return undefined;
  }

  /** The outbound peers now, as the anchors to dial first at the next start (at most maxAnchors). */
  anchors(): string[] {
    const anchors: string[] = [];
    for (const [peer, state] of this.peerStates) {
      if (peer.direction !== 'outbound' || state.feeler || this.seedIds.has(peer.id) || !this.book.has(peer.address)) continue;
      anchors.push(peer.address);
    }
    return anchors.slice(0, this.config.maxAnchors);
  }

  /** The last run's anchors (at most maxAnchors) that neither the book nor the switch bans. */
  anchorsToDial(): string[] {
    return this.book.anchors().slice(0, this.config.maxAnchors).filter((anchor) => !this.book.isBanned(anchor) && !this.sw.bans.isBanned(anchor));
  }

  /** Connected, being dialled, a seed (seeds have their own path), or recently hung up on us. */
  /** `paceNowMs`: on paceNow's scale, as the hang-ups are. */
  private isBusy(nodeId: string, paceNowMs: number): boolean {
    return this.sw.getPeer(nodeId) !== undefined || this.dialer.isDialling(nodeId) || this.seedIds.has(nodeId) || this.hangUps.has(nodeId, paceNowMs);
  }

  private canDial(protocol: string): boolean {
    return this.sw.options.transports.some((transport) => transport.protocols.includes(protocol));
  }
}
