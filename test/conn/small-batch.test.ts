import { describe, expect, it } from 'vitest';
import { SendScheduler } from '../../src/conn/send-scheduler.js';
import { DEFAULT_MAX_BATCH_BYTES } from '../../src/conn/constants.js';

const MAX_PACKET_PAYLOAD_BYTES = 1024;

function schedulerWith(message: Uint8Array): SendScheduler {
  const scheduler = new SendScheduler([{ id: 7 }], MAX_PACKET_PAYLOAD_BYTES);
  expect(scheduler.channel(7)!.tryEnqueue(message)).toBe(true);
  return scheduler;
}

describe('transient batches', () => {
  it('a flush nested inside another one\'s write packs into other memory, never over the batch being written', () => {
    const outer = schedulerWith(new Uint8Array(64).fill(1));
    const batch = outer.packBatch(DEFAULT_MAX_BATCH_BYTES, true)!;
    const written = batch.slice();
    // Another connection flushes before the outer batch is released (as from inside its link's write).
    const nested = schedulerWith(new Uint8Array(64).fill(2));
    const nestedBatch = nested.packBatch(DEFAULT_MAX_BATCH_BYTES, true)!;
    expect(nestedBatch.buffer).not.toBe(batch.buffer);
    expect(batch).toEqual(written);
    expect(nestedBatch.subarray(4).every((byte) => byte === 2)).toBe(true);
    nested.releaseBatch();
    outer.releaseBatch();
    // Released, the memory serves the next small batch again.
    const next = schedulerWith(new Uint8Array(10).fill(3));
    const nextBatch = next.packBatch(DEFAULT_MAX_BATCH_BYTES, true)!;
    expect(nextBatch.buffer).toBe(batch.buffer);
    expect(nextBatch.length).toBe(14);
    next.releaseBatch();
  });

  it('packs small and large batches whole, exactly their size', () => {
    for (const size of [1, 64, 4000, 4093, 5000, 40_000]) {
      const message = new Uint8Array(size).map((_, i) => i & 0xff);
      const scheduler = schedulerWith(message);
      const batch = scheduler.packBatch(DEFAULT_MAX_BATCH_BYTES, true)!;
      const packets = Math.ceil(size / MAX_PACKET_PAYLOAD_BYTES);
      expect(batch.length).toBe(size + 4 * packets);
      const payload: number[] = [];
      for (let offset = 0; offset < batch.length; ) {
        const length = (batch[offset + 2]! << 8) | batch[offset + 3]!;
        payload.push(...batch.subarray(offset + 4, offset + 4 + length));
        offset += 4 + length;
      }
      expect(new Uint8Array(payload)).toEqual(message);
      scheduler.releaseBatch();
    }
  });
});
