import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameDecoderState, FrameEncoder } from '../../src/conn/secure-link-frame.js';
import { nobleChaCha20Poly1305, type Aead } from '../../src/crypto/aead.js';
import { AEAD_TAG_BYTES, FRAME_HEADER_BYTES } from '../../src/crypto/constants.js';
import { ProtocolError } from '../../src/errors.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const MAX = 1024;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function pair(max = MAX, key = KEY): { encoder: FrameEncoder; decoder: FrameDecoder; aead: Aead } {
  const aead = nobleChaCha20Poly1305(key);
  return { encoder: new FrameEncoder(aead, max), decoder: new FrameDecoder(nobleChaCha20Poly1305(key), max), aead };
}


function lengthHeader(length: number): Uint8Array {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, length, false);
  return header;
}

/** Feeds chunks; collects frames and the first error. */
function feed(decoder: FrameDecoder, chunks: Uint8Array[]): { frames: Uint8Array[]; error: ProtocolError | undefined } {
  const frames: Uint8Array[] = [];
  let error: ProtocolError | undefined;
  for (const chunk of chunks) {
    error = decoder.push(chunk, (p) => frames.push(p));
    if (error !== undefined) break;
  }
  return { frames, error };
}

describe('FrameEncoder', () => {
  it('pins the wire bytes: u32be sealed length, then ChaCha20-Poly1305 with nonce 0000|u64le counter', () => {
    // Cross-checked once against node:crypto with nonces 00000000|0000000000000000 and …|0100000000000000.
    const { encoder } = pair();
    expect(bytesToHex(encoder.encode(text('hello')))).toBe('0000001570dd2e5dc20b4c4d4898a053334e265cbd1a1b62f7');
    expect(bytesToHex(encoder.encode(new Uint8Array(0)))).toBe('00000010a8d30d2553bfe08494e6aa8fd5b07296');
    expect(encoder.framesSealed).toBe(2);
  });

  it('refuses a payload above its maximum (callers split first)', () => {
    const { encoder } = pair(MAX);
    expect(() => encoder.encode(new Uint8Array(MAX + 1))).toThrow(RangeError);
    expect(encoder.encode(new Uint8Array(MAX)).length).toBe(FRAME_HEADER_BYTES + MAX + AEAD_TAG_BYTES);
  });
});

