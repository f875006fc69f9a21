/**
 * Fuzz targets: every decoder that reads bytes a peer (or a corrupted file on disk) controls, each
 * with a generator that mixes arbitrary bytes with inputs that know the format: valid messages,
 * mutated or spliced ones, msgpack bombs, absurd length prefixes. Run by bench/fuzz.ts (CLI) and
 * test/fuzz/fuzz.test.ts. The contract checked by the runner: a target returns, or throws one of
 * the MeshlinkError classes its decoder documents; anything else is a bug.
 */
import { encode } from '@msgpack/msgpack';
import { bytesToHex } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { FrameDecoder, FrameEncoder } from '../src/conn/secure-link-frame.js';
import { nobleChaCha20Poly1305, type AeadFactory } from '../src/crypto/aead.js';
import { MAX_FRAME_PAYLOAD_BYTES } from '../src/crypto/constants.js';
import { ConfigError, HandshakeError, ProtocolError } from '../src/errors.js';
import { decodeAddressBook } from '../src/pex/address-book-format.js';
import { canonicalHost, classifyAddress, classifyHost, isRoutable } from '../src/transport/ip.js';
import { AddressBook } from '../src/pex/address-book.js';
import { decodePexMessage, namesNode } from '../src/pex/pex-messages.js';
import { decodeSignalMessage } from '../src/webrtc/signal-messages.js';
import { UpnpError } from '../src/nat/port-mapper.js';
import { parseDeviceDescription, parseSoapAnswer } from '../platforms/node/upnp/soap.js';
import { parseSsdpAnswer } from '../platforms/node/upnp/ssdp.js';
import { LinkMessageReader } from '../src/switch/link-messages.js';
import { MAX_NODE_INFO_BYTES, NODE_INFO_DECODE_LIMITS, parseNodeInfo, PROTOCOL_VERSION } from '../src/switch/node-info.js';
import { endpointHost, normalizeAddress, parseAddress } from '../src/transport/address.js';
import type { Link, LinkHandlers } from '../src/transport/link.js';
import { decodeMessage } from '../src/wire/codec.js';
import { PacketDecoder } from '../src/wire/packet.js';

export interface FuzzTarget<T = unknown> {
  readonly name: string;
  readonly input: fc.Arbitrary<T>;
  /** Decodes one input; may throw one of `rejectsWith` (a clean rejection). */
  run(input: T): void | Promise<void>;
  /** The input as hex (plus split points), for failure reports. */
  show(input: T): string;
  /**
   * What the decoder documents it throws on bad input; anything else thrown (a TypeError, but also a
   * MeshlinkError of another class, which callers would misfile) is a bug. Empty: it never throws.
   */
  readonly rejectsWith: readonly ErrorClass[];
}

export type ErrorClass = abstract new (...args: never[]) => Error;

// ---- bytes -------------------------------------------------------------------------------------

const u16 = (n: number): number[] => [(n >>> 8) & 0xff, n & 0xff];
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

function concat(parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
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

function chunked(bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Chunked> {
  return fc.record({ bytes, cuts: fc.array(fc.nat(), { maxLength: 8 }), byteByByte: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 7, arbitrary: fc.constant(false) }) });
}

const BYTE_BY_BYTE_MAX_BYTES = 4096;

function chunksOf({ bytes, cuts, byteByByte }: Chunked): Uint8Array[] {
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

const showChunked = (input: Chunked): string =>
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

const mutated = (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => edits.reduce(mutate, bytes));

/** Head of one valid message glued to the tail of another. */
const spliced = (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.tuple(valid, valid, fc.nat(), fc.nat()).map(([a, b, i, j]) => concat([a.subarray(0, i % (a.length + 1)), b.subarray(j % (b.length + 1))]));

// ---- msgpack bombs: headers that declare far more than the bytes hold ---------------------------

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

// ---- values and valid messages ------------------------------------------------------------------

/**
 * Any code point, lone surrogates included. Not fc's unit 'binary': its reverse map of all 1.1M code
 * points (built on first use) costs ~40 MB and seconds, which would dwarf the decoders in time and heap.
 */
const anyCodePoint = fc.nat(0x10ffff).map((codePoint) => String.fromCodePoint(codePoint));
/** Keys a decoder or validator might treat specially. */
const SPECIAL_KEYS = ['type', 'addresses', 'id', 'data', 'candidate', 'version', '__proto__', 'constructor', 'toString', 'valueOf', ''];
const scalar = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.constantFrom(2 ** 53, -(2 ** 63), 2 ** 64, -0),
  fc.string({ maxLength: 40 }), fc.string({ unit: anyCodePoint, maxLength: 20 }), fc.uint8Array({ maxLength: 32 }),
);
const msgpackValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; array: unknown[]; map: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ maxDepth: 5, depthSize: 'small' }, scalar, tie('array'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  map: fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...SPECIAL_KEYS)), tie('value'), { maxKeys: 6, noNullPrototype: true }),
})).value;

