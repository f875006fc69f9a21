/** MemoryBudget: the node-wide sum of what connections hold, and who is cut when it runs out. */
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { MIN_DRAINING_WEIGHT, SHARED_MESSAGE_MIN_BYTES, stuckBytes, STALL_HORIZON_MS, type BudgetAccount } from '../../src/util/budget-account.js';
import { MemoryBudget } from '../../src/util/memory-budget.js';

/** An account whose cut releases what it holds, as a closing connection's pools do. */
function connection(budget: MemoryBudget, cuts: string[], name: string): BudgetAccount {
  const account: BudgetAccount = budget.open((error) => {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('ERR_RATE_LIMIT');
    cuts.push(name);
  });
  return account;
}

describe('MemoryBudget', () => {
  it('cuts the account holding the most when a charge passes the limit, even when another one charges', () => {
    const budget = new MemoryBudget(100);
    const cuts: string[] = [];
    const big = connection(budget, cuts, 'big');
    const small = connection(budget, cuts, 'small');
    big.charge(90);
    small.charge(5);
    expect(cuts).toEqual([]);
    small.charge(10); // 105 > 100: big pays, not the one charging
    expect(cuts).toEqual(['big']);
    expect(budget.heldBytes).toBe(15);
    big.charge(1000); // a cut account is not counted again
    expect(budget.heldBytes).toBe(15);
    small.release(15);
    expect(budget.heldBytes).toBe(0);
  });

  it('cuts the charging account when it holds the most', () => {
    const budget = new MemoryBudget(100);
    const cuts: string[] = [];
    const a = connection(budget, cuts, 'a');
    const b = connection(budget, cuts, 'b');
    b.charge(30);
    a.charge(80);
    expect(cuts).toEqual(['a']);
    expect(budget.heldBytes).toBe(30);
  });

  it('counts a message queued for several accounts once, and frees it with its last queue', () => {
    const budget = new MemoryBudget(10 * SHARED_MESSAGE_MIN_BYTES);
    const cuts: string[] = [];
    const message = new Uint8Array(4 * SHARED_MESSAGE_MIN_BYTES);
    const accounts = ['a', 'b', 'c', 'd', 'e'].map((name) => connection(budget, cuts, name));
    for (const account of accounts) account.chargeShared(message);
    expect(budget.heldBytes).toBe(message.length);
    expect(accounts[0]!.heldBytes).toBe(message.length);
    for (const account of accounts.slice(1)) account.releaseShared(message);
    expect(budget.heldBytes).toBe(message.length);
    accounts[0]!.releaseShared(message);
    expect(budget.heldBytes).toBe(0);
    expect(cuts).toEqual([]);
  });

  it('stops cutting once nobody left holds anything it can write off', () => {
    const budget = new MemoryBudget(SHARED_MESSAGE_MIN_BYTES);
    const cuts: string[] = [];
    // A cut whose queue does not release its shared message (it should, as it closes): no loop, one cut.
    const stuck = connection(budget, cuts, 'stuck');
    stuck.chargeShared(new Uint8Array(2 * SHARED_MESSAGE_MIN_BYTES));
    expect(cuts).toEqual(['stuck']);
  });

  it('cuts who frees memory, not every queue of a broadcast that its other queues still hold', () => {
    const budget = new MemoryBudget(10 * SHARED_MESSAGE_MIN_BYTES);
    const cuts: string[] = [];
    // Five honest peers each have the same three broadcast messages queued: 3 units each, 3 node-wide.
    const broadcast = [1, 2, 3].map(() => new Uint8Array(SHARED_MESSAGE_MIN_BYTES));
    const honest = ['h1', 'h2', 'h3', 'h4', 'h5'].map((name) => {
      // As a closing connection: its queues let their shared messages go.
      const account = budget.open(() => {
        cuts.push(name);
        for (const message of broadcast) account.releaseShared(message);
      });
      for (const message of broadcast) account.chargeShared(message);
      return account;
    });
    expect(budget.heldBytes).toBe(3 * SHARED_MESSAGE_MIN_BYTES);
    // Four attacker connections hold 2 units each of their own: 11 > 10. Cutting one attacker frees 2;
    // cutting an honest peer frees nothing while the other four still queue the same messages.
    const attackers = ['a1', 'a2', 'a3', 'a4'].map((name) => connection(budget, cuts, name));
    for (const attacker of attackers) attacker.charge(2 * SHARED_MESSAGE_MIN_BYTES);
    expect(cuts.filter((name) => name.startsWith('h'))).toEqual([]);
    expect(cuts).toHaveLength(1);
    expect(budget.heldBytes).toBeLessThanOrEqual(budget.limitBytes);
    expect(honest.every((account) => !account.wasCut)).toBe(true);
  });

  it('runs what the account holder drops first, then closes it', () => {
    const budget = new MemoryBudget(10);
    const order: string[] = [];
    const account = budget.open(() => order.push('close'));
    account.whenCut(() => order.push('drop'));
    account.charge(11);
    expect(order).toEqual(['drop', 'close']);
    expect(account.wasCut).toBe(true);
  });

  describe('who drains', () => {
    const KiB = 1024;
    const MiB = 1024 * KiB;

    /** A budget on a clock the test moves, and an honest slow reader holding 1 MiB that drains 64 KiB every 150 ms for 20 s. */
    function withDrainingReader(limit: number): { budget: MemoryBudget; cuts: string[]; reader: BudgetAccount; clock: { ms: number } } {
      const clock = { ms: 0 };
      const budget = new MemoryBudget(limit, () => clock.ms);
      const cuts: string[] = [];
      const reader = connection(budget, cuts, 'reader');
      reader.charge(MiB);
      for (; clock.ms < 20_000; clock.ms += 150) {
        reader.release(64 * KiB);
        reader.charge(64 * KiB);
      }
      return { budget, cuts, reader, clock };
    }

    it('cuts connections that drain nothing before a reader holding more that drains', () => {
      const { budget, cuts } = withDrainingReader(4 * MiB);
      // Six attackers each hold 0.8 MiB and give nothing back (one of them took a burst first: its
      // socket buffers filling). Ranked by size alone, the reader was cut first.
      const attackers = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((name) => connection(budget, cuts, name));
      attackers[0]!.charge(4 * MiB - 2 * MiB);
      attackers[0]!.release(4 * MiB - 2 * MiB);
      for (const attacker of attackers) attacker.charge(0.8 * MiB);
      expect(cuts).not.toContain('reader');
      expect(cuts.length).toBeGreaterThan(0);
      expect(budget.heldBytes).toBeLessThanOrEqual(budget.limitBytes);
    });

    it('counts a trickle as stalled: 1 byte a second, or 10 KiB a second against 0.8 MiB held', () => {
      const clock = { ms: 0 };
      const budget = new MemoryBudget(4 * MiB, () => clock.ms);
      const cuts: string[] = [];
      const reader = connection(budget, cuts, 'reader');
      reader.charge(MiB);
      const bytes = connection(budget, cuts, 'byte');
      const kibs = connection(budget, cuts, '10kib');
      bytes.charge(0.8 * MiB);
      kibs.charge(0.8 * MiB);
      for (; clock.ms < 30_000; clock.ms += 150) {
        reader.release(64 * KiB);
        reader.charge(64 * KiB);
        if (clock.ms % 1050 === 0) {
          bytes.release(1);
          bytes.charge(1);
          kibs.release(10 * KiB);
          kibs.charge(10 * KiB);
        }
      }
      expect(kibs.drainBytesPerSecond(clock.ms)).toBeGreaterThan(0);
      // Connections holding a little less than the tricklers, that drain nothing: the tricklers go first.
      for (const name of ['a1', 'a2', 'a3', 'a4']) connection(budget, cuts, name).charge(0.7 * MiB);
      expect(cuts).toEqual(['byte', '10kib']);
    });

    it('cuts the reader once it has stopped draining for the span, holding the most', () => {
      const { budget, cuts, clock } = withDrainingReader(4 * MiB);
      clock.ms += 70_000;
      for (const name of ['a1', 'a2', 'a3', 'a4']) connection(budget, cuts, name).charge(0.8 * MiB);
      expect(cuts[0]).toBe('reader');
    });

    it('does not cut a stalled peer holding little before one holding 8 times as much, however fast that one drains', () => {
      const { budget, cuts } = withDrainingReader(MiB + 200 * KiB);
      connection(budget, cuts, 'little').charge(100 * KiB);
      connection(budget, cuts, 'more').charge(120 * KiB);
      expect(cuts).toEqual(['reader']);
    });

    it('does not count receives that settle as draining a send queue the peer never reads', () => {
      const clock = { ms: 0 };
      const budget = new MemoryBudget(2.5 * MiB, () => clock.ms);
      const cuts: string[] = [];
      // An honest slow reader: 1 MiB queued toward it in 4 KiB messages, taking 20 KiB/s.
      const reader = connection(budget, cuts, 'reader');
      // An attacker: 1 MiB queued toward it that it never reads, while it sends us messages whose
      // receives settle at once (~430 KiB/s of "drain" paid for with its own uploads).
      const attacker = connection(budget, cuts, 'attacker');
      for (let index = 0; index < 256; index++) {
        reader.chargeShared(new Uint8Array(4 * KiB));
        attacker.chargeShared(new Uint8Array(4 * KiB));
      }
      for (; clock.ms < 30_000; clock.ms += 50) {
        if (clock.ms % 200 === 0) {
          const message = new Uint8Array(4 * KiB);
          reader.releaseShared(message);
          reader.chargeShared(message);
        }
        if (clock.ms % 150 === 0) {
          attacker.charge(64 * KiB);
          attacker.release(64 * KiB);
        }
      }
      connection(budget, cuts, 'newcomer').charge(0.6 * MiB);
      expect(cuts).toEqual(['attacker']);
    });

    it('weighs what a cut frees by how long it would take to drain', () => {
      expect(stuckBytes(MiB, 0)).toBe(MiB);
      expect(stuckBytes(MiB, 1)).toBe(MiB); // a byte a second: stalled
      expect(stuckBytes(MiB, MiB / (STALL_HORIZON_MS / 1000))).toBe(MiB);
      expect(stuckBytes(MiB, (2 * MiB) / (STALL_HORIZON_MS / 1000))).toBe(MiB / 2);
      expect(stuckBytes(MiB, 100 * MiB)).toBe(MiB * MIN_DRAINING_WEIGHT);
      expect(stuckBytes(0, 0)).toBe(0);
    });
  });
});

