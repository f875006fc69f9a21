import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { Channel } from '../../src/conn/channel.js';
import { RoomWaiters } from '../../src/conn/room-waiters.js';

describe('RoomWaiters', () => {
  it('runs waiters in order of arrival, skipping cancelled ones, against a model', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), bytes: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('runWhile' as const), limit: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ kind: fc.constant('runAll' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const waiters = new RoomWaiters();
        const model: { id: number; bytes: number; cancel: () => boolean }[] = [];
        const ran: number[] = [];
        const expected: number[] = [];
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            const id = next++;
            model.push({ id, bytes: o.bytes, cancel: waiters.add(o.bytes, () => ran.push(id)) });
          } else if (o.kind === 'cancel' && model.length > 0) {
            const index = o.pick % model.length;
            expect(model[index]!.cancel()).toBe(index === 0);
            model.splice(index, 1);
          } else if (o.kind === 'runWhile') {
            while (model.length > 0 && model[0]!.bytes <= o.limit) expected.push(model.shift()!.id);
            waiters.runWhile((bytes) => bytes <= o.limit);
          } else if (o.kind === 'runAll') {
            expected.push(...model.splice(0).map((w) => w.id));
            waiters.runAll();
          }
          expect(ran).toEqual(expected);
          expect(waiters.size).toBe(model.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('runAll wakes every waiter registered when it began, once, even one another cancels; ones added meanwhile wait', () => {
    const waiters = new RoomWaiters();
    const ran: string[] = [];
    let cancelC = (): boolean => false;
    waiters.add(1, () => {
      ran.push('a');
      cancelC();
      waiters.add(1, () => ran.push('d'));
    });
    waiters.add(1, () => ran.push('b'));
    cancelC = waiters.add(1, () => ran.push('c'));
    waiters.runAll();
    // A close wakes everyone to see the connection gone: a cancel from a woken sender is then a no-op.
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(waiters.size).toBe(1);
    waiters.runWhile(() => true);
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
    expect(waiters.size).toBe(0);
  });

  it("cancelling 300,000 of a channel's waiting sends in any order is linear (it was a splice each: quadratic: 80 s here)", () => {
    const channel = new Channel(resolveChannelDescriptor({ id: 1 }), 1024);
    const count = 300_000;
    const cancels = Array.from({ length: count }, () => channel.waitForRoom(1, () => undefined));
    // Every other one from the front, then the rest from the back: both ends of the line.
    const started = performance.now();
    for (let i = 0; i < count; i += 2) cancels[i]!();
    for (let i = count - 1; i >= 0; i -= 2) cancels[i]!();
    // ~40 ms here; the spliced array took 80 s. Bound with a wide margin for loaded machines.
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(channel.tryEnqueue(new Uint8Array(1))).toBe(true);
  });
});