const nodeId = fc.uint8Array({ minLength: 20, maxLength: 20 }).map(bytesToHex);
/** Stands for "the id of the node sending this"; replaced once that id is known. */
const SELF = '<self>';
const FIXED_ID = 'aa'.repeat(20);

const hostText = fc.oneof(
  fc.ipV4(), fc.ipV4Extended(), fc.ipV6().map((ip) => `[${ip}]`), fc.ipV6(), fc.domain(),
  fc.constantFrom('localhost', '0.0.0.0', '[::]', '[::ffff:127.0.0.1]', '[fe80::1%eth0]', '[', ']', '[::1', 'a..b', '', '[1.2.3.4]', '[%]'),
  fc.string({ maxLength: 12 }),
  fc.tuple(fc.string({ minLength: 1, maxLength: 3 }), fc.integer({ min: 300, max: 1100 })).map(([s, n]) => s.repeat(n)),
);
const portText = fc.oneof(fc.nat(65535).map(String), fc.constantFrom('', '0', '65536', '99999', '-1', '0x50', '１２', '00080'), fc.string({ maxLength: 6 }));
const idText = fc.oneof(
  fc.constant(''), fc.constant(`${SELF}@`), nodeId.map((id) => `${id}@`), nodeId.map((id) => `${id.toUpperCase()}@`),
  fc.string({ maxLength: 44 }).map((s) => `${s}@`),
);
const tailText = fc.oneof(
  fc.constant(''), fc.constant('/'), fc.string({ maxLength: 20 }).map((s) => `/${s}`), nodeId.map((id) => `?via=${id}`),
  fc.string({ maxLength: 30 }).map((s) => `?${s}`), fc.constantFrom('?via=', '?via=%zz', '?a=1&a=2&&&=', '/p?via=x#y'),
  // Long queries of characters URLSearchParams re-encodes longer: near the 1024-character cap.
  fc.tuple(fc.constantFrom('?', ' ', '%', '&', '=', '+', 'é', '\u{1f600}'), fc.integer({ min: 100, max: 1100 })).map(([c, n]) => `?${c.repeat(n)}`),
);
const protocolText = fc.constantFrom('tcp', 'ws', 'wss', 'webrtc', 'memory', 'TCP', 'x+y', '1tcp', '');
const structuredAddress = fc.oneof(
  fc.tuple(protocolText, idText, hostText, portText, tailText).map(([p, id, host, port, tail]) => `${p}://${id}${host}:${port}${tail}`),
  fc.tuple(protocolText, idText, hostText, tailText).map(([p, id, host, tail]) => `${p}://${id}${host}${tail}`),
  fc.tuple(fc.oneof(nodeId, fc.constant(SELF), fc.string({ maxLength: 42 })), tailText).map(([id, tail]) => `webrtc://${id}${tail}`),
);
const addressText = fc.oneof(
  { weight: 4, arbitrary: structuredAddress },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ unit: anyCodePoint, maxLength: 80 }) },
);

