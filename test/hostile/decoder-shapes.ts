/**
 * Hostile msgpack shapes for the decoder sweep (decoder-sweep*.test.ts), each at most 10 KB: what a
 * stranger can hand any decoder of peer bytes. Built by hand, since an encoder would refuse most of them.
 */
import { encodeMessage } from '../../src/wire/codec.js';

export const SHAPE_BUDGET_BYTES = 10 * 1024;

const u16 = (value: number): number[] => [(value >>> 8) & 0xff, value & 0xff];
const u32 = (value: number): number[] => [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
const repeat = (unit: readonly number[], times: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push(...unit);
  return out;
};
/** msgpack str of raw bytes (which need not be UTF-8). */
export const rawStr = (bytes: readonly number[]): number[] => {
  if (bytes.length < 32) return [0xa0 | bytes.length, ...bytes];
  return bytes.length < 256 ? [0xd9, bytes.length, ...bytes] : [0xda, ...u16(bytes.length), ...bytes];
};
const str = (text: string): number[] => rawStr([...new TextEncoder().encode(text)]);
/** A fixmap of `entries` already encoded as key/value byte runs. */
export const fixmap = (entries: readonly (readonly [number[], number[]])[]): number[] => [0x80 | entries.length, ...entries.flatMap(([k, v]) => [...k, ...v])];
export const key = str;

export interface Shape {
  name: string;
  bytes: Uint8Array;
}

/** Shapes that no decoder may take: each must be a typed error for its sender. */
export const STRUCTURAL_SHAPES: readonly Shape[] = [
  { name: 'arrays 10,000 deep', bytes: new Uint8Array([...repeat([0x91], 10_000), 0xc0]) },
  { name: 'maps 3,000 deep', bytes: new Uint8Array([...repeat([0x81, 0xa1, 0x6b], 3_000), 0xc0]) },
  { name: 'str32 header claiming 2^32-1 bytes', bytes: new Uint8Array([0xdb, ...u32(0xffffffff), ...repeat([0x61], 100)]) },
  { name: 'bin32 header claiming 2^32-1 bytes', bytes: new Uint8Array([0xc6, ...u32(0xffffffff), ...repeat([0], 100)]) },
  { name: 'array32 header claiming 2^32-1 items', bytes: new Uint8Array([0xdd, ...u32(0xffffffff), ...repeat([0xc0], 100)]) },
  { name: 'map32 header claiming 2^32-1 entries', bytes: new Uint8Array([0xdf, ...u32(0xffffffff), ...repeat([0xc0], 100)]) },
  { name: 'nested array32 headers, each claiming 2^32-1', bytes: new Uint8Array(repeat([0xdd, ...u32(0xffffffff)], 2000)) },
  { name: 'timestamp ext -1 (fixext8, nanoseconds past 10^9)', bytes: new Uint8Array([0xd7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) },
  { name: 'timestamp ext -1 (ext8 of 12, seconds 2^63-1)', bytes: new Uint8Array([0xc7, 12, 0xff, 0x3b, 0x9a, 0xc9, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) },
  { name: 'ext32 claiming 2^32-1 bytes', bytes: new Uint8Array([0xc9, ...u32(0xffffffff), 0x01, ...repeat([0], 100)]) },
  { name: 'a map with the key __proto__', bytes: new Uint8Array(fixmap([[key('__proto__'), fixmap([[key('polluted'), [0xc3]]])]])) },
  { name: 'a map with the keys constructor and prototype', bytes: new Uint8Array(fixmap([[key('constructor'), fixmap([[key('prototype'), fixmap([[key('polluted'), [0xc3]]])]])]])) },
  { name: 'a map keyed by a map', bytes: new Uint8Array([0x81, 0x80, 0xc0]) },
  { name: 'byte 0xc1 (never used)', bytes: new Uint8Array([0xc1]) },
  { name: 'a truncated map', bytes: new Uint8Array([0x83, 0xa1, 0x61]) },
  { name: 'trailing bytes after the message', bytes: new Uint8Array([0x80, 0x80]) },
  { name: 'an empty message', bytes: new Uint8Array(0) },
  { name: 'random bytes', bytes: Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24) },
  // 10 KB of tiny items: an array16 of empty maps, and a map16 of integer keys.
  { name: '10,000 empty fixmaps in one array', bytes: new Uint8Array([0xdc, ...u16(10_000), ...repeat([0x80], 10_000)]) },
  { name: 'a map of 2,500 integer keys', bytes: new Uint8Array([0xde, ...u16(2500), ...Array.from({ length: 2500 }, (_, i) => [0xcd, ...u16(i), 0xc0]).flat()]) },
];

/** A message `{ ...fields }` with one field's value replaced by raw msgpack bytes (the rest encoded normally). */
export function withField(fields: Record<string, unknown>, name: string, raw: readonly number[]): Uint8Array {
  const entries = Object.entries(fields).map(([k, v]): [number[], number[]] => [key(k), k === name ? [...raw] : [...encodeMessage(v)]]);
  if (!Object.hasOwn(fields, name)) entries.push([key(name), [...raw]]);
  return new Uint8Array(fixmap(entries));
}

/** A message whose `name` key comes twice: first `first`, then `second`. */
export function withDuplicateKey(fields: Record<string, unknown>, name: string, first: unknown, second: unknown): Uint8Array {
  const entries = Object.entries(fields).map(([k, v]): [number[], number[]] => [key(k), [...encodeMessage(k === name ? first : v)]]);
  entries.push([key(name), [...encodeMessage(second)]]);
  return new Uint8Array(fixmap(entries));
}

/** Raw msgpack for numbers a peer may put where a small unsigned integer belongs. */
export const HOSTILE_NUMBERS: readonly { name: string; raw: number[] }[] = [
  { name: 'NaN', raw: [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0] },
  { name: 'Infinity', raw: [0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0] },
  { name: '-Infinity', raw: [0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0] },
  { name: '1.5', raw: [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0] },
  { name: 'float32 0.5', raw: [0xca, 0x3f, 0, 0, 0] },
  { name: '-1', raw: [0xff] },
  { name: 'int64 min', raw: [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0] },
  { name: 'uint64 max (a bigint)', raw: [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] },
  { name: '2^53 (past safe integers)', raw: [0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0] },
  { name: 'uint32 max', raw: [0xce, 0xff, 0xff, 0xff, 0xff] },
  { name: 'a string "1"', raw: str('1') },
  { name: 'true', raw: [0xc3] },
  { name: 'nil', raw: [0xc0] },
];

/** Strings a peer may put where text belongs: raw UTF-8 bytes (some invalid) and what they mean. */
export const HOSTILE_STRINGS: readonly { name: string; raw: number[] }[] = [
  { name: 'a lone high surrogate (CESU bytes)', raw: rawStr([0x61, 0xed, 0xa0, 0x80, 0x62]) },
  { name: 'a lone low surrogate (CESU bytes)', raw: rawStr([0xed, 0xbf, 0xbf]) },
  { name: 'an overlong NUL', raw: rawStr([0xc0, 0x80]) },
  { name: 'a truncated sequence', raw: rawStr([0x61, 0xe2, 0x82]) },
  { name: 'NUL', raw: str('a\u0000b') },
  { name: 'a bidi override', raw: str('a\u202eb') },
  { name: 'an ANSI escape', raw: str('\u001b[2J') },
  { name: 'a BOM', raw: str('\ufeffa') },
];
