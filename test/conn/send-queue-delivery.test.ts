import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { memoryPair, type Endpoint } from '../helpers/mconn-pair.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Over memory links, with a reader that pauses and resumes: whatever trySend/send accepted arrives,
 * once, in the order of the calls, and nothing they refused (false, timeout, abort) arrives.
 */
const CH = 0x10;
const open: Endpoint[] = [];
afterEach(() => {
  for (const e of open.splice(0)) e.conn.destroy();
});

type Op =
  | { kind: 'try'; size: number }
  | { kind: 'send'; size: number; timeoutMs: number; abortAfterMs: number | undefined }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'tick'; ms: number };

const size = fc.oneof(fc.integer({ min: 4, max: 64 }), fc.integer({ min: 4, max: 12_000 }), fc.integer({ min: 20_000, max: 40_000 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('try' as const), size }),
  fc.record({ kind: fc.constant('send' as const), size, timeoutMs: fc.integer({ min: 0, max: 40 }), abortAfterMs: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }) }),
  fc.constant({ kind: 'pause' as const }),
  fc.constant({ kind: 'resume' as const }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 15 }) }),
);

const tagOf = (m: Uint8Array): number => new DataView(m.buffer, m.byteOffset, 4).getUint32(0);

describe('send queue delivery over memory links', () => {
  it('accepted messages all arrive, in order; refused ones never do', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1024, max: 32_768 }), fc.array(op, { minLength: 10, maxLength: 40 }), async (slots, capBytes, ops) => {
        const channels: ChannelDescriptor[] = [{ id: CH, sendQueueCapacity: slots, sendQueueCapacityBytes: capBytes, recvMessageCapacity: 64 * 1024 }];
        // A small link buffer, so a paused reader soon stalls the queue and senders wait.
        const [a, b] = memoryPair(channels, open, { highWaterMarkBytes: 4096 });
        let nextTag = 1;
        const accepted: number[] = [];
        const refused = new Set<number>();
        const pending: Promise<unknown>[] = [];
        let paused = false;
        const message = (length: number): [number, Uint8Array] => {
          const tag = nextTag++;
          const m = new Uint8Array(length);
          new DataView(m.buffer).setUint32(0, tag);
          return [tag, m];
        };
        for (const o of ops) {
          if (o.kind === 'try') {
            const [tag, m] = message(o.size);
            if (a.conn.trySend(CH, m)) accepted.push(tag);
            else refused.add(tag);
          } else if (o.kind === 'send') {
            const [tag, m] = message(o.size);
            const controller = o.abortAfterMs === undefined ? undefined : new AbortController();
            if (controller !== undefined) setTimeout(() => controller.abort(), o.abortAfterMs);
            pending.push(
              a.conn.send(CH, m, { timeoutMs: o.timeoutMs, signal: controller?.signal }).then(
                (ok) => (ok ? accepted.push(tag) : refused.add(tag)),
                () => refused.add(tag),
              ),
            );
          } else if (o.kind === 'pause') {
            if (!paused) b.conn.pause();
            paused = true;
          } else if (o.kind === 'resume') {
            if (paused) b.conn.resume();
            paused = false;
          } else await new Promise((r) => setTimeout(r, o.ms));
          await Promise.resolve();
        }
        if (paused) b.conn.resume();
        await Promise.all(pending);
        await waitFor(() => b.received.length >= accepted.length, 5000, 'accepted messages delivered');
        await new Promise((r) => setTimeout(r, 5));
        const received = b.received.map((r) => tagOf(r.message));
        // In call order: a waiting send holds back later trySends and sends until it is in or gives up.
        expect(received).toEqual([...accepted].sort((x, y) => x - y));
        for (const tag of received) expect(refused.has(tag)).toBe(false);
        expect(a.conn.status().channels[0]!.sendQueueBytes).toBe(0);
        a.conn.destroy();
        b.conn.destroy();
      }),
      { numRuns: 40 },
    );
  }, 60_000);
});