/** Valid-looking records with fields deleted or replaced by values of any type, and extra fields. */
function tampered<T extends object>(record: fc.Arbitrary<T>, fields: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
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
function peerBytes(validValues: fc.Arbitrary<unknown>, bombPrefix: unknown): fc.Arbitrary<Uint8Array> {
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

const nodeInfoValue = fc
  .record({
    // Mostly valid fields (tampering and mutation break them), so the checks late in parseNodeInfo run too.
    id: nodeId, network: fc.oneof({ weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 64 }) }, fc.string({ maxLength: 70 })),
    protocolVersion: fc.oneof({ weight: 4, arbitrary: fc.constant(PROTOCOL_VERSION) }, fc.string({ maxLength: 20 })),
    channels: fc.oneof({ weight: 4, arbitrary: fc.uniqueArray(fc.nat(255), { maxLength: 40 }) }, fc.array(fc.integer(), { maxLength: 260 })),
    recvMessageCapacities: fc.oneof({ weight: 4, arbitrary: fc.array(fc.integer({ min: 1, max: 1 << 20 }), { maxLength: 40 }) }, fc.array(fc.integer(), { maxLength: 260 })),
    listenAddresses: fc.array(addressText, { maxLength: 18 }),
    moniker: fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 64 }) }, fc.string({ maxLength: 70 })), software: fc.constant('meshlink/0.1.0'),
  })
  .map((info) => ({
    ...info,
    // Mostly one capacity per channel, so the fields after the capacities are reached too.
    recvMessageCapacities: info.recvMessageCapacities.length > 0 && info.recvMessageCapacities[0]! > 0 ? info.channels.map((_, i) => info.recvMessageCapacities[i % info.recvMessageCapacities.length]!) : info.recvMessageCapacities,
    listenAddresses: info.listenAddresses.map((a) => a.replace(SELF, info.id)),
  }));

const pexValue = fc.oneof(
  fc.constant({ type: 'pexRequest' }),
  fc.record({ type: fc.constant('pexResponse'), addresses: fc.array(addressText, { maxLength: 40 }) }),
  // Huge arrays of addresses: past the per-response cap (250), the element cap and the byte cap (~250 KiB).
  fc.tuple(addressText, fc.integer({ min: 0, max: 1000 })).map(([a, n]) => ({ type: 'pexResponse', addresses: new Array<string>(n).fill(a) })),
);

const longText = (max: number): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ maxLength: 200 }), fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.nat(max)).map(([s, n]) => s.repeat(n).slice(0, max)));
const signalData = fc.oneof(
  fc.record({ type: fc.constantFrom('offer', 'answer'), sdp: longText(14_000) }),
  fc.record({
    type: fc.constant('candidate'),
    candidate: fc.record(
      { candidate: longText(1100), sdpMLineIndex: fc.option(fc.oneof(fc.integer({ min: -1, max: 70 }), fc.double())), sdpMid: fc.option(fc.string({ maxLength: 70 })) },
      { requiredKeys: ['candidate'] },
    ),
  }),
);
const signalValue = fc.oneof(
  tampered(fc.record({ type: fc.constant('signal'), from: nodeId, to: nodeId, data: fc.oneof(signalData, tampered(signalData, ['type', 'sdp', 'candidate'])) }), ['type', 'from', 'to', 'data']),
  tampered(fc.record({ type: fc.constant('unreachable'), to: nodeId }), ['type', 'to']),
);

// ---- the address book file (JSON) --------------------------------------------------------------
// msgpackValue serves as JSON too: JSON.stringify maps its NaN to null and its bytes to objects, and its
// maps may hold toString/valueOf/__proto__ keys, which JSON.parse makes own properties.

