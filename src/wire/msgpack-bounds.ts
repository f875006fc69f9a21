import { ProtocolError } from '../errors.js';
import type { DecodeLimits } from './config.js';

/** Sizes of the length fields after a str/bin/array/map header byte. */
const UINT8 = 1;
const UINT16 = 2;
const UINT32 = 4;

type Kind = 'array' | 'map' | 'str' | 'bin' | 'scalar';

/**
 * Walks msgpack bytes without building anything and throws ProtocolError ERR_MALFORMED_MESSAGE when
 * they break the format or `limits`: declared lengths past the end of the input, nesting deeper than
 * `maxDepth`, more than `maxElements` elements, strings or binaries over their caps, extension types
 * (we use none; the timestamp extension would build Dates), or trailing bytes.
 *
 * Every declared element must be backed by at least one remaining byte, so a message that passes
 * makes a decoder reserve at most one slot per input byte, and the walk itself is O(bytes).
 */
export function checkMsgpackBounds(bytes: Uint8Array, limits: DecodeLimits): void {
  const fail = (why: string, detail: Record<string, unknown> = {}): never => {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', `Message rejected: ${why}`, { detail: { ...detail, offset: position } });
  };
  if (bytes.length > limits.maxBytes) {
    throw new ProtocolError('ERR_MESSAGE_TOO_LARGE', `Message of ${bytes.length} bytes exceeds ${limits.maxBytes}`, {
      detail: { size: bytes.length, limit: limits.maxBytes },
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let position = 0;
  let elements = 0;
  // remaining[d] = items still to read in the container open at depth d (depth 0: the one top value).
  const remaining: number[] = [1];

  const readLength = (size: number): number => {
    if (position + size > end) fail('truncated length');
    let value: number;
    if (size === UINT8) value = view.getUint8(position);
    else if (size === UINT16) value = view.getUint16(position);
    else value = view.getUint32(position);
    position += size;
    return value;
  };
  const skip = (count: number, what: string): void => {
    if (count > end - position) fail(`${what} runs past the end of the message`, { declared: count, left: end - position });
    position += count;
  };

  while (remaining.length > 0) {
    const depth = remaining.length - 1;
    if (remaining[depth] === 0) {
      remaining.pop();
      continue;
    }
    remaining[depth]! -= 1;
    if (position >= end) fail('truncated message');
    const first = view.getUint8(position);
    position += 1;
    let kind: Kind = 'scalar';
    let count = 0;
    if (first <= 0x7f || first >= 0xe0 || first === 0xc0 || first === 0xc2 || first === 0xc3) {
      continue; // fixint, nil, false, true
    } else if (first >= 0x80 && first <= 0x8f) {
      kind = 'map';
      count = first & 0x0f;
    } else if (first >= 0x90 && first <= 0x9f) {
      kind = 'array';
      count = first & 0x0f;
    } else if (first >= 0xa0 && first <= 0xbf) {
      kind = 'str';
      count = first & 0x1f;
    } else {
      switch (first) {
        case 0xc4: kind = 'bin'; count = readLength(UINT8); break;
        case 0xc5: kind = 'bin'; count = readLength(UINT16); break;
        case 0xc6: kind = 'bin'; count = readLength(UINT32); break;
        case 0xca: skip(4, 'a float'); continue;
        case 0xcb: skip(8, 'a float'); continue;
        case 0xcc: case 0xd0: skip(1, 'an integer'); continue;
        case 0xcd: case 0xd1: skip(2, 'an integer'); continue;
        case 0xce: case 0xd2: skip(4, 'an integer'); continue;
        case 0xcf: case 0xd3: skip(8, 'an integer'); continue;
        case 0xd9: kind = 'str'; count = readLength(UINT8); break;
        case 0xda: kind = 'str'; count = readLength(UINT16); break;
        case 0xdb: kind = 'str'; count = readLength(UINT32); break;
        case 0xdc: kind = 'array'; count = readLength(UINT16); break;
        case 0xdd: kind = 'array'; count = readLength(UINT32); break;
        case 0xde: kind = 'map'; count = readLength(UINT16); break;
        case 0xdf: kind = 'map'; count = readLength(UINT32); break;
        case 0xc1: return fail('byte 0xc1 is never used in msgpack');
        default: return fail('extension types are not accepted', { type: first }); // 0xc7–0xc9, 0xd4–0xd8
      }
    }
    if (kind === 'str') {
      if (count > limits.maxStringBytes) fail(`a string of ${count} bytes exceeds ${limits.maxStringBytes}`, { declared: count });
      skip(count, 'a string');
      continue;
    }
    if (kind === 'bin') {
      if (count > limits.maxBinaryBytes) fail(`a binary of ${count} bytes exceeds ${limits.maxBinaryBytes}`, { declared: count });
      skip(count, 'a binary');
      continue;
    }
    const items = kind === 'map' ? count * 2 : count;
    if (items > end - position) fail(`a ${kind} declares ${count} entries but only ${end - position} bytes follow`, { declared: count });
    elements += items;
    if (elements > limits.maxElements) fail(`more than ${limits.maxElements} elements`, { limit: limits.maxElements });
    if (depth + 1 > limits.maxDepth) fail(`nesting deeper than ${limits.maxDepth}`, { limit: limits.maxDepth });
    if (items > 0) remaining.push(items);
  }
  if (position !== end) fail(`${end - position} bytes after the message`);
}
