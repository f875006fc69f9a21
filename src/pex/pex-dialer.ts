import { isOwnDialLimit, MeshlinkError, toError } from '../errors.js';
import type { Switch } from '../switch/switch.js';
import { parseAddress } from '../transport/address.js';
import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';
import type { AddressBook } from './address-book.js';
import type { PexConfig } from './config.js';
import { FailingNetworks } from './failing-networks.js';
import { creditedSource } from './known-address.js';

/**
 * Why we dial: to fill an outbound slot from the book, to crawl (seed mode), to bootstrap from a seed,
 * to re-establish an anchor (an outbound peer of the last run, dialled first and without jitter), or a
 * feeler: a short probe that tests an address and is closed as soon as it is up.
 */
export type DialKind = 'book' | 'crawl' | 'seed' | 'anchor' | 'feeler';

export interface PendingDial {
  readonly address: string;
  /** Who told us the address (book entry's source); undefined for seeds. */
  readonly source: string | undefined;
  readonly kind: DialKind;
  /** Set while waiting out the jitter; cleared when the Switch dial starts. */
  timer: TimerHandle | undefined;
}

interface DialCounters {
  dials: number;
  dialFailures: number;
  seedDials: number;
}

/**
 * The PEX agent's outbound dials: each waits a random 0..dialJitterMs (so nodes restarted together
 * don't dial in lockstep), is recorded in the book (markAttempt first, so a crash mid-dial still
 * counts), and its failure is judged: unreachable addresses back off and are finally dropped, ones
 * that turn out to be us or another network are removed or banned. At most one dial per node id.
 */
export class PexDialer {
  private readonly pending = new Map<string, PendingDial>();
  /**
   * When each seed, and any seed, was last dialled, on the agent's time that never steps (paceNow): on
   * the wall clock, a step back kept an isolated node from its seeds for as long as the step.
   */
  private readonly seedLastDial = new Map<string, number>();
  private lastSeedDialAt = Number.NEGATIVE_INFINITY;
  /** Seed dials that failed since the last one that connected. */
  private seedFailureStreak = 0;
  private stopped = false;
  /** Networks our last dials into all failed (a peer naming made-up nodes at a victim): they wait between dials. */
  readonly failingNetworks: FailingNetworks;

  constructor(
    private readonly sw: Switch,
    private readonly book: AddressBook,
    private readonly config: PexConfig,
    private readonly random: () => number,
    private readonly counters: DialCounters,
    private readonly clock: Clock,
    /** A dial failed for a reason that backs its address off (not a duplicate, a ban or our stop). */
    private readonly onFailure: () => void = () => undefined,
    /** Time that never steps (the agent's paceNow), for failingNetworks. */
    private readonly paceNow: () => number = () => monotonicNow(clock),
  ) {
    this.failingNetworks = new FailingNetworks(config.dialBackoffBaseMs, config.dialBackoffMaxMs);
  }

  /** Dials waiting out their jitter or in flight. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Dials still waiting out their jitter (the Switch does not count them yet). */
  get waitingCount(): number {
    let waiting = 0;
    for (const dial of this.pending.values()) if (dial.timer !== undefined) waiting++;
    return waiting;
  }

  isDialling(nodeId: string): boolean {
    return this.pending.has(nodeId);
  }

  /** True while any feeler dial is pending. */
  get feelerPending(): boolean {
    for (const dial of this.pending.values()) if (dial.kind === 'feeler') return true;
    return false;
  }

  /** True while a feeler to `nodeId` is pending: its connection is a probe, not an outbound peer. */
  isFeeler(nodeId: string): boolean {
    return this.pending.get(nodeId)?.kind === 'feeler';
  }

  /** Dials that will become outbound peers (feelers do not). */
  *pendingPeerDials(): Iterable<PendingDial> {
    for (const dial of this.pending.values()) if (dial.kind !== 'feeler') yield dial;
  }

  /**
   * Whether asking a seed is still worth waiting for: we have seeds and they have not all failed in a
   * row (every seed down, or all refusing us). Resets when a seed dial connects.
   */
  seedsAnswer(seedCount: number): boolean {
    return seedCount > 0 && this.seedFailureStreak < seedCount;
  }

  /** `maxJitterMs` lowers the jitter of a book or crawl dial (an isolated node dials sooner). */
  dial(address: string, kind: DialKind, maxJitterMs = Infinity): void {
    if (this.stopped) return;
    const nodeId = parseAddress(address).nodeId;
    if (nodeId === undefined || this.pending.has(nodeId)) return;
    const info = kind === 'seed' ? undefined : this.book.get(address);
    const source = info === undefined ? undefined : creditedSource(info);
    const dial: PendingDial = { address, source, kind, timer: undefined };
    this.pending.set(nodeId, dial);
    const jitterMs = kind === 'book' || kind === 'crawl' ? Math.floor(this.random() * Math.min(this.config.dialJitterMs, maxJitterMs)) : 0;
    dial.timer = this.clock.setTimeout(() => {
      dial.timer = undefined;
      void this.run(nodeId, dial, kind);
    }, jitterMs);
  }