describe('MemoryBudget: what a cut frees of shared messages', () => {
  /** A message of SHARED_MESSAGE_MIN_BYTES: a view of one buffer (the budget counts messages by identity and length). */
  const backing = new ArrayBuffer(SHARED_MESSAGE_MIN_BYTES);
  const message = (): Uint8Array => new Uint8Array(backing, 0, SHARED_MESSAGE_MIN_BYTES);

  it('knows what each cut frees as queues of several connections take and let go of the same messages', () => {
    const budget = new MemoryBudget(Number.MAX_SAFE_INTEGER);
    const accounts = Array.from({ length: 5 }, () => budget.open(() => undefined));
    const messages = Array.from({ length: 12 }, message);
    /** queued[a][m]: in how many queues of account a message m is. */
    const queued = accounts.map(() => messages.map(() => 0));
    let seed = 7;
    const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let step = 0; step < 5000; step++) {
      const a = random(accounts.length);
      const m = random(messages.length);
      if (random(2) === 0 || queued[a]![m] === 0) {
        accounts[a]!.chargeShared(messages[m]!);
        queued[a]![m]!++;
      } else {
        accounts[a]!.releaseShared(messages[m]!);
        queued[a]![m]!--;
      }
      for (let b = 0; b < accounts.length; b++) {
        const sole = messages.filter((_, n) => queued[b]![n]! > 0 && queued.every((other, c) => c === b || other[n] === 0)).length;
        expect(accounts[b]!.freeableBytes()).toBe(sole * SHARED_MESSAGE_MIN_BYTES);
      }
    }
  });

  it('ranks 58 connections in time linear in them, not in the messages each queues', () => {
    // 58 peers, each with 4096 messages queued, every one also queued for the next peer: no cut alone
    // frees anything, and (their queues let go only after the ranking here) every peer is cut in turn.
    // Before, each ranking walked every queued message of every peer: ~1 s in one event-loop turn (at
    // 4 channels of 1 MiB a peer, 25-150 ms).
    const budget = new MemoryBudget(Number.MAX_SAFE_INTEGER);
    const queues: Uint8Array[][] = [];
    const cut: number[] = [];
    const accounts = Array.from({ length: 58 }, (_, peer) => {
      queues.push([]);
      return budget.open(() => void cut.push(peer));
    });
    for (let peer = 0; peer < 58; peer++) {
      for (let n = 0; n < 4096; n++) {
        const shared = message();
        for (const holder of [peer, (peer + 1) % 58]) {
          queues[holder]!.push(shared);
          accounts[holder]!.chargeShared(shared);
        }
      }
    }
    budget.limitBytes = budget.heldBytes / 2;
    const start = performance.now();
    accounts[0]!.charge(1);
    const elapsedMs = performance.now() - start;
    expect(cut.length).toBe(58);
    expect(elapsedMs).toBeLessThan(100);
    for (const peer of cut) for (const queuedMessage of queues[peer]!) accounts[peer]!.releaseShared(queuedMessage);
    expect(budget.heldBytes).toBe(0);
  });
});
