import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
// Loading the Node platform makes small frames Buffers (platforms/node/buffer-frames.ts).
import { nodeChaCha20Poly1305 } from '../../platforms/node/index.js';
import { FrameDecoder, FrameEncoder } from '../../src/conn/secure-link-frame.js';
import { FRAME_SLAB_MAX_FRAME_BYTES } from '../../src/conn/constants.js';
import { nobleChaCha20Poly1305 } from '../../src/crypto/aead.js';
import { MAX_FRAME_PAYLOAD_BYTES } from '../../src/crypto/constants.js';

const key = new Uint8Array(randomBytes(32));

describe('frames on Node', () => {
  it('small frames are Buffers that Node sockets take as they are, with the bytes noble seals', () => {
    const fast = new FrameEncoder(nodeChaCha20Poly1305(key), MAX_FRAME_PAYLOAD_BYTES);
    const reference = new FrameEncoder(nobleChaCha20Poly1305(key), MAX_FRAME_PAYLOAD_BYTES);
    for (const size of [1, 64, 1000, FRAME_SLAB_MAX_FRAME_BYTES - 20, FRAME_SLAB_MAX_FRAME_BYTES, 40_000]) {
      const plaintext = new Uint8Array(randomBytes(size));
      const frame = fast.encode(plaintext);
      const expected = reference.encode(plaintext);
      expect(Buffer.from(frame).equals(Buffer.from(expected))).toBe(true);
      if (frame.length <= FRAME_SLAB_MAX_FRAME_BYTES) {
        expect(Buffer.isBuffer(frame)).toBe(true);
        // A Buffer in every respect, not only for instanceof.
        expect((frame as Buffer).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
        expect((frame as Buffer).readUInt32BE(0)).toBe(size + 16);
      }
    }
  });

  it('the decoder opens frames lying anywhere in Buffers read from a socket, whole or split', () => {
    const encoder = new FrameEncoder(nodeChaCha20Poly1305(key), MAX_FRAME_PAYLOAD_BYTES);
    const plaintexts = [5, 64, 300, 2, 5000].map((size) => new Uint8Array(randomBytes(size)));
    const stream = Buffer.concat(plaintexts.map((plaintext) => encoder.encode(plaintext)));
    for (const cut of [1, 7, 70, 100, stream.length]) {
      // One larger buffer, read as Buffer views at an offset: as `ws` and `net` hand chunks up.
      const memory = Buffer.concat([Buffer.alloc(13, 0xee), stream]);
      const decoder = new FrameDecoder(nodeChaCha20Poly1305(key), MAX_FRAME_PAYLOAD_BYTES);
      const opened: Buffer[] = [];
      for (let offset = 0; offset < stream.length; offset += cut) {
        const chunk = memory.subarray(13 + offset, 13 + Math.min(offset + cut, stream.length));
        expect(decoder.push(chunk, (plaintext) => opened.push(Buffer.from(plaintext)))).toBeUndefined();
      }
      expect(opened).toEqual(plaintexts.map((plaintext) => Buffer.from(plaintext)));
      // The frames were opened where they lay: the bytes before them are untouched.
      expect(memory.subarray(0, 13).every((byte) => byte === 0xee)).toBe(true);
    }
  });
});