  /**
   * Dials one seed, the least recently dialled (ties broken at random), unless a seed is connected or
   * being dialled already or the last seed dial was less than seedRedialIntervalMs ago: one answer
   * from one seed is usually enough to bootstrap, and seeds are shared by everyone.
   */
  dialSeed(seeds: readonly string[], paceNowMs: number): void {
    if (seeds.length === 0 || paceNowMs - this.lastSeedDialAt < this.config.seedRedialIntervalMs) return;
    const ids = seeds.map((seed) => parseAddress(seed).nodeId!);
    if (ids.some((id) => this.sw.getPeer(id) !== undefined || this.pending.has(id))) return;
    const lastDial = (i: number): number => this.seedLastDial.get(ids[i]!) ?? 0;
    let best = Math.floor(this.random() * seeds.length);
    for (let i = 0; i < seeds.length; i++) if (lastDial(i) < lastDial(best)) best = i;
    this.lastSeedDialAt = paceNowMs;
    this.seedLastDial.set(ids[best]!, paceNowMs);
    this.dial(seeds[best]!, 'seed');
  }

  stop(): void {
    this.stopped = true;
    for (const dial of this.pending.values()) this.clock.clearTimeout(dial.timer);
    this.pending.clear();
  }

  private async run(nodeId: string, dial: PendingDial, kind: DialKind): Promise<void> {
    try {
      if (this.stopped || !this.sw.isRunning || this.sw.getPeer(nodeId) !== undefined) return;
      this.book.markAttempt(dial.address);
      this.counters.dials++;
      if (kind === 'seed') this.counters.seedDials++;
      // Success needs nothing here: the agent's addPeer marks the address good. No signal of ours:
      // the Switch aborts its dials when it stops, which is before agents are stopped.
      await this.sw.dial(dial.address, { feeler: kind === 'feeler' });
      this.failingNetworks.reached(dial.address);
      if (kind === 'seed') this.seedFailureStreak = 0;
    } catch (error) {
      if (kind === 'seed') this.seedFailureStreak++;
      if (!this.stopped) this.judgeFailure(dial.address, nodeId, toError(error));
    } finally {
      if (this.pending.get(nodeId) === dial) this.pending.delete(nodeId);
    }
  }

  private judgeFailure(address: string, nodeId: string, error: Error): void {
    const code = error instanceof MeshlinkError ? error.code : undefined;
    // Not the address's fault: we are stopping, or we are at our limit, or we banned the node ourselves.
    // A node that banned us (its refusal, `refusedBy: 'remote'`) is a failure like any other: taken for
    // our own ban, its address was never dropped after maxDialAttempts.
    const bannedByUs = code === 'ERR_BANNED' && (error as MeshlinkError).detail['refusedBy'] !== 'remote';
    if (code === 'ERR_ABORTED' || code === 'ERR_CLOSED' || bannedByUs) return;
    // Refused by our own transport's limits before reaching anyone: the attempt does not count. Peers
    // handing a page made-up webrtc addresses use its dial allowance up, and every honest address
    // dialled meanwhile was backed off, marked bad after 3 such refusals and dropped after 16.
    // Refused as a duplicate: the node answered there and holds a connection of ours already (another
    // address, or one it has not seen die yet after our restart). The address worked: it kept the
    // attempt, so each such refusal backed it off, 3 made it bad and maxDialAttempts dropped it.
    if (code === 'ERR_DUPLICATE_PEER' || isOwnDialLimit(error)) {
      this.book.unmarkAttempt(address);
      return;
    }
    this.counters.dialFailures++;
    // The node itself refusing us (full, or it banned us) proved its key: its network holds a meshlink
    // node, only a busy one. So did a node proving another key than the address named (the handshake's
    // proof comes first): made-up ids at an honest node's own host and port made its /16 fail, and its
    // real address (never reached yet) was held back from our answers and dials. Anything else (nothing,
    // another protocol) gave us none there.
    const proven =
      error instanceof MeshlinkError && (error.detail['refusedBy'] === 'remote' || code === 'ERR_WRONG_PEER_ID' || (code === 'ERR_INCOMPATIBLE_PEER' && error.peerId === nodeId));
    if (proven) {
      this.failingNetworks.reached(address);
      this.book.markRefused(address);
    } else this.failingNetworks.failed(address, this.paceNow());
    this.onFailure();
    switch (code) {
      case 'ERR_SELF_CONNECTION':
        // It was us all along: forget it and refuse it from now on.
        this.book.removeAddress(address);
        this.safely(() => this.book.addOurAddress(address));
        return;
      case 'ERR_INCOMPATIBLE_PEER':
        // Another network or protocol: it will never be useful. Only the node itself, once it proved
        // its key (its NodeInfo), speaks for its id: a newer hello comes before any proof, and whoever
        // answered at an address anyone may have made up for the node would get it banned. Then only
        // the address is useless.
        if ((error as MeshlinkError).peerId === nodeId) this.book.markBad(nodeId, this.config.banMs);
        else this.book.removeAddress(address);
        return;
      case 'ERR_WRONG_PEER_ID':
      case 'ERR_NO_TRANSPORT':
      case 'ERR_INVALID_ADDRESS':
        // Someone else answers there, or we cannot speak its protocol: the address is useless to us.
        this.book.removeAddress(address);
        return;
      default: {
        // Unreachable, timed out, full (ERR_PEER_LIMIT): the attempt counts, the backoff grows.
        const info = this.book.get(address);
        if (info !== undefined && info.attempts >= this.config.maxDialAttempts) this.book.removeAddress(address);
      }
    }
  }

  private safely(action: () => void): void {
    try {
      action();
    } catch {
      // An address that no longer parses cannot be dialled again either.
    }
  }
}
