import { ProtocolError } from '../errors.js';
import { BudgetAccount } from './budget-account.js';

/**
 * What one connection's pools charge for the memory they hold on its peer's behalf: a MessageLink's
 * chunks held while paused, a channel's send queue, the Router's async receives in flight. Each pool
 * keeps its own per-connection bound; the account adds up what all of them hold, node-wide.
 */
export interface MemoryAccount {
  /** `bytes` are now held for this connection alone. */
  charge(bytes: number): void;
  /** Gives back bytes charged with `charge`. */
  release(bytes: number): void;
  /**
   * `message` is now held in a queue of this connection; the same message queued for several peers (a
   * broadcast, an agent passing a message on) is one copy in memory, counted once node-wide. `queue`
   * (a channel id) names the queue: each queue's drain is measured on its own.
   */
  chargeShared(message: Uint8Array, queue?: number): void;
  /** Gives back one `chargeShared` of `message` (`queue`: as charged). */
  releaseShared(message: Uint8Array, queue?: number): void;
  /**
   * `drop` runs first if the budget cuts this connection: what the caller holds that the closing
   * connection will never read (a link's chunks held while paused) goes at once, not when the link
   * has finished closing (the peer may take up to 2 s to read why it was cut). One per account.
   */
  whenCut(drop: () => void): void;
}

/** The account of a link or connection that no Switch meters (made on its own, in tests, tools). */
export const UNMETERED: MemoryAccount = Object.freeze({
  charge: () => undefined,
  release: () => undefined,
  chargeShared: () => undefined,
  releaseShared: () => undefined,
  whenCut: () => undefined,
});


/**
 * One budget for the memory every connection of a Switch holds on its peer's behalf (MemoryAccount).
 * The per-connection bounds stay as they were; what they multiplied by (every peer and pending link,
 * 58 + 64 of them by default) is capped here. When a charge takes the node-wide total past
 * `limitBytes`, the connection holding the MOST THAT IS NOT MOVING is cut (`onCut`, ProtocolError
 * ERR_RATE_LIMIT), and the next after it while the total is still over: never the one charging unless
 * it ranks first, and never by pausing everyone, so a peer holding little keeps going while an
 * attacker's connections that fill their bounds are the ones that pay.
 *
 * "Holding": what its cut frees, so a shared message counts only for a connection that is the last to
 * queue it. Ranked by all it queues, a broadcast backlog made every honest peer holding it "the
 * largest" in turn, and each cut freed nothing while the others still queued it: attackers over the
 * limit got every one of them cut, and kept theirs.
 *
 * "Not moving": weighed by how long the connection would take to give that back at the pace it has
 * kept up recently (STALL_HORIZON_MS, MIN_DRAINING_WEIGHT, DrainMeter). Ranked by size alone, an honest
 * slow reader whose queue stays full of distinct data was cut for attackers whose many connections
 * each held a little less and read nothing. A peer must really drain, window after window, to count
 * as draining; one that does is ranked below stalled ones holding more than (its drain time /
 * horizon) of what it holds.
 *
 * A cut connection's own bytes are written off at once (its pools drop them as it closes, but a link
 * that tells the peer why lingers up to 2 s); shared messages are released by its queues as it closes.
 */
export class MemoryBudget {
  private totalBytes = 0;
  /**
   * Accounts holding anything: the only ones that can be cut. An account leaves when back to 0. An
   * array with each account's slot in it (`holderSlot`), not a Set: a peer exchanging small messages
   * one at a time joins and leaves on every message, and a Set's add and delete of its only entry
   * reallocated its table each time (~1 µs of each 64 B round trip in CPU profiles).
   */
  private readonly holders: BudgetAccount[] = [];
  /** Queued shared messages, in how many queues and whose; an entry only while queued somewhere. */
  private readonly shared = new Map<Uint8Array, SharedMessage>();
  /** Accounts queuing a shared message, by `id`: to find who is left as a message's only holder. */
  private readonly sharers = new Map<number, BudgetAccount>();
  private nextAccountId = 1;
  /** Connections cut so far (for status and tests). */
  cuts = 0;

  /** The limit may be set until the first charge (a Switch sizes its default at start). */
  constructor(
    public limitBytes: number,
    /** @internal Milliseconds, for the drain windows: monotonic (a wall-clock step is no drain, nor a stall). */
    readonly now: () => number = () => performance.now(),
  ) {}

  /** Bytes held node-wide: every account's own bytes, plus each queued shared message once. */
  get heldBytes(): number {
    return this.totalBytes;
  }

  /** An account for one connection; `onCut` closes that connection with the error given. */
  open(onCut: (error: Error) => void): BudgetAccount {
    return new BudgetAccount(this, onCut, this.nextAccountId++);
  }

