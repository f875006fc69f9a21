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
  checkMsgpackBounds(bytes, Object.isFrozen(limits) && isComplete(limits) ? limits : resolveDecodeLimits(limits));
  try {
    return decoder.decode(bytes);
  } catch (error) {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', `Malformed msgpack message: ${(error as Error).message}`, { cause: error });
  }
}

function isComplete(limits: Partial<DecodeLimits>): limits is DecodeLimits {
  return limits.maxBytes !== undefined && limits.maxDepth !== undefined && limits.maxElements !== undefined
    && limits.maxStringBytes !== undefined && limits.maxBinaryBytes !== undefined;
}
