import { monotonicNow, systemClock } from '../../src/index.js';
import { TokenBucket } from './token-bucket.js';

/**
 * What a relay passes on to one peer, paced and shared fairly among the sources it came from.
 *
 * Why: the peer holds us to an allowance (txs and bytes a second) and drops our surplus unread, so
 * anything we send past it is lost there whoever it came from. A relay passing on the txs of several
 * sources, each within its own allowance with us, would exceed it and have honest txs dropped at the
 * peer in proportion. Here the pace is ours, below the peer's allowance, and when sources offer more
 * than the pace, each gets a small queue served round-robin by bytes: a source offering little has all of it
 * passed on, one offering a flood loses its excess here, at its own queue.
 *
 * The round is over groups first (the network a source connects from), then over the sources of a
 * group: keys are free, so a share per source gave 16 keys from one host 16 shares and left an honest
 * source 1/17 of the pace; a share per network gives them one, shared among themselves.
 *
 * Everything is bounded: a queue per source (txs and bytes) and all queues together (txs and bytes);
 * when the whole is full, the largest group's longest queue loses its oldest item, so flooders pay, not the quiet.
 * Not thread-safe (JavaScript needs none); no timers: the owner calls `drain` when time has passed.
 */
export interface FairOutboxLimits {
  /** Items a second sent, sustained, and at once. */
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Bytes a second sent, sustained, and at once (at least the largest item). */
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  /** Items and bytes waiting for one source. */
  readonly maxQueuedPerSource: number;
  readonly maxQueuedBytesPerSource: number;
  /** Items and bytes waiting for all sources together. */
  readonly maxQueued: number;
  readonly maxQueuedBytes: number;
}

interface Queued<T> {
  readonly item: T;
  readonly bytes: number;
}

interface SourceQueue<T> {
  readonly items: Queued<T>[];
  bytes: number;
  /** Bytes this source may still send before its turn passes (deficit round-robin). */
  deficit: number;
}

interface GroupQueue<T> {
  /** Source → its FIFO. Map order is the round-robin order within the group. */
  readonly sources: Map<string, SourceQueue<T>>;
  /** Items waiting from all its sources. */
  items: number;
}

/**
 * Bytes a source's turn adds to what it may send (deficit round-robin): the round is shared by bytes,
 * not items. Shared by items, keys flooding 64 KiB txs took ~64 KiB a turn each against a small
 * honest tx's 200 B: two of them left the honest source ~7 turns a second of the pace, below its 10 txs.
 * Items up to this size still go one a turn. A group's turn is one turn of its next source.
 */
const QUANTUM_BYTES = 4096;

export class FairOutbox<T> {
  private readonly txs: TokenBucket;
  private readonly bytes: TokenBucket;
  /** Group → its sources. Map order is the round-robin order: a served group moves to the end. */
  private readonly groups = new Map<string, GroupQueue<T>>();
  private queuedItems = 0;
  private queuedBytes = 0;
  private droppedItems = 0;

  constructor(
    private readonly limits: FairOutboxLimits,
    /**
     * Milliseconds that never step (the pace is ours toward a peer that counts in real time): on the wall
     * clock, a step forward (NTP, a VM catching up) refilled the pace and sent a second burst at once,
     * past the peer's allowance, which dropped it unread. @default monotonicNow(systemClock)
     */
    now: () => number = () => monotonicNow(systemClock),
  ) {
    this.txs = new TokenBucket(limits.burst, limits.ratePerSecond, now);
    this.bytes = new TokenBucket(limits.burstBytes, limits.bytesPerSecond, now);
  }

  /** Items waiting. */
  get pending(): number {
    return this.queuedItems;
  }

  /** Bytes waiting. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Items dropped because their source's queue, or the whole, was full. */
  get dropped(): number {
    return this.droppedItems;
  }