  /** @internal `bytes` more are held node-wide; `account` now holds something (`wasEmpty`: nothing before). */
  add(account: BudgetAccount, bytes: number, wasEmpty: boolean): void {
    this.totalBytes += bytes;
    if (wasEmpty && !account.wasCut && account.holderSlot < 0) account.holderSlot = this.holders.push(account) - 1;
    if (this.totalBytes > this.limitBytes) this.cutLargest();
  }

  /** @internal `bytes` fewer are held node-wide; `account` may hold nothing now. */
  remove(account: BudgetAccount, bytes: number): void {
    this.totalBytes -= bytes;
    if ((account.heldBytes <= 0 || account.wasCut) && account.holderSlot >= 0) this.dropHolder(account);
  }

  /** Takes `account` out of `holders` in O(1): the last holder moves into its slot. */
  private dropHolder(account: BudgetAccount): void {
    const last = this.holders.pop()!;
    if (last !== account) {
      this.holders[account.holderSlot] = last;
      last.holderSlot = account.holderSlot;
    }
    account.holderSlot = -1;
  }

  /**
   * @internal Counts a queue of `account` holding `message` (`first`: its first); returns the bytes
   * that are new node-wide. Keeps each account's `soleBytes` (what its cut frees of shared messages)
   * as the holders change, so ranking an account costs O(1), not a walk of its queued messages.
   */
  addShared(account: BudgetAccount, message: Uint8Array, first: boolean): number {
    if (first && account.sharesNothing) this.sharers.set(account.id, account);
    const entry = this.shared.get(message);
    if (entry === undefined) {
      this.shared.set(message, { queues: 1, holders: 1, holderIds: account.id });
      account.soleBytes += message.length;
      return message.length;
    }
    entry.queues++;
    if (first) {
      entry.holders++;
      entry.holderIds += account.id;
      // The one holder until now no longer frees it alone.
      if (entry.holders === 2) this.sharers.get(entry.holderIds - account.id)!.soleBytes -= message.length;
    }
    return 0;
  }

  /** @internal A queue of `account` lets `message` go (`last`: its last); returns the bytes freed node-wide. */
  removeShared(account: BudgetAccount, message: Uint8Array, last: boolean): number {
    const entry = this.shared.get(message);
    let freed = 0;
    if (entry !== undefined && --entry.queues === 0) {
      this.shared.delete(message);
      account.soleBytes -= message.length;
      freed = message.length;
    } else if (entry !== undefined && last) {
      entry.holders--;
      entry.holderIds -= account.id;
      // One holder is left (the sum of the holders' ids is its id): its cut would now free it.
      if (entry.holders === 1) this.sharers.get(entry.holderIds)!.soleBytes += message.length;
    }
    if (last && account.sharesNothing) this.sharers.delete(account.id);
    return freed;
  }

  /**
   * Cuts the connections holding the most that is not moving (what a cut frees, weighed by how long it
   * would take to drain: `stuckBytes`) until the total is back within the limit; among equals, the one
   * freeing the most, then the one holding the most in all (when no cut alone frees anything). A scan
   * over the accounts holding anything (≤ peers + pending links) per cut, only when over the limit;
   * one clock read. What each frees is kept as queues come and go (`soleBytes`): walking each one's
   * queued shared messages per scan made a backlog of broadcasts, where each cut frees little alone,
   * cost peers² × messages (58 peers with 4 channels of 1 MiB: 25-150 ms in one turn, now ~1 ms).
   */
  private cutLargest(): void {
    const now = this.now();
    while (this.totalBytes > this.limitBytes) {
      let largest: BudgetAccount | undefined;
      let largestStuck = 0;
      let largestFrees = 0;
      for (const account of this.holders) {
        const frees = account.freeableBytes();
        const stuck = account.stuckBytes(now, frees);
        if (
          largest === undefined ||
          stuck > largestStuck ||
          (stuck === largestStuck && (frees > largestFrees || (frees === largestFrees && account.heldBytes > largest.heldBytes)))
        ) {
          largest = account;
          largestStuck = stuck;
          largestFrees = frees;
        }
      }
      if (largest === undefined) return;
      this.cuts++;
      const drain = Math.round(largest.drainBytesPerSecond(now));
      largest.cut(
        new ProtocolError(
          'ERR_RATE_LIMIT',
          `Held ${largest.heldBytes} bytes for this peer (draining ${drain} B/s), the most of any once weighed by how slowly it drains, when the node's ${this.limitBytes}-byte memory budget for peers ran out`,
          { detail: { heldBytes: largest.heldBytes, drainBytesPerSecond: drain, budgetBytes: this.limitBytes } },
        ),
      );
    }
  }
}

/** A queued shared message: in how many queues, of how many accounts (`holderIds`: the sum of their ids). */
interface SharedMessage {
  queues: number;
  holders: number;
  holderIds: number;
}