describe('FrameDecoder', () => {
  const messages = [text('hello'), new Uint8Array(0), text('x'.repeat(300)), Uint8Array.from({ length: MAX }, (_, i) => i & 0xff)];
  const encodeAll = (): Uint8Array => {
    const { encoder } = pair();
    return concatBytes(...messages.map((m) => encoder.encode(m)));
  };

  it('opens the pinned vector', () => {
    const { frames, error } = feed(pair().decoder, [hexToBytes('0000001570dd2e5dc20b4c4d4898a053334e265cbd1a1b62f7')]);
    expect(error).toBeUndefined();
    expect(frames).toEqual([text('hello')]);
  });

  it('decodes several frames coalesced in one chunk', () => {
    const { frames, error } = feed(pair().decoder, [encodeAll()]);
    expect(error).toBeUndefined();
    expect(frames).toEqual(messages);
  });

  it('decodes identically when the stream is split at every byte boundary', () => {
    const stream = encodeAll();
    const expected = messages.map(bytesToHex);
    for (let cut = 0; cut <= stream.length; cut++) {
      // Copies: the decoder owns what it is given and opens frames where they lie.
      const { frames, error } = feed(pair().decoder, [stream.slice(0, cut), stream.slice(cut)]);
      expect(error).toBeUndefined();
      // hex strings: comparing typed arrays element-wise 1400 times is the slow part of this test
      expect(frames.map(bytesToHex)).toEqual(expected);
    }
  });

  it('decodes identically when fed one byte at a time, parking between bytes', () => {
    const stream = encodeAll();
    const decoder = pair().decoder;
    const frames: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i++) {
      expect(decoder.push(stream.subarray(i, i + 1), (p) => frames.push(p))).toBeUndefined();
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(FRAME_HEADER_BYTES + MAX + AEAD_TAG_BYTES);
    }
    expect(frames).toEqual(messages);
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.state).toBe(FrameDecoderState.Header);
  });

  it('rejects a declared length over the limit right after the 4-byte header, before any payload', () => {
    const decoder = pair().decoder;
    const error = decoder.push(lengthHeader(MAX + AEAD_TAG_BYTES + 1), () => undefined);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error?.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(error?.detail).toMatchObject({ sealedLength: MAX + AEAD_TAG_BYTES + 1, maxSealedBytes: MAX + AEAD_TAG_BYTES });
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.state).toBe(FrameDecoderState.Failed);
  });

  it('rejects the oversize header even when it arrives one byte at a time', () => {
    const decoder = pair().decoder;
    const header = lengthHeader(0xffffffff);
    for (let i = 0; i < 3; i++) expect(decoder.push(header.subarray(i, i + 1), () => undefined)).toBeUndefined();
    expect(decoder.push(header.subarray(3), () => undefined)?.code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('accepts a declared length of exactly the limit and waits for it', () => {
    const decoder = pair().decoder;
    expect(decoder.push(lengthHeader(MAX + AEAD_TAG_BYTES), () => undefined)).toBeUndefined();
    expect(decoder.state).toBe(FrameDecoderState.Payload);
  });

  it('rejects a declared length shorter than the tag with ERR_DECRYPT', () => {
    expect(pair().decoder.push(lengthHeader(AEAD_TAG_BYTES - 1), () => undefined)?.code).toBe('ERR_DECRYPT');
  });

  it('rejects a tampered frame with ERR_DECRYPT and delivers nothing from it', () => {
    const stream = encodeAll();
    for (const index of [4, 10, FRAME_HEADER_BYTES + 5 + AEAD_TAG_BYTES - 1]) {
      const tampered = stream.slice();
      tampered[index]! ^= 0x80;
      const { frames, error } = feed(pair().decoder, [tampered]);
      expect(error?.code).toBe('ERR_DECRYPT');
      expect(frames).toEqual([]);
    }
  });

  it('rejects a replayed frame: the second copy fails under the next nonce', () => {
    const { encoder, decoder } = pair();
    const first = encoder.encode(text('pay 10'));
    const { frames, error } = feed(decoder, [first, first]);
    expect(frames).toEqual([text('pay 10')]);
    expect(error?.code).toBe('ERR_DECRYPT');
    expect(error?.detail).toMatchObject({ frameIndex: 1 });
  });

  it('rejects reordered frames', () => {
    const { encoder, decoder } = pair();
    const a = encoder.encode(text('a'));
    const b = encoder.encode(text('b'));
    expect(feed(decoder, [b, a]).error?.code).toBe('ERR_DECRYPT');
  });

  it('rejects frames sealed under another key', () => {
    const other = new FrameEncoder(nobleChaCha20Poly1305(new Uint8Array(32).fill(1)), MAX);
    expect(feed(pair().decoder, [other.encode(text('hi'))]).error?.code).toBe('ERR_DECRYPT');
  });

  it('keeps returning the same error and delivering nothing once failed', () => {
    const { encoder, decoder } = pair();
    const error = decoder.push(lengthHeader(1), () => undefined);
    const frames: Uint8Array[] = [];
    expect(decoder.push(encoder.encode(text('late')), (p) => frames.push(p))).toBe(error);
    expect(frames).toEqual([]);
  });

  it('stops in the middle of a chunk when halted from onFrame, and ignores later input', () => {
    const decoder = pair().decoder;
    const frames: Uint8Array[] = [];
    const result = decoder.push(encodeAll(), (p) => {
      frames.push(p);
      decoder.halt();
    });
    expect(result).toBeUndefined();
    expect(frames).toEqual([messages[0]]);
    expect(decoder.state).toBe(FrameDecoderState.Halted);
    expect(decoder.push(encodeAll(), (p) => frames.push(p))).toBeUndefined();
    expect(frames.length).toBe(1);
  });

  it('halts and rethrows when onFrame throws', () => {
    const decoder = pair().decoder;
    expect(() => decoder.push(encodeAll(), () => { throw new Error('consumer bug'); })).toThrow('consumer bug');
    expect(decoder.state).toBe(FrameDecoderState.Halted);
  });

  it('opens a frame that lies whole in a chunk where it lies: the plaintext is a view of the chunk, no copy', () => {
    const { encoder, decoder } = pair();
    const chunk = encoder.encode(text('abc'));
    let frame: Uint8Array | undefined;
    decoder.push(chunk, (p) => (frame = p));
    expect(frame).toEqual(text('abc'));
    expect(frame!.buffer).toBe(chunk.buffer);
    expect(frame!.byteOffset).toBe(chunk.byteOffset + FRAME_HEADER_BYTES);
  });

  it('opens a frame that straddles chunks in one buffer of its own, leaving the chunks it came in intact past the copy', () => {
    const { encoder, decoder } = pair();
    const stream = concatBytes(encoder.encode(text('first frame')), encoder.encode(text('second')));
    const parts = [stream.slice(0, 7), stream.slice(7, 20), stream.slice(20)];
    const { frames, error } = feed(decoder, parts);
    expect(error).toBeUndefined();
    expect(frames).toEqual([text('first frame'), text('second')]);
    expect(parts.some((part) => part.buffer === frames[0]!.buffer)).toBe(false);
  });
});

describe('FrameDecoder properties', () => {
  const SMALL_MAX = 64;
  const cap = FRAME_HEADER_BYTES + SMALL_MAX + AEAD_TAG_BYTES;
  const key = new Uint8Array(32).fill(3);

  // Random bytes would nearly always start with a huge length; mix in plausible headers.
  const plausibleFrame = fc
    .tuple(fc.integer({ min: 0, max: SMALL_MAX + AEAD_TAG_BYTES + 8 }), fc.uint8Array({ maxLength: 120 }))
    .map(([length, body]) => concatBytes(lengthHeader(length), body));
  const junk = fc.array(fc.oneof(fc.uint8Array({ maxLength: 200 }), plausibleFrame), { maxLength: 8 }).map((parts) => concatBytes(...parts));
  const cuts = fc.array(fc.nat(400), { maxLength: 10 });

  function splitAt(bytes: Uint8Array, positions: number[]): Uint8Array[] {
    const sorted = [...new Set(positions.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
    const chunks: Uint8Array[] = [];
    let start = 0;
    for (const cut of sorted) {
      chunks.push(bytes.subarray(start, cut));
      start = cut;
    }
    chunks.push(bytes.subarray(start));
    return chunks;
  }

  it('random input ends in a typed error or waiting for more, never a throw, never buffering past the cap', () => {
    fc.assert(
      fc.property(junk, cuts, (bytes, positions) => {
        const decoder = new FrameDecoder(nobleChaCha20Poly1305(key), SMALL_MAX);
        let last: ProtocolError | undefined;
        for (const chunk of splitAt(bytes, positions)) {
          last = decoder.push(chunk, () => undefined);
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(cap);
          if (last !== undefined) {
            expect(last).toBeInstanceOf(ProtocolError);
            expect(['ERR_DECRYPT', 'ERR_FRAME_TOO_LARGE']).toContain(last.code);
            expect(decoder.state).toBe(FrameDecoderState.Failed);
            expect(decoder.bufferedBytes).toBe(0);
          }
        }
        if (last === undefined) expect([FrameDecoderState.Header, FrameDecoderState.Payload]).toContain(decoder.state);
      }),
      { numRuns: 2000 },
    );
  });

  it('valid frames decode to the same messages under any chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: SMALL_MAX }), { maxLength: 12 }), cuts, (plaintexts, positions) => {
        const encoder = new FrameEncoder(nobleChaCha20Poly1305(key), SMALL_MAX);
        const stream = concatBytes(...plaintexts.map((p) => encoder.encode(p)));
        const { frames, error } = feed(new FrameDecoder(nobleChaCha20Poly1305(key), SMALL_MAX), splitAt(stream, positions));
        expect(error).toBeUndefined();
        expect(frames).toEqual(plaintexts);
      }),
      { numRuns: 500 },
    );
  });

  it('any single corrupted byte in a valid stream is detected (error or still waiting), never delivered', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: SMALL_MAX }), { minLength: 1, maxLength: 6 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (plaintexts, where, mask) => {
        const encoder = new FrameEncoder(nobleChaCha20Poly1305(key), SMALL_MAX);
        const stream = concatBytes(...plaintexts.map((p) => encoder.encode(p)));
        const index = where % stream.length;
        stream[index]! ^= mask;
        const { frames, error } = feed(new FrameDecoder(nobleChaCha20Poly1305(key), SMALL_MAX), [stream]);
        expect(frames.length).toBeLessThan(plaintexts.length);
        frames.forEach((f, i) => expect(f).toEqual(plaintexts[i]));
        if (error !== undefined) expect(['ERR_DECRYPT', 'ERR_FRAME_TOO_LARGE']).toContain(error.code);
      }),
      { numRuns: 500 },
    );
  });
});