const plainCount = fc.oneof({ weight: 5, arbitrary: fc.nat() }, fc.constantFrom(-1, 0.5, 2 ** 53, 1e308, null, '1'));
const jsonCount = fc.oneof({ weight: 5, arbitrary: plainCount }, msgpackValue);
const mostlyCount = fc.oneof({ weight: 9, arbitrary: fc.nat() }, jsonCount);
const entryOf = (count: fc.Arbitrary<unknown>, buckets: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> => fc.record({
  address: addressText.map((a) => a.replace(SELF, FIXED_ID)), source: addressText, attempts: count, lastAttempt: count,
  lastSuccess: count, lastSeen: count, lastBanTime: count, bucketType: fc.constantFrom('new', 'old', 'x'), buckets,
});
const bookEntry = entryOf(jsonCount, fc.oneof(fc.array(fc.nat(300), { maxLength: 70 }), msgpackValue));
/** Repeated to make big books: small values, so a file stays under ~1 MB (parse time grows with size, rightly). */
const plainEntry = entryOf(plainCount, fc.array(fc.nat(300), { maxLength: 4 })).map((entry) => ({
  ...entry, address: String(entry['address']).slice(0, 120), source: String(entry['source']).slice(0, 120),
}));
const bookDocument = fc.record({
  format: fc.oneof({ weight: 9, arbitrary: fc.constant('meshlink-address-book') }, msgpackValue),
  version: fc.oneof({ weight: 9, arbitrary: fc.constant(1) }, msgpackValue),
  savedAt: jsonCount,
  key: fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex) }, fc.string({ maxLength: 70 })),
  geometry: fc.oneof({ weight: 9, arbitrary: fc.record({ newBucketCount: mostlyCount, oldBucketCount: mostlyCount, bucketSize: mostlyCount }) }, msgpackValue),
  entries: fc.oneof(fc.array(bookEntry, { maxLength: 20 }), fc.tuple(plainEntry, fc.nat(2000)).map(([e, n]) => new Array<unknown>(n).fill(e))),
  bans: fc.array(fc.record({ nodeId, bannedUntil: jsonCount, entries: fc.oneof(fc.array(bookEntry, { maxLength: 3 }), msgpackValue) }), { maxLength: 4 }),
});
const bookFile = bookDocument.map((document) => utf8(JSON.stringify(document)));
const deepJson = fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean()).map(([n, closed]) => utf8('['.repeat(n) + (closed ? ']'.repeat(n) : '')));

// ---- frames, packets, handshake messages --------------------------------------------------------

const FRAME_KEY = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const sealedFrames = fc
  .array(fc.oneof({ weight: 30, arbitrary: fc.uint8Array({ maxLength: 300 }) }, fc.nat(MAX_FRAME_PAYLOAD_BYTES).map((n) => new Uint8Array(n))), { maxLength: 5 })
  .map((payloads) => {
    const encoder = new FrameEncoder(nobleChaCha20Poly1305(FRAME_KEY), MAX_FRAME_PAYLOAD_BYTES);
    return concat(payloads.map((payload) => encoder.encode(payload)));
  });
const maxSealed = MAX_FRAME_PAYLOAD_BYTES + 16;
const frameLengthPrefix = fc
  .tuple(fc.oneof(fc.constantFrom(0xffffffff, 0x80000000, maxSealed, maxSealed + 1, 16, 15, 0), fc.nat()), fc.uint8Array({ maxLength: 64 }))
  .map(([length, tail]) => concat([u32(length), tail]));
const frameStream = fc.oneof(fc.uint8Array({ maxLength: 512 }), sealedFrames, mutated(sealedFrames), spliced(sealedFrames), frameLengthPrefix);

const packet = fc
  .record({ kind: fc.oneof(fc.constantFrom(1, 2, 3, 4), fc.nat(255)), channel: fc.nat(255), length: fc.option(fc.nat(0xffff)), payload: fc.uint8Array({ maxLength: 300 }) })
  .map((p) => (p.kind === 3 || p.kind === 4 ? Uint8Array.of(p.kind) : concat([[p.kind, p.channel, ...u16(p.length ?? p.payload.length)], p.payload])));
const packets = fc.array(packet, { maxLength: 8 }).map(concat);
const packetStream = fc.oneof(fc.uint8Array({ maxLength: 512 }), packets, mutated(packets));

const handshakeMessage = fc
  .record({ declared: fc.option(fc.oneof(fc.nat(MAX_NODE_INFO_BYTES + 8), fc.constantFrom(0xffffffff, MAX_NODE_INFO_BYTES, MAX_NODE_INFO_BYTES + 1))), body: fc.uint8Array({ maxLength: 200 }) })
  .map(({ declared, body }) => concat([u32(declared ?? body.length), body]));
const handshakeStream = fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.array(handshakeMessage, { maxLength: 6 }).map(concat));

/** A Link driven by the fuzzer; honours pause/resume (data waits, as in the kernel) to give LinkMessageReader real backpressure. */
class ScriptedLink implements Link {
  readonly transport = 'memory';
  readonly remoteAddress = 'fuzz';
  readonly bufferedBytes = 0;
  closed = false;
  private handlers: LinkHandlers | undefined;
  private paused = false;
  private delivering = false;
  private readonly waiting: Uint8Array[] = [];

