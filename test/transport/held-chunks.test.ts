import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HELD_CHUNK_OVERHEAD_BYTES, HELD_PACK_BLOCK_BYTES, HELD_PACK_FIRST_BLOCK_BYTES, HELD_PACKED_COPY_MAX_BYTES, HeldChunks } from '../../src/transport/held-chunks.js';

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

  it('packs small copies into blocks that double up to HELD_PACK_BLOCK_BYTES: 40,000 one-byte copies make 8 chunks', () => {
    const held = new HeldChunks();
    const source = new Uint8Array(1);
    const count = 40_000;
    for (let i = 0; i < count; i++) {
      source[0] = i & 0xff;
      held.pushCopy(source);
    }
    source[0] = 0xaa; // the caller reuses its buffer: what is held is a copy
    const delivered: Uint8Array[] = [];
    const bytesHeld = held.bytes;
    expect(held.drain(() => true, (chunk) => delivered.push(chunk))).toBe(true);
    // 256, 512 … 8 KiB, then 16 KiB blocks (the last one part full).
    const sizes: number[] = [];
    for (let size = HELD_PACK_FIRST_BLOCK_BYTES, left = count; left > 0; size = Math.min(2 * size, HELD_PACK_BLOCK_BYTES)) {
      sizes.push(Math.min(size, left));
      left -= size;
    }
    expect(delivered.map((chunk) => chunk.length)).toEqual(sizes);
    expect(sizes).toHaveLength(8);
    expect(bytesHeld).toBe(cost(...sizes));
    expect([...delivered.flatMap((chunk) => [...chunk])]).toEqual(Array.from({ length: count }, (_, i) => i & 0xff));
  });

  it('packs a few small copies into a small block', () => {
    const held = new HeldChunks();
    held.pushCopy(bytes(1, 2, 3));
    held.pushCopy(bytes(4));
    const delivered: Uint8Array[] = [];
    held.drain(() => true, (chunk) => delivered.push(chunk));
    expect(delivered).toEqual([bytes(1, 2, 3, 4)]);
    expect(delivered[0]!.buffer.byteLength).toBe(HELD_PACK_FIRST_BLOCK_BYTES);
  });

  it('holds a large copy as a chunk of its own, copied once, and starts a new packed chunk after it', () => {
    const held = new HeldChunks();
    const large = new Uint8Array(HELD_PACKED_COPY_MAX_BYTES + 1).fill(7);
    held.pushCopy(bytes(1));
    held.pushCopy(large);
    held.pushCopy(bytes(2));
    held.pushCopy(bytes(3));
    large.fill(0);
    const delivered: Uint8Array[] = [];
    held.drain(() => true, (chunk) => delivered.push(chunk));
    expect(delivered.map((c) => c.length)).toEqual([1, large.length, 2]);
    expect(delivered[1]!.every((b) => b === 7)).toBe(true);
    expect(delivered[1]!.byteOffset).toBe(0);
    expect(delivered[1]!.buffer.byteLength).toBe(large.length);
    expect([...delivered[2]!]).toEqual([2, 3]);
  });

  it('starts a new packed chunk when the block is full, after a drain, and after a pushed chunk', () => {
    const held = new HeldChunks();
    const piece = new Uint8Array(HELD_PACK_FIRST_BLOCK_BYTES / 2).fill(1);
    for (let i = 0; i < 3; i++) held.pushCopy(piece); // two fill the first block, the third starts the next
    const lengths: number[] = [];
    held.drain(() => lengths.length < 1, (chunk) => lengths.push(chunk.length));
    held.pushCopy(bytes(5));
    held.push(bytes(6));
    held.pushCopy(bytes(7));
    held.drain(() => true, (chunk) => lengths.push(chunk.length));
    expect(lengths).toEqual([2 * piece.length, piece.length, 1, 1, 1]);
  });

  it('delivers every byte in order and counts what it holds, whatever the mix of pushes, copies and partial drains', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ push: fc.integer({ min: 0, max: 64 }) }),
            fc.record({ copy: fc.integer({ min: 0, max: 2 * HELD_PACKED_COPY_MAX_BYTES }) }),
            fc.record({ take: fc.integer({ min: 0, max: 5 }) }),
          ),
          { maxLength: 60 },
        ),
        (steps) => {
          const held = new HeldChunks();
          const sent: number[] = [];
          const received: number[] = [];
          let next = 0;
          const deliver = (chunk: Uint8Array): void => void received.push(...chunk);
          for (const step of steps) {
            if ('take' in step) {
              let taken = 0;
              held.drain(() => taken++ < step.take, deliver);
            } else {
              const chunk = new Uint8Array('push' in step ? step.push : step.copy).map(() => next++ % 251);
              sent.push(...chunk);
              if ('push' in step) held.push(chunk);
              else held.pushCopy(chunk);
            }
            expect(held.bytes).toBeGreaterThanOrEqual(sent.length - received.length);
          }
          held.drain(() => true, deliver);
          expect(received).toEqual(sent);
          expect(held.bytes).toBe(0);
          expect(held.isEmpty).toBe(true);
        },
      ),
    );
  });
});
