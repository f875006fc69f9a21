import { Decoder, Encoder } from '@msgpack/msgpack';
import { ProtocolError } from '../errors.js';

/**
 * msgpack for agent messages and the handshake. One shared Encoder/Decoder pair: reuse is several
 * times faster than the one-shot helpers. Decoding caps lengths so a hostile peer cannot make us
 * allocate huge arrays from a few bytes.
 */
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({
  maxStrLength: 1024 * 1024,
  maxBinLength: 64 * 1024 * 1024,
  maxArrayLength: 100_000,
  maxMapLength: 10_000,
  maxExtLength: 0,
});

export function encodeMessage(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Decodes msgpack; any malformation is a ProtocolError ERR_MALFORMED_MESSAGE. */
export function decodeMessage(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (error) {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', `Malformed msgpack message: ${(error as Error).message}`, { cause: error });
  }
}
