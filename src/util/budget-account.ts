import { DrainMeter } from './drain-meter.js';
import type { MemoryAccount, MemoryBudget } from './memory-budget.js';

/** One connection's account in a MemoryBudget, and how what it holds is weighed when the budget must cut. */

/**
 * Messages below this size are charged as a connection's own bytes (`charge`) rather than shared: a map
 * entry per queued message costs ~0.3 µs (measured: a 4 KiB message's enqueue and packing went from 0.35
 * to 0.68 µs), a few percent of sending one this large but a tenth of a smaller one. A broadcast of
 * smaller messages is then counted in each queue (≤ 1 MiB a channel a peer by default).
 */
export const SHARED_MESSAGE_MIN_BYTES = 16 * 1024;

/**
 * A connection that would take this long or longer to give back what its cut frees, at the pace it
 * drained recently (see DrainMeter), counts as stalled: ranked by all it frees. One draining faster
 * counts for that share of it (drain time / horizon). A peer reading 1 byte a second is stalled; one
 * reading 20 KiB/s with 1 MiB queued counts for ~0.85 of it, at 100 KiB/s ~0.17.
 */
export const STALL_HORIZON_MS = 60 * 1000;
/**
 * However fast a connection drains, it counts for at least this share of what its cut frees: a peer
 * holding little that is stalled (an agent's receive taking its time) is not cut before one holding
 * 8 times as much, however fast that one drains, and each cut still frees a fair share of what is held.
 */
export const MIN_DRAINING_WEIGHT = 1 / 8;
/**
 * Bytes given back are stamped into the drain windows once this many have gathered: a clock read per
 * message released (~60 ns) is a fifth of sending a small one. A connection's drain is then counted
 * up to 16 KiB late (and never more than it drained).
 */
export const DRAIN_STAMP_BYTES = 16 * 1024;

/**
 * What cutting a connection is worth: the bytes it frees, weighed by how long it would take to give
 * them back at `drainBytesPerSecond` (1 at STALL_HORIZON_MS or more, never below MIN_DRAINING_WEIGHT).
 */
export function stuckBytes(frees: number, drainBytesPerSecond: number): number {
  if (frees <= 0) return 0;
  const drainMs = drainBytesPerSecond > 0 ? (frees * 1000) / drainBytesPerSecond : Infinity;
  return frees * Math.min(1, Math.max(MIN_DRAINING_WEIGHT, drainMs / STALL_HORIZON_MS));
}

/** One queue toward a peer: what it holds (small messages and shared ones) and how fast it drains. */
interface QueueHolding {
  bytes: number;
  drain: Drain;
}

/** How fast one kind of a connection's holding is given back: bytes stamped into a DrainMeter. */
class Drain {
  /** Bytes given back not yet stamped into `meter` (see DRAIN_STAMP_BYTES). */
  private unstampedBytes = 0;
  /** Made at the first stamp (an idle connection has none). */
  private meter: DrainMeter | undefined;

  /** `bytes` were given back: one clock read per DRAIN_STAMP_BYTES. */
  add(bytes: number, clock: MemoryBudget): void {
    this.unstampedBytes += bytes;
    if (this.unstampedBytes < DRAIN_STAMP_BYTES) return;
    const nowMs = clock.now();
    (this.meter ??= new DrainMeter(nowMs)).add(this.unstampedBytes, nowMs);
    this.unstampedBytes = 0;
  }

  bytesPerSecond(nowMs: number): number {
    return this.meter?.bytesPerSecond(nowMs) ?? 0;
  }
}

/**
 * A connection's MemoryAccount in a MemoryBudget. What we queue toward the peer (`chargeShared`, any
 * size) and what it sent us that we hold (`charge`: receives in flight, chunks held while paused) are
 * weighed each by its own drain: only the peer's reading drains the first, while the second drains
 * as fast as the peer sends us messages our agents settle at once. With one drain for both, a peer
 * never reading 1 MiB queued toward it, sending us ~430 KiB/s of such messages, counted as draining
 * (1/8 of it stalled) and an honest reader taking 20 KiB/s of its own 1 MiB was cut in its place.
 * Each queue toward the peer (a channel) is weighed by its own drain, too: over TCP a peer cannot read
 * one channel and not another, but our sender shares what it reads by channel priority, so a peer
 * that makes us send on a busy channel of higher priority (an agent echoing its requests) took ~10
 * bytes of it for each byte of a large queue, and that large queue passed for draining ~11× as fast.
 */
export class BudgetAccount implements MemoryAccount {
  /** Bytes it sent us that we hold (`charge`). */
  private ownBytes = 0;
  /** Messages below SHARED_MESSAGE_MIN_BYTES queued toward the peer: its alone. */
  private queuedBytes = 0;
  private sharedBytes = 0;
  /** Shared messages in this connection's queues, and in how many of them. Made at the first. */
  private sharedQueued: Map<Uint8Array, number> | undefined;
  /** @internal Bytes of the shared messages no other connection queues: what its cut frees of them (kept by the budget). */
  soleBytes = 0;
  /** @internal Its index in the budget's holders; -1 while it holds nothing (kept by the budget). */
  holderSlot = -1;
  private isCut = false;
  private drop: (() => void) | undefined;
  /** How fast `ownBytes` are given back (receives settling, held chunks read). */
  private readonly receivedDrain = new Drain();
  /** Each queue toward the peer by channel id (≤ 256): what it holds, how fast the peer's reading drains it. Made at the first. */
  private queues: Map<number, QueueHolding> | undefined;
  /**
   * The queue last charged or drained, and its holding: a connection sending on one channel at a time
   * finds it by a comparison instead of a Map lookup, twice a message.
   */
  private lastQueue = -1;
  private lastHolding: QueueHolding | undefined;