  attach(handlers: LinkHandlers): void { this.handlers = handlers; }
  write(): boolean { return !this.closed; }
  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; this.deliver(); }
  close(): void { this.destroy(); }
  destroy(error?: Error): void {
    if (!this.closed) this.handlers?.onClose(error);
    this.closed = true;
  }
  /** Queues a chunk from the "network" and delivers what backpressure allows. */
  deliver(chunk?: Uint8Array): void {
    if (chunk !== undefined) this.waiting.push(chunk);
    if (this.delivering) return; // resume() from inside onData: the outer loop carries on
    this.delivering = true;
    while (!this.paused && !this.closed && this.waiting.length > 0) this.handlers?.onData(this.waiting.shift()!);
    this.delivering = false;
  }
}

const PENDING = Symbol('pending');
/** The promise's value if it has settled by now (rejections are thrown), else PENDING. */
const settledValue = <T>(promise: Promise<T>): Promise<T | typeof PENDING> => Promise.race([promise, Promise.resolve(PENDING)]);

// ---- the targets --------------------------------------------------------------------------------

const define = <T>(target: FuzzTarget<T>): FuzzTarget => target as FuzzTarget;
const bytesTarget = (name: string, input: fc.Arbitrary<Uint8Array>, run: (bytes: Uint8Array) => unknown, rejectsWith: readonly ErrorClass[] = [ProtocolError]): FuzzTarget =>
  define<Uint8Array>({ name, input, run: (bytes) => void run(bytes), show: bytesToHex, rejectsWith });

/** Streaming decoders return their error instead of throwing it: the same contract applies, so throw it. */
function checkReturned(error: unknown): void {
  if (error !== undefined) throw error;
}

const frameTarget = (name: string, aead: AeadFactory): FuzzTarget =>
  define<Chunked>({
    name,
    input: chunked(frameStream),
    run(input) {
      const decoder = new FrameDecoder(aead(FRAME_KEY), MAX_FRAME_PAYLOAD_BYTES);
      for (const chunk of chunksOf(input)) checkReturned(decoder.push(chunk, () => undefined));
    },
    show: showChunked,
    rejectsWith: [ProtocolError],
  });

/**
 * What a LAN host answering our SSDP search controls: the answer's headers, the device description
 * and SOAP answers. Pieces that steer a backtracking parser (tags that never close, attributes that
 * never end, unterminated CDATA) are repeated into bombs up to 64 KiB, where a quadratic parse costs
 * far over the runner's time budget.
 */
const GATEWAY_PIECES = [
  '<service>', '</service>', '<service ', '<serviceType>', 'urn:schemas-upnp-org:service:WANIPConnection:1', '</serviceType>',
  '<controlURL>', '/ctl', 'http://127.0.0.2/x', '</controlURL>', '<URLBase>', '</URLBase>', '<a ', '<a>', '</a>', '<u:AResponse>',
  '</u:AResponse>', '<UPnPError>', '<errorCode>', '718', '</errorCode>', '<![CDATA[', ']]>', '>', '/>', '&amp;', '&#x41;', '&#99999999;',
  ' ', '\r\n', 'ST: urn:x', 'LOCATION: http://10.0.0.1:5000/d.xml', 'HTTP/1.1 200 OK', ':',
];
const gatewayText = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...GATEWAY_PIECES), { maxLength: 200 }).map((pieces) => pieces.join('')) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...GATEWAY_PIECES), fc.constantFrom(...GATEWAY_PIECES), fc.integer({ min: 1, max: 64 * 1024 }))
      .map(([head, piece, bytes]) => head + piece.repeat(Math.ceil(bytes / piece.length))),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 2000 }) },
);

