import { monotonicNow, type Clock } from '../util/clock.js';
import { RECV_ROUND_BYTES, RECV_ROUND_MS, RECV_TURN_CONTENTION_MS, RECV_TURN_MIN_BYTES } from './constants.js';

/** A connection's receive side, as the turns see it: what it does when its next turn comes. */
export interface TurnTaker {
  takeTurn(): void;
}

/**
 * The node-wide share of receive work among connections (one per Switch, shared by its connections).
 * Every per-peer bound can hold while many keys together take the event loop: a socket's reads all go
 * through in one turn of the loop (Node reads up to 32 × 64 KiB from one socket before the next), and a
 * 64 KiB chunk of tiny messages is thousands of handler calls, so a peer sending little waited behind
 * every flooder's whole backlog. With the turns, a connection that has handed on its quantum of work
 * (an equal part of `RECV_ROUND_BYTES` among those that took turns in the last round, at least
 * `RECV_TURN_MIN_BYTES`; counted as the receive rate limit counts it, but by the packet: each fragment at least
 * RECV_MESSAGE_MIN_CHARGE_BYTES) while other connections are receiving too parks the rest of its chunk
 * and waits for the next macrotask (`clock.afterBurst`: Node's check phase, a MessageChannel task in
 * browsers), after the loop has served every other socket that is ready: each busy connection gets a
 * quantum a round, a connection that needs less than that gets all it needs (max-min fairness), and a
 * node reading from one peer alone never pauses. A turn ends at its quantum only once the round has
 * lasted `RECV_ROUND_MS`: a loop that is not busy serves every socket soon anyway, and a bulk peer
 * paused every 64–128 KiB lost a third of its throughput (its reads no longer batched, its window shut).
 */
export class ReceiveTurns {
  /** What a connection may hand on in its turn: an equal part of the round, over those in the last. */
  quantumBytes: number;
  /** Rounds begun: one each time the connections whose turn was over take their next. */
  round = 0;
  /** The connection whose chunk came last, and when a chunk last came from another than the one before. */
  private lastReader: TurnTaker | undefined;
  private switchedAtMs = Number.NEGATIVE_INFINITY;
  /** When the current round began (monotonic ms). */
  private roundStartedMs = Number.NEGATIVE_INFINITY;
  /** Connections whose turn is over, in the order they yielded; each at most once. */
  private waiting: TurnTaker[] = [];
  private readonly waitingSet = new Set<TurnTaker>();

  constructor(
    private readonly clock: Clock,
    private readonly roundBytes = RECV_ROUND_BYTES,
    private readonly contentionMs = RECV_TURN_CONTENTION_MS,
    private readonly roundMs = RECV_ROUND_MS,
  ) {
    this.quantumBytes = roundBytes;
  }

  /** `reader` got a chunk. One comparison while the same connection keeps reading. */
  chunkFrom(reader: TurnTaker): void {
    if (reader === this.lastReader) return;
    this.lastReader = reader;
    this.switchedAtMs = this.clock.now();
  }

  /**
   * Whether a turn at its quantum ends: other connections have been receiving lately and the round has
   * lasted long enough for them to wait on it.
   */
  get turnOver(): boolean {
    return this.clock.now() - this.switchedAtMs < this.contentionMs && monotonicNow(this.clock) - this.roundStartedMs >= this.roundMs;
  }

  /** `reader` paused at the end of its turn: it takes its next one after the others' ready reads. */
  yieldTurn(reader: TurnTaker): void {
    if (this.waitingSet.has(reader)) return;
    this.waitingSet.add(reader);
    this.waiting.push(reader);
    if (this.waiting.length === 1) this.clock.afterBurst(() => this.nextRound());
  }

  private nextRound(): void {
    const round = this.waiting;
    this.waiting = [];
    this.waitingSet.clear();
    this.round++;
    this.roundStartedMs = monotonicNow(this.clock);
    // Those that yielded and one that did not (a light peer): the round stays near roundBytes.
    this.quantumBytes = Math.max(RECV_TURN_MIN_BYTES, Math.floor(this.roundBytes / (round.length + 1)));
    for (const reader of round) reader.takeTurn();
  }
}
