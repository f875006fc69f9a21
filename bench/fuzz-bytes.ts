/**
 * Byte-level pieces of the fuzz inputs (bench/fuzz-targets.ts): streams cut where a transport might cut
 * them, and the edits a buggy or hostile peer makes to a valid message.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import fc from 'fast-check';

export const u16 = (n: number): number[] => [(n >>> 8) & 0xff, n & 0xff];
export const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

export function concat(parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((offset, part) => (out.set(part, offset), offset + part.length), 0);
  return out;
}

/** A byte stream and where the transport cut it: decoders must not care where chunks end. */
export interface Chunked {
  readonly bytes: Uint8Array;
  readonly cuts: readonly number[];
  /** Every byte its own chunk: walks each state of a state machine through a "park". */
  readonly byteByByte: boolean;
}

export function chunked(bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Chunked> {
  return fc.record({ bytes, cuts: fc.array(fc.nat(), { maxLength: 8 }), byteByByte: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 7, arbitrary: fc.constant(false) }) });
}

const BYTE_BY_BYTE_MAX_BYTES = 4096;

export function chunksOf({ bytes, cuts, byteByByte }: Chunked): Uint8Array[] {
  // Byte by byte only for short streams: a 300 KB stream as 300k one-byte pushes measures the loop, not the decoder.
  if (byteByByte && bytes.length <= BYTE_BY_BYTE_MAX_BYTES) return Array.from(bytes, (byte) => Uint8Array.of(byte));
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point)); // may be empty: an empty read is legal too
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

export const showChunked = (input: Chunked): string =>
  `${bytesToHex(input.bytes)} ${input.byteByByte ? '(byte by byte)' : `(cut at ${JSON.stringify(input.cuts)})`}`;

// ---- mutation: what a buggy or hostile peer does to a valid message ------------------------------

/** Bytes that change a msgpack parser's course: reserved 0xc1, ext headers, 32-bit lengths. */
const INTERESTING_BYTES = [0x00, 0x7f, 0x80, 0x8f, 0x9f, 0xc0, 0xc1, 0xc4, 0xc6, 0xc7, 0xd4, 0xd8, 0xdb, 0xdd, 0xdf, 0xff];
const patchBytes = fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.subarray(INTERESTING_BYTES, { minLength: 1, maxLength: 4 }).map((b) => Uint8Array.from(b)));
const mutation = fc.record({ op: fc.constantFrom('flip', 'truncate', 'insert', 'duplicate', 'overwrite'), at: fc.nat(), patch: patchBytes });
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(bytes: Uint8Array, { op, at, patch }: Mutation): Uint8Array {
  const position = bytes.length === 0 ? 0 : at % bytes.length;
  if (op === 'truncate') return bytes.subarray(0, at % (bytes.length + 1));
  if (op === 'insert') return concat([bytes.subarray(0, position), patch, bytes.subarray(position)]);
  if (op === 'duplicate') {
    const end = Math.min(bytes.length, position + 1 + (patch[0] ?? 0));
    return concat([bytes.subarray(0, end), bytes.subarray(position, end), bytes.subarray(end)]);
  }
  const copy = bytes.slice();
  if (op === 'flip' && copy.length > 0) copy[position]! ^= 1 << ((patch[0] ?? 0) & 7);
  if (op === 'overwrite') copy.set(patch.subarray(0, copy.length - position), position);
  return copy;
}

export const mutated = (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => edits.reduce(mutate, bytes));

/** Head of one valid message glued to the tail of another. */
export const spliced = (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.tuple(valid, valid, fc.nat(), fc.nat()).map(([a, b, i, j]) => concat([a.subarray(0, i % (a.length + 1)), b.subarray(j % (b.length + 1))]));
