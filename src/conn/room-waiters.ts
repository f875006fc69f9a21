interface RoomWaiter {
  readonly messageBytes: number;
  /** Cleared once the waiter has run or been cancelled. */
  run: (() => void) | undefined;
}

/** Past this many spent entries, and half the array, the array is compacted. */
const COMPACT_AFTER_SPENT = 1024;

/**
 * Senders waiting, in order, for room in a channel's send queue. Cancelling is O(1) amortized (a waiter
 * is marked spent, skipped when it reaches the front, and dropped when the spent make up half the
 * array), so cancelling or waking any number of waiting sends costs linear time: with an array
 * spliced per cancel, 100,000 sends timing out together took seconds.
 */
export class RoomWaiters {
  private waiters: RoomWaiter[] = [];
  /** Index of the first waiter not yet spent (every entry before it is spent). */
  private head = 0;
  private live = 0;
  /** Bytes of the live waiters' messages (see Channel.mayWait). */
  private liveBytes = 0;

  get size(): number {
    return this.live;
  }

  get bytes(): number {
    return this.liveBytes;
  }

  /** Adds a waiter at the back; returns a function that cancels it and tells whether it was at the front. */
  add(messageBytes: number, run: () => void): () => boolean {
    const waiter: RoomWaiter = { messageBytes, run };
    this.waiters.push(waiter);
    this.live++;
    this.liveBytes += messageBytes;
    return () => {
      if (waiter.run === undefined) return false;
      const wasFirst = this.waiters[this.head] === waiter;
      waiter.run = undefined;
      this.live--;
      this.liveBytes -= messageBytes;
      this.skipSpent();
      return wasFirst;
    };
  }

  /** Runs, in order, each waiter at the front whose message `fits`, stopping at the first that does not. */
  runWhile(fits: (messageBytes: number) => boolean): void {
    while (this.live > 0) {
      const first = this.waiters[this.head]!;
      if (!fits(first.messageBytes)) return;
      this.runFirst(first);
    }
  }

  /** Runs every waiter once, in order; waiters added meanwhile wait for the next call. */
  runAll(): void {
    const runs: (() => void)[] = [];
    for (let i = this.head; i < this.waiters.length; i++) {
      const waiter = this.waiters[i]!;
      if (waiter.run !== undefined) runs.push(waiter.run);
      waiter.run = undefined;
    }
    this.waiters = [];
    this.head = 0;
    this.live = 0;
    this.liveBytes = 0;
    // Every waiter is spent before any runs: a woken sender cancelling its wait (or another's) is a no-op.
    for (const run of runs) run();
  }

  private runFirst(waiter: RoomWaiter): void {
    const run = waiter.run!;
    waiter.run = undefined;
    this.live--;
    this.liveBytes -= waiter.messageBytes;
    this.skipSpent();
    // State is settled before the call: `run` may enqueue, cancel others or wake more waiters.
    run();
  }

  private skipSpent(): void {
    const waiters = this.waiters;
    while (this.head < waiters.length && waiters[this.head]!.run === undefined) this.head++;
    if (this.head === waiters.length) {
      this.waiters = [];
      this.head = 0;
      return;
    }
    // Spent entries anywhere, not only at the front: sends behind one that waits on, each giving up
    // (a short timeout, a signal), were all held until it went (144,000 in 3 s of a flood passed on).
    const spent = waiters.length - this.live;
    if (spent >= COMPACT_AFTER_SPENT && spent * 2 >= waiters.length) {
      const kept: RoomWaiter[] = [];
      for (let i = this.head; i < waiters.length; i++) if (waiters[i]!.run !== undefined) kept.push(waiters[i]!);
      this.waiters = kept;
      this.head = 0;
    }
  }
}
