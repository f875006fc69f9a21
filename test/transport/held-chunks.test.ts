import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HELD_CHUNK_OVERHEAD_BYTES, HeldChunks } from '../../src/transport/held-chunks.js';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
/** What chunks of these lengths count for: their bytes and each one's overhead. */
const cost = (...lengths: number[]): number => lengths.reduce((sum, length) => sum + length + HELD_CHUNK_OVERHEAD_BYTES, 0);

describe('HeldChunks', () => {
  it('counts the bytes it holds and an overhead per chunk: push returns the running total, for the link to check its bound', () => {
    const held = new HeldChunks();
    expect(held.isEmpty).toBe(true);
    expect(held.bytes).toBe(0);
    expect(held.push(bytes(1, 2, 3))).toBe(cost(3));
    expect(held.push(bytes(4))).toBe(cost(3, 1));
    expect(held.bytes).toBe(cost(3, 1));
    expect(held.isEmpty).toBe(false);
  });

  it('holds an empty chunk as a chunk still to deliver', () => {
    const held = new HeldChunks();
    expect(held.push(new Uint8Array(0))).toBe(cost(0));
    expect(held.isEmpty).toBe(false);
    const delivered: Uint8Array[] = [];
    expect(held.drain(() => true, (chunk) => delivered.push(chunk))).toBe(true);
    expect(delivered).toHaveLength(1);
    expect(held.isEmpty).toBe(true);
  });

  it('delivers in arrival order the very chunks it was given, and is empty after', () => {
    const held = new HeldChunks();
    const chunks = [bytes(1), bytes(2, 2), bytes(3, 3, 3)];
    for (const chunk of chunks) held.push(chunk);
    const delivered: Uint8Array[] = [];
    expect(held.drain(() => true, (chunk) => delivered.push(chunk))).toBe(true);
    expect(delivered).toEqual(chunks);
    for (const [i, chunk] of delivered.entries()) expect(chunk).toBe(chunks[i]);
    expect(held.bytes).toBe(0);
    expect(held.isEmpty).toBe(true);
  });

  it('stops when the consumer wants no more (it paused inside a delivery) and goes on from there at the next drain', () => {
    const held = new HeldChunks();
    for (const value of [1, 2, 3, 4]) held.push(bytes(value, value));
    let paused = false;
    const delivered: number[] = [];
    const deliver = (chunk: Uint8Array): void => {
      delivered.push(chunk[0]!);
      if (chunk[0] === 2) paused = true;
    };
    expect(held.drain(() => !paused, deliver)).toBe(false);
    expect(delivered).toEqual([1, 2]);
    expect(held.bytes).toBe(cost(2, 2));
    // A chunk read meanwhile queues behind the ones still held.
    held.push(bytes(5));
    expect(held.bytes).toBe(cost(2, 2, 1));
    paused = false;
    expect(held.drain(() => !paused, deliver)).toBe(true);
    expect(delivered).toEqual([1, 2, 3, 4, 5]);
    expect(held.bytes).toBe(0);
  });

  it('delivers nothing while the consumer wants nothing', () => {
    const held = new HeldChunks();
    held.push(bytes(9));
    const delivered: Uint8Array[] = [];
    expect(held.drain(() => false, (chunk) => delivered.push(chunk))).toBe(false);
    expect(delivered).toEqual([]);
    expect(held.bytes).toBe(cost(1));
  });

  it('clear drops every chunk and the count', () => {
    const held = new HeldChunks();
    held.push(bytes(1, 2));
    held.push(bytes(3));
    held.clear();
    expect(held.bytes).toBe(0);
    expect(held.isEmpty).toBe(true);
    const delivered: Uint8Array[] = [];
    expect(held.drain(() => true, (chunk) => delivered.push(chunk))).toBe(true);
    expect(delivered).toEqual([]);
    expect(held.push(bytes(4))).toBe(cost(1));
  });

  it('keeps bytes equal to what is held (bytes and overheads), whatever the pushes and partial drains', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 64 }) }), fc.record({ take: fc.integer({ min: 0, max: 5 }) }), fc.constant('clear' as const))),
        (steps) => {
          const held = new HeldChunks();
          const model: number[] = [];
          let next = 0;
          for (const step of steps) {
            if (step === 'clear') {
              held.clear();
              model.length = 0;
            } else if ('push' in step) {
              const chunk = new Uint8Array(step.push).fill(next++ % 256);
              model.push(chunk.length);
              expect(held.push(chunk)).toBe(cost(...model));
            } else {
              let taken = 0;
              const lengths: number[] = [];
              const drained = held.drain(() => taken < step.take, (chunk) => {
                taken++;
                lengths.push(chunk.length);
              });
              expect(lengths).toEqual(model.splice(0, step.take));
              expect(drained).toBe(model.length === 0);
            }
            expect(held.bytes).toBe(cost(...model));
            expect(held.isEmpty).toBe(model.length === 0);
          }
        },
      ),
    );
  });
});
