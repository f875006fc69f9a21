import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedHash32 } from '../../src/pex/address-book-hash.js';

/** The reference: the first 32 bits, big-endian, of @noble/hashes' HMAC-SHA-256. */
function referenceHash32(key: Uint8Array, message: string): number {
  const digest = hmac(sha256, key, new TextEncoder().encode(message));
  return ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
}

const hex = (text: string): Uint8Array => Uint8Array.from(text.match(/../g)!, (byte) => parseInt(byte, 16));

describe('KeyedHash32 (the address book bucket hash)', () => {
  it('matches RFC 4231 test case 2 (key "Jefe")', () => {
    const key = new TextEncoder().encode('Jefe');
    // HMAC-SHA-256 = 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
    expect(new KeyedHash32(key).hash('what do ya want for nothing?')).toBe(0x5bdcc146);
  });

  it('matches RFC 4231 test case 6 (a 131-byte key, hashed first)', () => {
    const key = new Uint8Array(131).fill(0xaa);
    // HMAC-SHA-256 = 60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54
    expect(new KeyedHash32(key).hash('Test Using Larger Than Block-Size Key - Hash Key First')).toBe(0x60e43159);
  });

  it('gives the same numbers as @noble/hashes for the book inputs, every length around the block edges', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const hasher = new KeyedHash32(key);
    for (let length = 0; length <= 200; length++) {
      const message = 'new-slot\u000011.22\u0000id:'.concat('ab'.repeat(100)).slice(0, length);
      expect(hasher.hash(message), `length ${length}`).toBe(referenceHash32(key, message));
    }
    // Hashes in a row share buffers: an earlier long message must not leak into a later short one.
    expect(hasher.hash('old-slot\u0000tcp://x@1.2.3.4:1')).toBe(referenceHash32(key, 'old-slot\u0000tcp://x@1.2.3.4:1'));
  });

  it('gives the same numbers as @noble/hashes for any key and any text (non-ASCII and long ones too)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 1500 }), (key, message) => {
        expect(new KeyedHash32(key).hash(message)).toBe(referenceHash32(key, message));
      }),
      { numRuns: 300 },
    );
  });
});
