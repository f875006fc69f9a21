import { monotonicNow, peerNetworkGroup, type Peer, type Switch } from '../../src/index.js';
import { FairOutbox, type FairOutboxLimits } from './fair-outbox.js';

/**
 * What we pass on to a peer, as a share of the allowance it holds us to: it runs the same defaults (or
 * the same options) as we do, we cannot see its clock, and the network bunches what we spread out, so
 * we keep 10 % of the rate and half of the burst in hand.
 */
export const FORWARD_RATE_SHARE = 0.9;
export const FORWARD_BURST_SHARE = 0.5;

/**
 * The limits for an agent whose peers hold it to `ratePerSecond` messages (burst `burst`) of at most
 * `maxMessageBytes`, counted by messages: paced below that, the bytes bounding only what waits.
 */
export function messagePaceLimits(ratePerSecond: number, burst: number, maxMessageBytes: number, queuedPerSource: number, queued: number): FairOutboxLimits {
  const paceBurst = Math.max(1, burst * FORWARD_BURST_SHARE);
  return Object.freeze({
    ratePerSecond: ratePerSecond * FORWARD_RATE_SHARE,
    burst: paceBurst,
    bytesPerSecond: ratePerSecond * maxMessageBytes,
    burstBytes: Math.ceil(paceBurst) * maxMessageBytes,
    maxQueuedPerSource: queuedPerSource,
    maxQueuedBytesPerSource: queuedPerSource * maxMessageBytes,
    maxQueued: queued,
    maxQueuedBytes: queued * maxMessageBytes,
  });
}

/** The source of what we originate ourselves (peer ids are hex, never empty), and its group. */
export const OWN_SOURCE = '';

/**
 * The FairOutbox of each peer of a gossiping agent (kept in `peer.data`, so it goes with the peer), and
 * the timer that offers what waits again while anything does. A relay passes on what each of its
 * peers may send it; without a pace of its own toward each peer, several sources each within their
 * allowance with us overran the next node's allowance for us, and it dropped the surplus unread,
 * honest items among it (the mempool's txs, then the chat's messages).
 */
export class PacedForwarding<T> {
  private readonly outboxKey = Symbol('paced-forwarding.outbox');
  /** Peers with items waiting: what the timer visits. */
  private readonly waiting = new Set<Peer>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private droppedItems = 0;

  constructor(
    private readonly limits: FairOutboxLimits,
    /** How often waiting items are offered again while any wait. */
    private readonly drainIntervalMs: number,
    /** Sends `item` to `peer` now (trySend); false when it did not go (skipped: it costs none of the pace). */
    private readonly send: (peer: Peer, item: T) => boolean,
  ) {}

  /** Items not passed on to a peer because their source was over its share of our pace toward it. */
  get dropped(): number {
    return this.droppedItems;
  }

  /** Items (and their bytes) waiting, over all peers. */
  get pending(): { items: number; bytes: number } {
    let items = 0;
    let bytes = 0;
    for (const peer of this.waiting) {
      items += this.outboxOf(peer)?.pending ?? 0;
      bytes += this.outboxOf(peer)?.pendingBytes ?? 0;
    }
    return { items, bytes };
  }

  /** A peer connected: its outbox, paced on the switch clock's time that never steps. */
  open(sw: Switch, peer: Peer): void {
    peer.data.set(this.outboxKey, new FairOutbox<T>(this.limits, () => monotonicNow(sw.options.clock)));
  }

  /** A peer left: what waited for it can no longer go (as in its send queue, which goes with the connection). */
  close(peer: Peer): void {
    this.outboxOf(peer)?.clear();
    peer.data.delete(this.outboxKey);
    this.waiting.delete(peer);
  }

  /**
   * Queues `item` for `peer`, from `from` (undefined: our own), behind what waits for it, and sends what
   * the pace allows: within it (as nearly always) at once. Shared among networks, then among the peers of
   * each: keys are free, networks are not.
   */
  forward(peer: Peer, item: T, bytes: number, from: Peer | undefined): void {
    const outbox = this.outboxOf(peer);
    if (outbox === undefined || outbox.sendAtOnce(item, bytes, (ready) => this.offer(peer, ready))) return;
    const dropped = outbox.dropped;
    outbox.push(from?.id ?? OWN_SOURCE, item, bytes, from === undefined ? OWN_SOURCE : this.groupOf(from));
    this.droppedItems += outbox.dropped - dropped;
    this.drainTo(peer, outbox);
    if (this.waiting.size > 0 && this.timer === undefined) {
      this.timer = setInterval(() => this.drainWaiting(), this.drainIntervalMs);
      // It ends itself once nothing waits; meanwhile it must not keep a stopping process alive.
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  /** The network a peer is in (IPv4 /16, IPv6 /32, a WebRTC peer's relay's: peerNetworkGroup, fixed when it arrived); a link naming none (in-memory) is one of its own. */
  groupOf(peer: Peer): string {
    return peerNetworkGroup(peer) ?? `peer:${peer.id}`;
  }

  /** Forgets what waits (the agent stopped; it may start again). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const peer of this.waiting) this.outboxOf(peer)?.clear();
    this.waiting.clear();
  }

  /** The timer's round: offers what waits again; ends itself once nothing does. */
  private drainWaiting(): void {
    for (const peer of this.waiting) {
      const outbox = this.outboxOf(peer);
      if (outbox === undefined) this.waiting.delete(peer);
      else this.drainTo(peer, outbox);
    }
    if (this.waiting.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private drainTo(peer: Peer, outbox: FairOutbox<T>): void {
    outbox.drain((item) => this.offer(peer, item));
    if (outbox.pending > 0) this.waiting.add(peer);
    else this.waiting.delete(peer);
  }

  /**
   * The owner's send, which the drain timer calls too: a throw there (a bug: the owner checks what the
   * peer takes before queueing) would be an uncaught exception, ending the process. Not sent instead.
   */
  private offer(peer: Peer, item: T): boolean {
    try {
      return this.send(peer, item);
    } catch (error) {
      console.error('PacedForwarding: passing an item on threw', error);
      return false;
    }
  }

  private outboxOf(peer: Peer): FairOutbox<T> | undefined {
    return peer.data.get(this.outboxKey) as FairOutbox<T> | undefined;
  }
}
