import { decodeMessage, ProtocolError, type DecodeLimits } from '../../src/index.js';

/**
 * Decodes a peer's msgpack message that must be a map with exactly `keys` (the demo agents' wire
 * format), bounded by `limits`. Anything else is a ProtocolError ERR_MALFORMED_MESSAGE naming `what`,
 * which costs the sender its connection. Returns the map and `bad`, for the caller's field checks.
 */
export function decodeExactMap(
  bytes: Uint8Array,
  limits: DecodeLimits,
  keys: readonly string[],
  what: string,
  peerId: string | undefined,
): { fields: Record<string, unknown>; bad: (why: string) => never } {
  const bad = (why: string): never => {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', `Malformed ${what}: ${why}`, { peerId });
  };
  let value: unknown;
  try {
    value = decodeMessage(bytes, limits);
  } catch (error) {
    return bad((error as Error).message);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return bad('not a map');
  const present = Object.keys(value);
  if (present.length !== keys.length || !present.every((key) => keys.includes(key))) return bad(`expected exactly the keys ${keys.join(', ')}`);
  return { fields: value as Record<string, unknown>, bad };
}
