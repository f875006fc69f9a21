/**
 * The BanList's min-heap against a reference model (a plain map, swept and evicted by scanning it, as
 * the list was before the heap): under ban / extend / unban / expiry / lookup churn the same bans stand,
 * the one given way to a new key ends soonest, and the list and its heap stay within their bounds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BanList } from '../../src/switch/ban-list.js';
import { ConfigError } from '../../src/errors.js';

type Step = { kind: 'ban'; key: number; ms: number } | { kind: 'unban'; key: number } | { kind: 'look'; key: number } | { kind: 'wait'; ms: number };

const MAX = 8;
const KEYS = 14;
const keyOf = (i: number): string => `k${i}`;
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('ban' as const), key: fc.nat(KEYS - 1), ms: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unban' as const), key: fc.nat(KEYS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('look' as const), key: fc.nat(KEYS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 15 }) }) },
);

describe('BanList against a reference model', () => {
  it('keeps and drops the same bans, evicts one that ends soonest, and stays bounded', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
        let now = 0;
        const list = new BanList(() => now, MAX);
        const model = new Map<string, number>();
        for (const s of steps) {
          if (s.kind === 'wait') now += s.ms;
          else if (s.kind === 'unban') {
            list.unban(keyOf(s.key));
            model.delete(keyOf(s.key));
          } else if (s.kind === 'look') {
            const expires = model.get(keyOf(s.key));
            const banned = expires !== undefined && expires > now;
            if (expires !== undefined && !banned) model.delete(keyOf(s.key));
            expect(list.isBanned(keyOf(s.key))).toBe(banned);
          } else {
            const key = keyOf(s.key);
            const expires = now + s.ms;
            const held = model.get(key);
            let soonest: number | undefined;
            if (held === undefined && model.size >= MAX) {
              for (const [k, e] of model) if (e <= now) model.delete(k);
              if (model.size >= MAX) soonest = Math.min(...model.values());
            }
            list.ban(key, s.ms);
            if (held === undefined || held < expires) model.set(key, expires);
            if (soonest !== undefined) {
              // Ties: whichever of the soonest the list dropped, it must be one of them, and only one.
              const dropped = [...model.keys()].filter((k) => k !== key && !list.entries().some((entry) => entry.target === k));
              expect(dropped.length).toBe(1);
              expect(model.get(dropped[0]!)).toBe(soonest);
              model.delete(dropped[0]!);
            }
          }
          const live = [...model].filter(([, e]) => e > now).map(([target, untilMs]) => ({ target, untilMs }));
          expect(new Set(list.entries().map((entry) => `${entry.target}@${entry.untilMs}`))).toEqual(new Set(live.map((entry) => `${entry.target}@${entry.untilMs}`)));
          expect(list.size).toBeLessThanOrEqual(MAX);
          const heap = (list as unknown as { heap: unknown[] }).heap;
          expect(heap.length).toBeLessThanOrEqual(2 * MAX + 65);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('a ban whose duration is not a number is refused, not held past the cap', () => {
    // NaN never equals itself: its heap pair was taken for stale, popped and its ban never dropped, so
    // a full list of them grew past maxEntries with each new key (before the heap, making room never ended).
    const list = new BanList(() => 0, 4);
    for (let i = 0; i < 4; i++) {
      try {
        list.ban(`n${i}`, Number.NaN);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
      }
    }
    for (let i = 0; i < 20; i++) {
      list.ban(`k${i}`, 10);
      expect(list.size).toBeLessThanOrEqual(4);
    }
    expect(() => list.ban('n', Number.NaN)).toThrow(ConfigError);
  });
});