const NODE_INFO_FIELDS = ['id', 'network', 'protocolVersion', 'channels', 'recvMessageCapacities', 'listenAddresses', 'moniker', 'software'];

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  frameTarget('secure-link-frame/noble', nobleChaCha20Poly1305),
  frameTarget('secure-link-frame/node', nodeChaCha20Poly1305),
  define<Chunked>({
    name: 'packet',
    input: chunked(packetStream),
    run(input) {
      const decoder = new PacketDecoder({ onMsgPacket: () => undefined, onPing: () => undefined, onPong: () => undefined });
      for (const chunk of chunksOf(input)) checkReturned(decoder.push(chunk));
    },
    show: showChunked,
    rejectsWith: [ProtocolError],
  }),
  bytesTarget('msgpack', peerBytes(msgpackValue, { a: 0 }), (bytes) => decodeMessage(bytes)),
  bytesTarget('node-info', peerBytes(tampered(nodeInfoValue, NODE_INFO_FIELDS), { id: FIXED_ID, channels: 0 }), (bytes) =>
    parseNodeInfo(decodeMessage(bytes, NODE_INFO_DECODE_LIMITS), FIXED_ID), [ProtocolError, HandshakeError]),
  bytesTarget('pex', peerBytes(fc.oneof(pexValue, tampered(pexValue, ['type', 'addresses'])), { type: 'pexResponse', addresses: 0 }), (bytes) => {
    const message = decodePexMessage(bytes, FIXED_ID);
    if (message.type !== 'pexResponse') return;
    message.addresses.some((address) => namesNode(address, FIXED_ID));
    // What the PEX agent does with an answer: any hostile list either refuses or adds within the caps.
    const book = new AddressBook({ allowLocal: true, ourNodeId: FIXED_ID });
    const { added, refused } = book.tryAddAddresses(message.addresses, `tcp://${'c'.repeat(40)}@8.8.4.4:26656`, 100);
    if ((refused !== undefined && book.size() !== 0) || added > 100 || book.size() !== added) throw new Error(`batch add broke its contract: added ${added}, size ${book.size()}`);
  }),
  bytesTarget('signal', peerBytes(signalValue, { type: 'signal', from: FIXED_ID, to: FIXED_ID, data: 0 }), decodeSignalMessage),
  define<string>({
    name: 'address',
    input: addressText.map((a) => a.replace(SELF, FIXED_ID)),
    run(text) {
      classifyHost(text);
      canonicalHost(text);
      endpointHost(text);
      namesNode(text, FIXED_ID);
      const normal = normalizeAddress(text);
      // parseNodeInfo re-parses normalizeAddress's output outside any try: it must parse, to itself.
      if (normal !== undefined && normalizeAddress(normal) !== normal) {
        const again = normalizeAddress(normal);
        throw new Error(`normalizeAddress is not idempotent: ${normal.length} chars ${JSON.stringify(normal.slice(0, 80))}… -> ${again === undefined ? 'undefined' : JSON.stringify(again.slice(0, 80))}`);
      }
      const address = parseAddress(text);
      classifyAddress(address);
      isRoutable(address);
      canonicalHost(address.host);
    },
    show: (text) => `${bytesToHex(utf8(text))} ${JSON.stringify(text)}`,
    rejectsWith: [ConfigError],
  }),
  define<Chunked>({
    name: 'link-messages',
    input: chunked(handshakeStream),
    async run(input) {
      const link = new ScriptedLink();
      const reader = new LinkMessageReader(link, MAX_NODE_INFO_BYTES);
      let next = reader.next(); // outstanding before any data: the waiter path
      for (const chunk of chunksOf(input)) {
        link.deliver(chunk);
        while ((await settledValue(next)) !== PENDING) next = reader.next();
      }
      reader.detach();
    },
    show: showChunked,
    rejectsWith: [ProtocolError],
  }),
  define<string>({
    name: 'upnp-gateway-text',
    input: gatewayText,
    run(text) {
      parseSsdpAnswer(text, '10.0.0.1');
      parseDeviceDescription(text, 'http://10.0.0.1:5000/d.xml');
      for (const status of [200, 500]) {
        try {
          parseSoapAnswer('A', status, text);
        } catch (error) {
          if (!(error instanceof UpnpError)) throw error;
        }
      }
    },
    show: (text) => JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text),
    rejectsWith: [],
  }),
  bytesTarget('address-book-file', fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
    { weight: 2, arbitrary: bookFile },
    { weight: 4, arbitrary: mutated(bookFile) },
    { weight: 1, arbitrary: spliced(bookFile) },
    { weight: 1, arbitrary: deepJson },
  ), decodeAddressBook, []), // it reports every problem as { ok: false, reason }
];
