/** Fuzz inputs for node ids and address text: well-formed, nearly so, and not at all. */
import { bytesToHex } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { anyCodePoint } from './fuzz-msgpack.js';

export const nodeId = fc.uint8Array({ minLength: 20, maxLength: 20 }).map(bytesToHex);
/** Stands for "the id of the node sending this"; replaced once that id is known. */
export const SELF = '<self>';
export const FIXED_ID = 'aa'.repeat(20);

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
export const addressText = fc.oneof(
  { weight: 4, arbitrary: structuredAddress },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ unit: anyCodePoint, maxLength: 80 }) },
);
