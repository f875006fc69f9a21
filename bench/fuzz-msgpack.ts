/**
 * msgpack fuzz inputs: bombs (headers that declare far more than the bytes hold), values of any shape,
 * valid records tampered with, and `peerBytes`, what a peer sends in place of a message.
 */
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { concat, mutated, spliced, u16, u32 } from './fuzz-bytes.js';

const hugeCount = fc.oneof(fc.constantFrom(0xffffffff, 0x80000000, 0x7fffffff, 0x10000, 0xffff, 1 << 20), fc.nat());
/** Container headers; map headers carry an empty-string key so the next header is their value. */
const containerHeader = fc.oneof(
  hugeCount.map((n) => [0xdd, ...u32(n)]),
  hugeCount.map((n) => [0xdf, ...u32(n), 0xa0]),
  fc.nat(0xffff).map((n) => [0xdc, ...u16(n)]),
  fc.nat(0xffff).map((n) => [0xde, ...u16(n), 0xa0]),
  fc.nat(15).map((n) => [0x90 | n]),
  fc.nat(15).map((n) => [0x80 | n, 0xa0]),
);
const nestedHeaders = fc
  .tuple(fc.array(containerHeader, { minLength: 1, maxLength: 40 }), fc.uint8Array({ maxLength: 64 }))
  .map(([headers, tail]) => concat([...headers, tail]));
const deepNesting = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom([0x91], [0x81, 0xa0], [0xdc, 0, 1], [0xdd, 0, 0, 0, 1]))
  .map(([depth, unit]) => {
    const out = new Uint8Array(depth * unit.length + 1).fill(0xc0);
    for (let i = 0; i < depth; i++) out.set(unit, i * unit.length);
    return out;
  });
/** A wide but honest array: every declared element present (nil), up to past the element cap. */
const wideArray = fc.integer({ min: 0, max: 70_000 }).map((n) => concat([[0xdd, ...u32(n)], new Uint8Array(n).fill(0xc0)]));
const lengthPastEnd = fc
  .tuple(fc.constantFrom(0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6), hugeCount, fc.uint8Array({ maxLength: 32 }))
  .map(([type, n, tail]) => {
    const width = [0xd9, 0xc4].includes(type) ? [n & 0xff] : [0xda, 0xc5].includes(type) ? u16(n) : u32(n);
    return concat([[type], width, tail]);
  });
/** fixext 1..16, ext 8/16/32 with any type, including -1 (timestamp, which would build a Date). */
const extension = fc
  .tuple(fc.constantFrom(0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7, 0xc8, 0xc9), fc.nat(255), hugeCount, fc.uint8Array({ maxLength: 16 }))
  .map(([head, type, n, data]) => {
    if (head >= 0xd4) return concat([[head, type], data]);
    return concat([[head], head === 0xc7 ? [n & 0xff] : head === 0xc8 ? u16(n) : u32(n), [type], data]);
  });
const msgpackBomb = fc.oneof(nestedHeaders, deepNesting, wideArray, lengthPastEnd, extension);

// ---- values -----------------------------------------------------------------------------------

/**
 * Any code point, lone surrogates included. Not fc's unit 'binary': its reverse map of all 1.1M code
 * points (built on first use) costs ~40 MB and seconds, which would dwarf the decoders in time and heap.
 */
export const anyCodePoint = fc.nat(0x10ffff).map((codePoint) => String.fromCodePoint(codePoint));
/** Keys a decoder or validator might treat specially. */
export const SPECIAL_KEYS = ['type', 'addresses', 'id', 'data', 'candidate', 'version', '__proto__', 'constructor', 'toString', 'valueOf', ''];
const scalar = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.constantFrom(2 ** 53, -(2 ** 63), 2 ** 64, -0),
  fc.string({ maxLength: 40 }), fc.string({ unit: anyCodePoint, maxLength: 20 }), fc.uint8Array({ maxLength: 32 }),
);
export const msgpackValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; array: unknown[]; map: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ maxDepth: 5, depthSize: 'small' }, scalar, tie('array'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  map: fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...SPECIAL_KEYS)), tie('value'), { maxKeys: 6, noNullPrototype: true }),
})).value;

/** Valid-looking records with fields deleted or replaced by values of any type, and extra fields. */
export function tampered<T extends object>(record: fc.Arbitrary<T>, fields: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const edit = fc.tuple(fc.oneof(fc.constantFrom(...fields), fc.constantFrom(...SPECIAL_KEYS), fc.string({ maxLength: 8 })), fc.option(msgpackValue, { nil: undefined }));
  return fc.tuple(record, fc.array(edit, { maxLength: 3 })).map(([value, edits]) => {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const [key, replacement] of edits) {
      if (replacement === undefined) delete copy[key];
      else Object.defineProperty(copy, key, { value: replacement, enumerable: true, writable: true, configurable: true });
    }
    return copy;
  });
}

/**
 * Same bytes as the codec's encodeMessage, but a fresh Encoder per message: the codec's shared one
 * keeps its largest buffer, which would show up as heap growth charged to the decoders.
 */
const encodeMessage = (value: unknown): Uint8Array => encode(value, { ignoreUndefined: true });
const encodeAll = (values: fc.Arbitrary<unknown>): fc.Arbitrary<Uint8Array> => values.map(encodeMessage);

/** What a peer sends in place of a message: noise, valid, mutated, spliced, or a bomb (alone or inside a valid prefix). */
export function peerBytes(validValues: fc.Arbitrary<unknown>, bombPrefix: unknown): fc.Arbitrary<Uint8Array> {
  const valid = encodeAll(validValues);
  // The prefix is a map whose last value is missing, so the bomb lands where the decoder expects it.
  const prefix = encodeMessage(bombPrefix).slice(0, -1);
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    { weight: 3, arbitrary: valid },
    { weight: 4, arbitrary: mutated(valid) },
    { weight: 1, arbitrary: spliced(valid) },
    { weight: 2, arbitrary: fc.tuple(fc.boolean(), msgpackBomb).map(([inside, bomb]) => (inside ? concat([prefix, bomb]) : bomb)) },
  );
}
