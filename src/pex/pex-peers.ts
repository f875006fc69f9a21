import { normalizeAddress } from '../transport/canonical-address.js';
import type { Peer } from '../switch/peer.js';
import type { TimerHandle } from '../util/clock.js';

/** What the PEX agent remembers about one connected peer; dropped with the peer. */
export interface PexPeerState {
  /** We sent a pexRequest and its response has not come yet: exactly one response is welcome. */
  awaitingResponse: boolean;
  /** When we last asked this peer (ms, 0 = never). */
  lastRequestSentAt: number;
  /** When this peer last asked us (ms, 0 = never); the first request is always allowed. */
  lastRequestReceivedAt: number;
  /** Who told us the address we dialled (outbound only), for the per-source quota and trusted slots. */
  source: string | undefined;
  /** We are closing this peer ourselves (seed mode), so its leaving is not a hang-up. */
  closingByUs: boolean;
  /** Already stopped for misbehaviour: later messages in the same burst are ignored. */
  punished: boolean;
  /** A feeler connection: a probe being closed, neither an outbound peer nor an anchor. */
  feeler: boolean;
  /** Seed-mode disconnect timers. */
  readonly timers: Set<TimerHandle>;
}

export function newPeerState(): PexPeerState {
  return {
    awaitingResponse: false,
    lastRequestSentAt: 0,
    lastRequestReceivedAt: 0,
    source: undefined,
    closingByUs: false,
    punished: false,
    feeler: false,
    timers: new Set(),
  };
}

/**
 * The source to credit for addresses a peer tells us: where we reached it (outbound) or where it
 * reached us from (inbound, its remote endpoint), so the book can key buckets by the source's network
 * group. Falls back to the bare id, which the book groups on its own.
 */
export function sourceOf(peer: Peer): string {
  if (peer.direction === 'outbound') return normalizeAddress(peer.address) ?? peer.id;
  if (peer.address.includes('://')) return normalizeAddress(peer.address) ?? peer.id;
  return normalizeAddress(`${peer.transport}://${peer.id}@${peer.address}`) ?? peer.id;
}

/**
 * Node ids that hung up on us soon after we dialled them (seeds, nodes that are full or shutting
 * down), kept for a while so ensurePeers does not dial them straight back. Bounded: the entry
 * closest to expiry goes first. Times are the agent's paceNow (never steps), kept in memory only.
 */
export class HangUpList {
  private readonly until = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  add(nodeId: string, untilMs: number): void {
    this.until.delete(nodeId);
    this.until.set(nodeId, untilMs);
    if (this.until.size > this.capacity) {
      // Map order is insertion order; with one duration for all, the first inserted expires first.
      const oldest = this.until.keys().next().value;
      if (oldest !== undefined) this.until.delete(oldest);
    }
  }

  has(nodeId: string, nowMs: number): boolean {
    const expires = this.until.get(nodeId);
    if (expires === undefined) return false;
    if (expires > nowMs) return true;
    this.until.delete(nodeId);
    return false;
  }
}
