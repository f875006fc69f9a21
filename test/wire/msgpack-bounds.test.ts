import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, MeshlinkError, resolveDecodeLimits } from '../../src/index.js';

function rejectionOf(bytes: Uint8Array, limits?: Parameters<typeof decodeMessage>[1]): MeshlinkError {
  try {
    decodeMessage(bytes, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(MeshlinkError);
    return error as MeshlinkError;
  }
  throw new Error('decodeMessage accepted the input');
}

/** `levels` nested array32 headers, each declaring `declared` elements: the ~1 KB → 160 MB bomb. */
function nestedArrayBomb(levels: number, declared: number, header = 0xdd): Uint8Array {
  const bytes = new Uint8Array(levels * 5);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < levels; i++) {
    view.setUint8(i * 5, header);
    view.setUint32(i * 5 + 1, declared);
  }
  return bytes;
}

describe('decodeMessage bounds (checkMsgpackBounds)', () => {
  it('rejects nested array headers that declare more elements than bytes follow, without allocating', () => {
    const before = process.memoryUsage().heapUsed;
    for (const header of [0xdd, 0xdf]) {
      const error = rejectionOf(nestedArrayBomb(2000, 100_000, header));
      expect(error.code).toBe('ERR_MALFORMED_MESSAGE');
      expect(error.message).toMatch(/declares 100000 entries/);
    }
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(32 * 1024 * 1024);
  });

  it('rejects array16 headers whose total stays within the input but nest past maxDepth', () => {
    // 0x91 = fixarray(1): 1000 levels, each honestly backed by the bytes after it.
    const deep = new Uint8Array(1001).fill(0x91);
    deep[1000] = 0xc0;
    expect(rejectionOf(deep).message).toMatch(/nesting deeper than 16/);
    let expected: unknown = null;
    for (let i = 0; i < 16; i++) expected = [expected];
    expect(decodeMessage(deep.subarray(1000 - 16))).toEqual(expected);
  });

  it('counts elements over the whole message', () => {
    const wide = encodeMessage(Array.from({ length: 100 }, () => [1, 2, 3]));
    expect(rejectionOf(wide, { maxElements: 350 }).message).toMatch(/more than 350 elements/);
    expect(decodeMessage(wide, { maxElements: 400 })).toHaveLength(100);
  });

  it('rejects strings and binaries over their caps or past the end', () => {
    expect(rejectionOf(encodeMessage('x'.repeat(100)), { maxStringBytes: 99 }).message).toMatch(/string of 100 bytes/);
    expect(rejectionOf(encodeMessage(new Uint8Array(100)), { maxBinaryBytes: 99 }).message).toMatch(/binary of 100 bytes/);
    expect(rejectionOf(Uint8Array.of(0xd9, 0x10, 0x61)).message).toMatch(/past the end/);
    expect(rejectionOf(Uint8Array.of(0xc6, 0x00, 0x00, 0x01, 0x00, 0x00)).message).toMatch(/past the end/);
  });

  it('rejects extension types, the unused byte 0xc1, truncation and trailing bytes', () => {
    expect(rejectionOf(Uint8Array.of(0xd6, 0xff, 0, 0, 0, 0)).message).toMatch(/extension/); // timestamp ext
    expect(rejectionOf(Uint8Array.of(0xc1)).message).toMatch(/0xc1/);
    expect(rejectionOf(Uint8Array.of(0x92, 0x01)).message).toMatch(/only 1 bytes follow|truncated/);
    expect(rejectionOf(Uint8Array.of(0x01, 0x02)).message).toMatch(/1 bytes after the message/);
    expect(rejectionOf(Uint8Array.of(0xcd, 0x01)).message).toMatch(/past the end/);
    expect(rejectionOf(new Uint8Array(0)).message).toMatch(/truncated/);
  });

  it('rejects a message over maxBytes with ERR_MESSAGE_TOO_LARGE', () => {
    expect(rejectionOf(encodeMessage('x'.repeat(2000)), { maxBytes: 1000 }).code).toBe('ERR_MESSAGE_TOO_LARGE');
  });

  it('rejects __proto__ keys as malformed', () => {
    const bytes = Uint8Array.of(0x81, 0xa9, ...new TextEncoder().encode('__proto__'), 0x01);
    expect(rejectionOf(bytes).code).toBe('ERR_MALFORMED_MESSAGE');
  });

  it('refuses impossible limits with ERR_INVALID_CONFIG', () => {
    expect(() => resolveDecodeLimits({ maxDepth: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }));
    expect(() => decodeMessage(encodeMessage(1), { maxBytes: Number.NaN })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }));
  });

  it('decodes every value within the limits exactly as encoded (property)', () => {
    const value = fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    fc.assert(
      fc.property(value, (input) => {
        const bytes = encodeMessage(input);
        expect(decodeMessage(bytes, { maxDepth: 16, maxElements: 1_000_000 })).toEqual(input);
      }),
      { numRuns: 300, seed: 8 },
    );
  });

  it('never throws anything but a MeshlinkError on random bytes, and never accepts more elements than bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          decodeMessage(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(MeshlinkError);
        }
      }),
      { numRuns: 2000, seed: 9 },
    );
  });
});
