/**
 * MemoryBudget against a model: random charges, releases, shared messages queued and let go, cuts and
 * the releases of cut connections' queues as they close. The budget keeps its holders in an array with
 * each account's slot in it (`holderSlot`); a stale slot would cut the wrong account, or leave one that
 * holds the most never cut. After every step: the holders are exactly the accounts not cut that hold
 * something, each at its slot; the total is the model's; and the total is within the limit unless no
 * account is left to cut.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SHARED_MESSAGE_MIN_BYTES, type BudgetAccount } from '../../src/util/budget-account.js';
import { MemoryBudget } from '../../src/util/memory-budget.js';

const ACCOUNTS = 6;
const LIMIT = 4 * SHARED_MESSAGE_MIN_BYTES;
/** Shared messages: small ones (counted as each queue's own) and large ones (counted once node-wide). */
const MESSAGES = [100, 5_000, SHARED_MESSAGE_MIN_BYTES, 2 * SHARED_MESSAGE_MIN_BYTES, 3 * SHARED_MESSAGE_MIN_BYTES].map((length) => new Uint8Array(length));

type Step =
  | { kind: 'charge'; account: number; bytes: number }
  | { kind: 'release'; account: number; bytes: number }
  | { kind: 'queue'; account: number; message: number; queue: number }
  | { kind: 'unqueue'; account: number; pick: number }
  | { kind: 'close'; account: number }
  | { kind: 'reopen'; account: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('charge' as const), account: fc.nat(ACCOUNTS - 1), bytes: fc.integer({ min: 1, max: LIMIT / 2 }) }),
  fc.record({ kind: fc.constant('release' as const), account: fc.nat(ACCOUNTS - 1), bytes: fc.integer({ min: 1, max: LIMIT / 2 }) }),
  fc.record({ kind: fc.constant('queue' as const), account: fc.nat(ACCOUNTS - 1), message: fc.nat(MESSAGES.length - 1), queue: fc.nat(2) }),
  fc.record({ kind: fc.constant('unqueue' as const), account: fc.nat(ACCOUNTS - 1), pick: fc.nat(100) }),
  fc.record({ kind: fc.constant('close' as const), account: fc.nat(ACCOUNTS - 1) }),
  fc.record({ kind: fc.constant('reopen' as const), account: fc.nat(ACCOUNTS - 1) }),
);

/** One connection as its pools use the account: what it charged, and the messages its queues hold. */
interface Connection {
  account: BudgetAccount;
  own: number;
  queued: { message: Uint8Array; queue: number }[];
  cut: boolean;
}

function run(steps: Step[]): void {
  const budget = new MemoryBudget(LIMIT);
  const open = (): Connection => {
    const connection: Connection = { account: undefined!, own: 0, queued: [], cut: false };
    connection.account = budget.open(() => {
      expect(connection.cut, 'an account is cut once').toBe(false);
      // cut() has taken it out of the holders already; a stale slot would have taken another out.
      expect(holders(budget), 'out of the holders').not.toContain(connection.account);
      connection.cut = true;
      connection.own = 0;
    });
    return connection;
  };
  const connections = Array.from({ length: ACCOUNTS }, open);
  for (const s of steps) {
    const connection = connections[s.account]!;
    const { account } = connection;
    if (s.kind === 'charge') {
      account.charge(s.bytes);
      if (!connection.cut) connection.own += s.bytes;
    } else if (s.kind === 'release') {
      // Pools give back only what they took.
      const bytes = Math.min(s.bytes, connection.own);
      if (bytes > 0) account.release(bytes);
      connection.own -= bytes;
    } else if (s.kind === 'queue') {
      // A closed (cut) connection's queues take nothing more.
      if (!connection.cut) {
        account.chargeShared(MESSAGES[s.message]!, s.queue);
        connection.queued.push({ message: MESSAGES[s.message]!, queue: s.queue });
      }
    } else if (s.kind === 'unqueue') {
      if (connection.queued.length > 0) {
        const { message, queue } = connection.queued.splice(s.pick % connection.queued.length, 1)[0]!;
        account.releaseShared(message, queue);
      }
    } else if (s.kind === 'close') {
      // Its queues let every message go, as a closing connection's do.
      for (const { message, queue } of connection.queued.splice(0)) account.releaseShared(message, queue);
      if (connection.own > 0) account.release(connection.own);
      connection.own = 0;
    } else {
      // The connection is gone (closed first) and another takes its place with a fresh account.
      if (connection.queued.length === 0 && connection.own === 0) connections[s.account] = open();
    }
    check(budget, connections);
  }
}

function holders(budget: MemoryBudget): BudgetAccount[] {
  return (budget as unknown as { holders: BudgetAccount[] }).holders;
}

function check(budget: MemoryBudget, connections: Connection[]): void {
  const held = holders(budget);
  held.forEach((account, slot) => expect(account.holderSlot, 'each holder at its slot').toBe(slot));
  expect(new Set(held).size, 'no holder twice').toBe(held.length);
  const expected = connections.filter((c) => !c.cut && c.account.heldBytes > 0).map((c) => c.account);
  expect(new Set(held)).toEqual(new Set(expected));
  for (const c of connections) if (!held.includes(c.account)) expect(c.account.holderSlot).toBe(-1);
  // Each connection's own bytes (cut: written off), small queued messages per queue (cut: written off),
  // and each large message once while any queue holds it.
  let total = 0;
  const large = new Set<Uint8Array>();
  for (const c of connections) {
    if (!c.cut) total += c.own;
    for (const { message } of c.queued) {
      if (message.length >= SHARED_MESSAGE_MIN_BYTES) large.add(message);
      else if (!c.cut) total += message.length;
    }
  }
  for (const message of large) total += message.length;
  expect(budget.heldBytes, 'the total').toBe(total);
  if (budget.heldBytes > budget.limitBytes) expect(held, 'over the limit only with no one left to cut').toEqual([]);
}

describe('MemoryBudget against a model', () => {
  it('keeps its holders, slots and total right through charges, shared queues, cuts and reopens', () => {
    fc.assert(fc.property(fc.array(step, { maxLength: 120 }), (steps) => run(steps)), { numRuns: 400 });
  });
});
