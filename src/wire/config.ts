import { isIntegerIn, resolveConfig } from '../util/config.js';
import {
  DEFAULT_MAX_DECODE_BYTES,
  DEFAULT_MAX_DECODE_DEPTH,
  DEFAULT_MAX_DECODE_ELEMENTS,
  MAX_DECODE_BYTES_LIMIT,
} from './constants.js';

/**
 * Limits on one msgpack message from a peer, checked before any decoder allocates: a container
 * header may declare 4 billion elements in 5 bytes, and a decoder that trusts it reserves memory for
 * all of them.
 */
export interface DecodeLimits {
  /** Largest encoded message, in bytes. @default 1 MiB */
  readonly maxBytes: number;
  /** Deepest nesting of arrays and maps (a scalar at the top is depth 0, `[1]` is depth 1). @default 16 */
  readonly maxDepth: number;
  /** Array items plus map keys and values, summed over the whole message. @default 65_536 */
  readonly maxElements: number;
  /** Longest string, in UTF-8 bytes. @default 1 MiB */
  readonly maxStringBytes: number;
  /** Longest binary, in bytes. @default 1 MiB */
  readonly maxBinaryBytes: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxBytes: DEFAULT_MAX_DECODE_BYTES,
  maxDepth: DEFAULT_MAX_DECODE_DEPTH,
  maxElements: DEFAULT_MAX_DECODE_ELEMENTS,
  maxStringBytes: DEFAULT_MAX_DECODE_BYTES,
  maxBinaryBytes: DEFAULT_MAX_DECODE_BYTES,
});

/** Merges over DEFAULT_DECODE_LIMITS and checks each limit is a sane integer. */
export function resolveDecodeLimits(partial: Partial<DecodeLimits> = {}): Readonly<DecodeLimits> {
  return Object.freeze(
    resolveConfig('decode limits', DEFAULT_DECODE_LIMITS, partial, (config, reject) => {
      for (const key of ['maxBytes', 'maxElements', 'maxStringBytes', 'maxBinaryBytes'] as const) {
        if (!isIntegerIn(config[key], 0, MAX_DECODE_BYTES_LIMIT)) reject(`${key} must be an integer in 0..${MAX_DECODE_BYTES_LIMIT}`);
      }
      if (!isIntegerIn(config.maxDepth, 0, 256)) reject('maxDepth must be an integer in 0..256');
    }),
  );
}