  /**
   * Queues `item` (of `bytes`) from `source`, which belongs to `group` (a source of its own by default);
   * false if it was dropped (its source is over its share).
   */
  push(source: string, item: T, bytes: number, group: string = source): boolean {
    const limits = this.limits;
    let own = this.groups.get(group);
    let queue = own?.sources.get(source);
    const length = queue?.items.length ?? 0;
    if (length >= limits.maxQueuedPerSource || (queue?.bytes ?? 0) + bytes > limits.maxQueuedBytesPerSource) return this.drop();
    // The whole is full: the largest group gives way (its longest queue), unless that is this source's
    // group; then its longest queue does, unless that is this source's (then the new item does).
    while (this.queuedItems >= limits.maxQueued || this.queuedBytes + bytes > limits.maxQueuedBytes) {
      const largest = this.largest();
      const [victimGroup, victim] = own !== undefined && own.items >= (largest[1]?.items ?? 0) ? [group, own] : largest;
      if (victim === undefined) return this.drop();
      const [longestSource, longest] = this.longest(victim);
      if (longest === undefined || (victim === own && longest.items.length <= length)) return this.drop();
      this.shift(victim, longest);
      this.droppedItems++;
      if (longest.items.length === 0) victim.sources.delete(longestSource);
      if (victim.items === 0) this.groups.delete(victimGroup);
      if (victim === own && own.items === 0) own = undefined;
    }
    if (own === undefined) this.groups.set(group, (own = { sources: new Map(), items: 0 }));
    if (queue === undefined) own.sources.set(source, (queue = { items: [], bytes: 0, deficit: 0 }));
    queue.items.push({ item, bytes });
    queue.bytes += bytes;
    own.items++;
    this.queuedItems++;
    this.queuedBytes += bytes;
    return true;
  }

  /**
   * With nothing waiting and the pace allowing it, offers `item` to `send` at once (true); else false,
   * and the caller pushes it. The same as a push and a drain, without queueing: no other source waits.
   */
  sendAtOnce(item: T, bytes: number, send: (item: T) => boolean): boolean {
    if (this.queuedItems > 0 || !(this.txs.has(1) && this.bytes.has(bytes))) return false;
    if (send(item)) {
      this.txs.take(1);
      this.bytes.take(bytes);
    }
    return true;
  }

  /**
   * Offers waiting items to `send`, round-robin over groups and over the sources of each, while the
   * pace allows. `send` returns whether the item went out; one that did not (the peer's send queue was
   * full) is gone all the same (trySend's meaning: skipped) but costs none of the pace.
   */
  drain(send: (item: T) => boolean): void {
    for (const [groupKey, group] of this.groups) {
      const [source, queue] = group.sources.entries().next().value!;
      const head = queue.items[0]!;
      if (!(this.txs.has(1) && this.bytes.has(head.bytes))) return;
      // A turn that only tops up the deficit (a large item) passes to the next group; the pace is
      // checked first, so a source waiting for it gains nothing while it waits. Bounded: a large
      // item needs at most its size / QUANTUM_BYTES turns of its source.
      if (queue.deficit < head.bytes) queue.deficit += QUANTUM_BYTES;
      if (queue.deficit >= head.bytes) {
        queue.deficit -= head.bytes;
        this.shift(group, queue);
        if (send(head.item)) {
          this.txs.take(1);
          this.bytes.take(head.bytes);
        }
      }
      // Each to the back of its round (deleting during iteration is safe; re-adding puts it after the rest).
      group.sources.delete(source);
      if (queue.items.length > 0) group.sources.set(source, queue);
      this.groups.delete(groupKey);
      if (group.items > 0) this.groups.set(groupKey, group);
    }
  }

  /** Forgets every waiting item (the peer left). */
  clear(): void {
    this.groups.clear();
    this.queuedItems = 0;
    this.queuedBytes = 0;
  }

  private drop(): false {
    this.droppedItems++;
    return false;
  }

  private shift(group: GroupQueue<T>, queue: SourceQueue<T>): void {
    const { bytes } = queue.items.shift()!;
    queue.bytes -= bytes;
    group.items--;
    this.queuedItems--;
    this.queuedBytes -= bytes;
  }

  /** The group with the most items waiting: a walk over at most `maxQueued` groups, and only when the whole is full. */
  private largest(): [string, GroupQueue<T> | undefined] {
    let found: [string, GroupQueue<T> | undefined] = ['', undefined];
    for (const entry of this.groups) if (entry[1].items > (found[1]?.items ?? 0)) found = entry;
    return found;
  }

  /** The longest queue of `group`. */
  private longest(group: GroupQueue<T>): [string, SourceQueue<T> | undefined] {
    let found: [string, SourceQueue<T> | undefined] = ['', undefined];
    for (const entry of group.sources) if (entry[1].items.length > (found[1]?.items.length ?? 0)) found = entry;
    return found;
  }
}
