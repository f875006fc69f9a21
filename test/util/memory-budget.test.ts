/** MemoryBudget: the node-wide sum of what connections hold, and who is cut when it runs out. */
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { MemoryBudget, SHARED_MESSAGE_MIN_BYTES, type BudgetAccount } from '../../src/util/memory-budget.js';

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
});
