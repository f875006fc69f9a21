import { Decoder, Encoder } from '@msgpack/msgpack';
import { ProtocolError } from '../errors.js';
import { DEFAULT_DECODE_LIMITS, resolveDecodeLimits, type DecodeLimits } from './config.js';
import { checkMsgpackBounds } from './msgpack-bounds.js';

/**
 * msgpack for agent messages and the handshake. One shared Encoder/Decoder pair: reuse is several
 * times faster than the one-shot helpers. Every decode first walks the bytes against DecodeLimits
 * (`checkMsgpackBounds`), so the decoder only ever sees messages whose declared sizes the input
 * itself backs; its own caps are a second fence at the largest limit a caller may set.
 */
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({ maxExtLength: 0 });
const rawStringDecoder = new Decoder({ maxExtLength: 0, rawStrings: true });

export function encodeMessage(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/**
 * Decodes msgpack from a peer, bounded by `limits` (merged over DEFAULT_DECODE_LIMITS): size, nesting
 * depth, total elements, string and binary lengths, declared lengths against the bytes that remain.
 * Extension types are refused. Throws ProtocolError ERR_MALFORMED_MESSAGE (ERR_MESSAGE_TOO_LARGE for
 * size); memory used is at most a small multiple of the input. Pass a frozen limits object (e.g. from
 * `resolveDecodeLimits`) on hot paths: it is used as is.
 */
export function decodeMessage(bytes: Uint8Array, limits: Partial<DecodeLimits> = DEFAULT_DECODE_LIMITS): unknown {
  return decodeWith(decoder, bytes, limits);
}

/**
 * decodeMessage for a format that turns its strings into text itself: string values (map keys stay
 * strings) come back as views of their UTF-8 bytes inside `bytes`. msgpack decodes a short string one
 * character at a time into a growing array, about 1 KiB of garbage per 60-character string, which
 * made a quarter of all allocation in a node answering PEX; one `TextDecoder` call per string makes
 * only the string. Pass limits with `maxBinaryBytes: 0` so that every Uint8Array in the result was a
 * string on the wire (no default: the defaults allow binary, which would make the two indistinguishable).
 */
export function decodeMessageRawStrings(bytes: Uint8Array, limits: Partial<DecodeLimits>): unknown {
  return decodeWith(rawStringDecoder, bytes, limits);
}

// ignoreBOM: a leading U+FEFF is part of the string the peer sent, not something to drop silently.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A raw string from decodeMessageRawStrings as text; ProtocolError ERR_MALFORMED_MESSAGE when it is not UTF-8. */
export function utf8Text(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch (error) {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', 'Malformed msgpack message: a string is not valid UTF-8', { cause: error });
  }
}

function decodeWith(chosen: Decoder, bytes: Uint8Array, limits: Partial<DecodeLimits>): unknown {
  checkMsgpackBounds(bytes, Object.isFrozen(limits) && isComplete(limits) ? limits : resolveDecodeLimits(limits));
  try {
    return chosen.decode(bytes);
  } catch (error) {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', `Malformed msgpack message: ${(error as Error).message}`, { cause: error });
  }
}

function isComplete(limits: Partial<DecodeLimits>): limits is DecodeLimits {
  return limits.maxBytes !== undefined && limits.maxDepth !== undefined && limits.maxElements !== undefined
    && limits.maxStringBytes !== undefined && limits.maxBinaryBytes !== undefined;
}