  constructor(
    private readonly budget: MemoryBudget,
    /** Replaced when the connection changes hands (a raw link becomes a peer's connection). */
    public onCut: (error: Error) => void,
    /** @internal Unique within its budget (see MemoryBudget.addShared). */
    readonly id: number,
  ) {}

  /** What this connection holds: its own bytes and every shared message in its queues. */
  get heldBytes(): number {
    return this.ownBytes + this.queuedBytes + this.sharedBytes;
  }

  /** @internal What cutting this connection frees node-wide: its own bytes, and shared messages no one else queues. */
  freeableBytes(): number {
    return this.ownBytes + this.freeableQueuedBytes();
  }

  /** @internal What cutting it frees (`frees`: freeableBytes()), each kind weighed by how slowly it drains (see `stuckBytes`). */
  stuckBytes(nowMs: number, frees = this.freeableBytes()): number {
    let stuck = stuckBytes(this.ownBytes, this.receivedDrain.bytesPerSecond(nowMs));
    const queuedFrees = frees - this.ownBytes;
    const queued = this.queuedBytes + this.sharedBytes;
    if (queuedFrees <= 0 || queued <= 0 || this.queues === undefined) return stuck;
    // Each queue's share of what the cut frees, at that queue's own drain.
    for (const holding of this.queues.values()) {
      if (holding.bytes > 0) stuck += stuckBytes((queuedFrees * holding.bytes) / queued, holding.drain.bytesPerSecond(nowMs));
    }
    return stuck;
  }

  /** @internal The pace at which it gave bytes back lately, all kinds (see DrainMeter). */
  drainBytesPerSecond(nowMs: number): number {
    let drain = this.receivedDrain.bytesPerSecond(nowMs);
    if (this.queues !== undefined) for (const holding of this.queues.values()) drain += holding.drain.bytesPerSecond(nowMs);
    return drain;
  }

  private holding(queue: number): QueueHolding {
    if (queue === this.lastQueue) return this.lastHolding!;
    const queues = (this.queues ??= new Map());
    let holding = queues.get(queue);
    if (holding === undefined) queues.set(queue, (holding = { bytes: 0, drain: new Drain() }));
    this.lastQueue = queue;
    this.lastHolding = holding;
    return holding;
  }

  /** What cutting it frees of the queues toward the peer: its small messages, and shared ones no one else queues. */
  private freeableQueuedBytes(): number {
    return this.queuedBytes + this.soleBytes;
  }

  /** @internal No shared message is in its queues. */
  get sharesNothing(): boolean {
    return this.sharedQueued === undefined || this.sharedQueued.size === 0;
  }

  get wasCut(): boolean {
    return this.isCut;
  }

  charge(bytes: number): void {
    if (this.isCut || bytes <= 0) return;
    const wasEmpty = this.heldBytes === 0;
    this.ownBytes += bytes;
    this.budget.add(this, bytes, wasEmpty);
  }

  release(bytes: number): void {
    if (this.isCut || bytes <= 0) return;
    this.ownBytes -= bytes;
    this.receivedDrain.add(bytes, this.budget);
    this.budget.remove(this, bytes);
  }

  chargeShared(message: Uint8Array, queue = 0): void {
    if (message.length < SHARED_MESSAGE_MIN_BYTES) {
      if (this.isCut) return;
      const wasEmpty = this.heldBytes === 0;
      this.queuedBytes += message.length;
      this.holding(queue).bytes += message.length;
      return this.budget.add(this, message.length, wasEmpty);
    }
    const wasEmpty = this.heldBytes === 0;
    this.sharedBytes += message.length;
    this.holding(queue).bytes += message.length;
    const queued = (this.sharedQueued ??= new Map());
    const queues = queued.get(message) ?? 0;
    const added = this.budget.addShared(this, message, queues === 0);
    queued.set(message, queues + 1);
    this.budget.add(this, added, wasEmpty);
  }

  releaseShared(message: Uint8Array, queue = 0): void {
    if (message.length < SHARED_MESSAGE_MIN_BYTES) {
      if (this.isCut) return;
      this.queuedBytes -= message.length;
      this.drained(queue, message.length);
      return this.budget.remove(this, message.length);
    }
    const queues = this.sharedQueued?.get(message) ?? 0;
    if (queues === 0) return;
    this.sharedBytes -= message.length;
    this.drained(queue, message.length);
    if (queues > 1) this.sharedQueued!.set(message, queues - 1);
    else this.sharedQueued!.delete(message);
    this.budget.remove(this, this.budget.removeShared(this, message, queues === 1));
  }

  /** `bytes` left `queue`: the peer's reading (or the queue dropped as the connection closes). */
  private drained(queue: number, bytes: number): void {
    const holding = queue === this.lastQueue ? this.lastHolding : this.queues?.get(queue);
    if (holding === undefined) return;
    holding.bytes -= bytes;
    holding.drain.add(bytes, this.budget);
  }

  whenCut(drop: () => void): void {
    this.drop = drop;
  }

  /**
   * @internal Writes off this connection's own bytes and closes it, synchronously: its queues release
   * their shared messages as it closes. It is never picked again.
   */
  cut(error: Error): void {
    this.isCut = true;
    const own = this.ownBytes + this.queuedBytes;
    this.ownBytes = 0;
    this.queuedBytes = 0;
    this.budget.remove(this, own);
    this.drop?.();
    this.onCut(error);
  }
}
