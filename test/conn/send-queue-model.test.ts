import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/conn/channel.js';
import { resolveChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { MSG_PACKET_HEADER_BYTES } from '../../src/wire/constants.js';

/**
 * The channel's send queue against a model: a FIFO of whole messages within a slot and byte capacity
 * (one message of any size fits an empty queue), and a FIFO of senders waiting for room that behave
 * as MConnection.waitAndEnqueue does (woken → enqueue, which must then succeed; or give up).
 */
const MAX_PAYLOAD = 16;

type Op =
  | { kind: 'try'; size: number }
  | { kind: 'wait'; size: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'pack'; room: number }
  | { kind: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('try' as const), size: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 80 })) }),
  fc.record({ kind: fc.constant('wait' as const), size: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 80 })) }),
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('pack' as const), room: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant('clear' as const) }).map((o) => o as Op),
);

function wire(bytes: number): number {
  return bytes + (bytes === 0 ? 1 : Math.ceil(bytes / MAX_PAYLOAD)) * MSG_PACKET_HEADER_BYTES;
}

describe('send queue against a model', () => {
  it('counters, order, capacity and wake-ups hold under any interleaving (partial packing, zero-length and oversize messages, cancels, clear)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 48 }), fc.array(op, { maxLength: 120 }), (slots, capBytes, ops) => {
        const channel = new Channel(resolveChannelDescriptor({ id: 1, sendQueueCapacity: slots, sendQueueCapacityBytes: capBytes }), MAX_PAYLOAD);
        let nextId = 0;
        const message = (size: number): Uint8Array => {
          const m = new Uint8Array(size);
          if (size > 0) m[0] = nextId & 0xff;
          (m as Uint8Array & { tag?: number }).tag = nextId++;
          return m;
        };
        const tag = (m: Uint8Array): number => (m as Uint8Array & { tag?: number }).tag!;
        // Model.
        const queue: Uint8Array[] = [];
        let headOffset = 0;
        const waiting: { m: Uint8Array; cancel: () => void; done: boolean }[] = [];
        let closing = false;
        const sent: number[] = [];
        const accepted: number[] = [];
        const fits = (size: number): boolean =>
          queue.length < slots && (queue.length === 0 || queue.reduce((n, q) => n + q.length, 0) + size <= capBytes);
        const enqueued = (m: Uint8Array): void => {
          queue.push(m);
          accepted.push(tag(m));
        };
        const wait = (m: Uint8Array): void => {
          const w = { m, cancel: () => undefined as void, done: false };
          const run = (): void => {
            // Emulates MConnection: woken by a close, a sender does not enqueue but cancels its wait.
            if (closing) return;
            // Woken: the message must fit now (a wake-up with no room would be a spurious one).
            expect(channel.tryEnqueue(m, true)).toBe(true);
            enqueued(m);
            w.done = true;
            waiting.splice(waiting.indexOf(w), 1);
          };
          waiting.push(w);
          w.cancel = channel.waitForRoom(m.length, run);
        };
        const target = new Uint8Array(4096);
        for (const o of ops) {
          if (o.kind === 'try') {
            const m = message(o.size);
            const expected = waiting.length === 0 && fits(o.size);
            expect(channel.tryEnqueue(m)).toBe(expected);
            if (expected) enqueued(m);
          } else if (o.kind === 'wait') {
            // send(): enqueue at once if trySend would, else wait in line.
            const m = message(o.size);
            if (waiting.length === 0 && fits(o.size)) {
              expect(channel.tryEnqueue(m)).toBe(true);
              enqueued(m);
            } else {
              expect(channel.tryEnqueue(m)).toBe(false);
              wait(m);
            }
          } else if (o.kind === 'cancel') {
            if (waiting.length === 0) continue;
            const w = waiting[o.pick % waiting.length]!;
            waiting.splice(waiting.indexOf(w), 1);
            w.cancel();
          } else if (o.kind === 'pack') {
            if (!channel.isSendPending) continue;
            const head = queue[0]!;
            const remaining = head.length - headOffset;
            const end = channel.writeNextPacket(target, 0, o.room);
            const max = Math.min(o.room, MAX_PAYLOAD);
            if (max === 0 && remaining > 0) {
              expect(end).toBe(-1);
              continue;
            }
            const length = Math.min(remaining, max);
            expect(end).toBe(length + MSG_PACKET_HEADER_BYTES);
            if (remaining <= max) {
              queue.shift();
              headOffset = 0;
              sent.push(tag(head));
            } else headOffset += length;
          } else {
            // The connection closed: queued messages dropped, waiters woken (they see it closed).
            const woken = waiting.splice(0);
            for (const w of woken) w.done = true;
            closing = true;
            channel.clear();
            for (const w of woken) w.cancel();
            closing = false;
            // destroy() drops what was queued (documented); the rest of `accepted` must still go out.
            for (const q of queue) accepted.splice(accepted.indexOf(tag(q)), 1);
            queue.length = 0;
            headOffset = 0;
          }
          // Invariants after every step.
          const status = channel.status();
          expect(status.sendQueueLength).toBe(queue.length);
          expect(status.sendQueueBytes).toBe(queue.reduce((n, q) => n + q.length, 0));
          const pendingWire = queue.reduce((n, q, i) => n + wire(q.length - (i === 0 ? headOffset : 0)), 0);
          expect(channel.pendingWireBytes).toBe(pendingWire);
          expect(queue.length).toBeLessThanOrEqual(slots);
          if (queue.length > 1) expect(status.sendQueueBytes).toBeLessThanOrEqual(capBytes);
          // No lost wake-up: the sender at the head of the line is waiting only if its message does not fit.
          if (waiting.length > 0) expect(fits(waiting[0]!.m.length)).toBe(false);
        }
        // Sent in the order accepted, each once.
        expect(sent).toEqual(accepted.slice(0, sent.length));
        expect(accepted.slice(sent.length)).toEqual(queue.map(tag));
      }),
      { numRuns: 2000 },
    );
  });
});
