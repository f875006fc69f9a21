import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeChaCha20Poly1305, sodiumCallsFor, type Sodium, type SodiumBinding, type SodiumCalls } from '../../platforms/node/aead.js';
import { nobleChaCha20Poly1305, type AeadFactory } from '../../src/crypto/aead.js';
import { AEAD_TAG_BYTES } from '../../src/crypto/constants.js';

const implementations: [string, AeadFactory][] = [
  ['noble', nobleChaCha20Poly1305],
  ['node', nodeChaCha20Poly1305],
];
const SIZES = [0, 1, 15, 16, 17, 1024, 16 * 1024, 64 * 1024];

const nonceFor = (counter: number): Uint8Array => {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(4, counter, true);
  return nonce;
};

describe('AEAD implementations', () => {
  const key = new Uint8Array(randomBytes(32));

  it.each(SIZES)('noble and node seal %i bytes to identical ciphertext||tag', (size) => {
    const plaintext = new Uint8Array(randomBytes(size));
    const nonce = nonceFor(7);
    const a = nobleChaCha20Poly1305(key).seal(nonce, plaintext);
    const b = nodeChaCha20Poly1305(key).seal(nonce, plaintext);
    expect(a.length).toBe(size + AEAD_TAG_BYTES);
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
  });

  it.each(SIZES)('each opens what the other sealed (%i bytes)', (size) => {
    const plaintext = new Uint8Array(randomBytes(size));
    const nonce = nonceFor(size);
    const noble = nobleChaCha20Poly1305(key);
    const node = nodeChaCha20Poly1305(key);
    expect(node.open(nonce, noble.seal(nonce, plaintext))).toEqual(plaintext);
    expect(noble.open(nonce, node.seal(nonce, plaintext))).toEqual(plaintext);
  });

  it('agrees on random inputs, including sealed bytes living at an offset of a larger buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), fc.nat(200), fc.nat(8), (k, plaintext, counter, pad) => {
        const nonce = nonceFor(counter);
        const sealed = nobleChaCha20Poly1305(k).seal(nonce, plaintext);
        expect(nodeChaCha20Poly1305(k).seal(nonce, plaintext)).toEqual(new Uint8Array(sealed));
        const padded = new Uint8Array(pad + sealed.length + 3);
        padded.set(sealed, pad);
        const view = padded.subarray(pad, pad + sealed.length);
        expect(new Uint8Array(nodeChaCha20Poly1305(k).open(nonce, view)!)).toEqual(plaintext);
        expect(nobleChaCha20Poly1305(k).open(nonce, view)).toEqual(plaintext);
      }),
      { numRuns: 200 },
    );
  });

  describe.each(implementations)('%s', (_name, factory) => {
    const aead = factory(key);
    const plaintext = new TextEncoder().encode('attack at dawn');
    const sealed = aead.seal(nonceFor(1), plaintext);

    it('opens its own output', () => {
      expect(new Uint8Array(aead.open(nonceFor(1), sealed)!)).toEqual(plaintext);
    });

    it('returns undefined for a flipped ciphertext or tag bit', () => {
      for (const index of [0, plaintext.length - 1, plaintext.length, sealed.length - 1]) {
        const tampered = sealed.slice();
        tampered[index]! ^= 0x01;
        expect(aead.open(nonceFor(1), tampered)).toBeUndefined();
      }
    });

    it('returns undefined under another nonce or another key', () => {
      expect(aead.open(nonceFor(2), sealed)).toBeUndefined();
      expect(factory(new Uint8Array(32).fill(1)).open(nonceFor(1), sealed)).toBeUndefined();
    });

    it('returns undefined for input shorter than a tag, and accepts an exact empty-plaintext tag', () => {
      expect(aead.open(nonceFor(1), new Uint8Array(AEAD_TAG_BYTES - 1))).toBeUndefined();
      expect(aead.open(nonceFor(1), new Uint8Array(0))).toBeUndefined();
      const empty = aead.seal(nonceFor(3), new Uint8Array(0));
      expect(empty.length).toBe(AEAD_TAG_BYTES);
      expect(aead.open(nonceFor(3), empty)?.length).toBe(0);
    });

    it('does not keep the key buffer: zeroing it afterwards changes nothing', () => {
      const k = new Uint8Array(randomBytes(32));
      const bound = factory(k);
      const before = bound.seal(nonceFor(0), plaintext);
      k.fill(0);
      expect(bound.seal(nonceFor(0), plaintext)).toEqual(before);
    });

    it('rejects keys that are not 32 bytes with ERR_INVALID_ARGUMENT', () => {
      expect(() => factory(new Uint8Array(16))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    });

    it('rejects nonces that are not 12 bytes with ERR_INVALID_ARGUMENT', () => {
      expect(() => aead.seal(new Uint8Array(8), plaintext)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    });
  });
});

describe('nodeChaCha20Poly1305 paths (libsodium when installed, else OpenSSL) and in-place opening', () => {
  const key = new Uint8Array(32).map((_, i) => i * 7);
  const nonce = new Uint8Array(12).map((_, i) => i + 1);
  const sizes = [0, 1, 1024, 8 * 1024 + 1, 16 * 1024, 64 * 1024];

  it('uses libsodium here (sodium-native is installed)', async () => {
    const { hasSodium } = await import('../../platforms/node/aead.js');
    expect(hasSodium()).toBe(true);
  });

  const fastPaths: [string, () => Promise<AeadFactory>][] = [
    ['libsodium', async () => (await import('../../platforms/node/aead.js')).nodeChaCha20Poly1305],
    ['OpenSSL', async () => (await import('../../platforms/node/aead.js')).openSslChaCha20Poly1305],
    ['noble', async () => nobleChaCha20Poly1305],
  ];

  it('libsodium: sealInto a target too short for the frame is a RangeError (its binding would abort the process)', async () => {
    const fast = (await fastPaths[0]![1]())(key);
    const plaintext = new Uint8Array(40);
    expect(() => fast.sealInto!(nonce, plaintext, new Uint8Array(40 + 16 - 1), 0)).toThrow(RangeError);
    expect(() => fast.sealInto!(nonce, plaintext, new Uint8Array(40 + 16), 1)).toThrow(RangeError);
  });

  it.each(fastPaths)('%s matches noble byte for byte through seal, sealInto, open and openInPlace', async (_name, load) => {
    const fast = (await load())(key);
    const reference = nobleChaCha20Poly1305(key);
    for (const size of sizes) {
      const plaintext = new Uint8Array(size).map((_, i) => i * 13);
      const expected = reference.seal(nonce, plaintext);
      expect(Buffer.from(fast.seal(nonce, plaintext)).equals(Buffer.from(expected))).toBe(true);
      if (fast.sealInto !== undefined) {
        const target = new Uint8Array(size + 16 + 3);
        expect(fast.sealInto(nonce, plaintext, target, 3)).toBe(size + 16);
        expect(Buffer.from(target.subarray(3)).equals(Buffer.from(expected))).toBe(true);
      }
      const opened = fast.open(nonce, expected);
      expect(Buffer.from(opened!).equals(Buffer.from(plaintext))).toBe(true);
      // open() leaves its input alone, even when it is a Node Buffer (whose slice() is a view).
      const asBuffer = Buffer.from(expected);
      fast.open(nonce, asBuffer);
      expect(asBuffer.equals(Buffer.from(expected))).toBe(true);
      const forged = expected.slice();
      forged[forged.length - 1]! ^= 1;
      expect(fast.open(nonce, forged)).toBeUndefined();
      if (fast.openInPlace !== undefined) {
        // Sealed bytes in the middle of a larger buffer: only they change, into the plaintext.
        const around = new Uint8Array(expected.length + 10).fill(0xee);
        around.set(expected, 5);
        const openedInPlace = fast.openInPlace(nonce, around.subarray(5, 5 + expected.length));
        // The plaintext it returns is the opened bytes where they lie, not a copy.
        expect(openedInPlace?.buffer).toBe(around.buffer);
        expect(openedInPlace?.byteOffset).toBe(5);
        expect(Buffer.from(openedInPlace!).equals(Buffer.from(plaintext))).toBe(true);
        expect(Buffer.from(around.subarray(5, 5 + size)).equals(Buffer.from(plaintext))).toBe(true);
        expect([...around.subarray(0, 5), ...around.subarray(5 + expected.length)].every((b) => b === 0xee)).toBe(true);
        // The tag is checked before anything is decrypted: no plaintext of a forged frame appears
        // (libsodium wipes the bytes, noble leaves them as they came).
        const forgedCopy = forged.slice();
        expect(fast.openInPlace(nonce, forgedCopy)).toBeUndefined();
        if (size >= 16) expect(Buffer.from(forgedCopy.subarray(0, size)).equals(Buffer.from(plaintext))).toBe(false);
        expect(fast.openInPlace(nonce, new Uint8Array(15))).toBeUndefined();
        // With the plaintext's view given (as the frame decoder makes it): opened into it, and it is returned.
        const again = new Uint8Array(expected.length + 4).fill(0xee);
        again.set(expected, 4);
        const into = new Uint8Array(again.buffer, 4, size);
        expect(fast.openInPlace(nonce, new Uint8Array(again.buffer, 4, expected.length), into)).toBe(into);
        expect(Buffer.from(into).equals(Buffer.from(plaintext))).toBe(true);
        expect(fast.openInPlace(nonce, forged.slice(), new Uint8Array(size))).toBeUndefined();
      }
      if (fast.sealInto !== undefined) {
        // A target of exactly the sealed size at offset 0 (as the frame encoder passes it).
        const exact = new Uint8Array(size + 16);
        expect(fast.sealInto(nonce, plaintext, exact, 0)).toBe(size + 16);
        expect(Buffer.from(exact).equals(Buffer.from(expected))).toBe(true);
      }
    }
  });

  it('libsodium: openInPlace into a plaintext view of the wrong size is a RangeError (its binding would abort the process)', async () => {
    const fast = (await fastPaths[0]![1]())(key);
    const sealed = fast.seal(nonce, new Uint8Array(40));
    expect(() => fast.openInPlace!(nonce, sealed, new Uint8Array(39))).toThrow(RangeError);
    expect(() => fast.openInPlace!(nonce, sealed, new Uint8Array(41))).toThrow(RangeError);
  });
  it('calls sodium-native 5 through its binding, and its documented functions for another major, a missing binding or one that disagrees', () => {
    const load = createRequire(import.meta.url);
    const wrapper = load('sodium-native') as Sodium;
    const real = load('sodium-native/binding.js') as SodiumBinding;
    let bindingCallsMade = 0;
    const counting = (inner: SodiumBinding): SodiumBinding => ({
      crypto_aead_chacha20poly1305_ietf_encrypt: (...args) => (bindingCallsMade++, inner.crypto_aead_chacha20poly1305_ietf_encrypt(...args)),
      crypto_aead_chacha20poly1305_ietf_decrypt: (...args) => (bindingCallsMade++, inner.crypto_aead_chacha20poly1305_ietf_decrypt(...args)),
    });
    const wrongBytes: SodiumBinding = {
      crypto_aead_chacha20poly1305_ietf_encrypt: (out) => (bindingCallsMade++, out.fill(7), out.length),
      crypto_aead_chacha20poly1305_ietf_decrypt: (out) => (bindingCallsMade++, out.length),
    };
    const throwing: SodiumBinding = {
      crypto_aead_chacha20poly1305_ietf_encrypt: () => {
        throw new TypeError('another layout');
      },
      crypto_aead_chacha20poly1305_ietf_decrypt: () => -1,
    };
    const mustNotLoad = (): SodiumBinding => {
      throw new Error('the binding of another major must not be loaded');
    };
    const cases: [string, SodiumCalls, boolean][] = [
      ['5.x with its binding', sodiumCallsFor(wrapper, '5.1.0', () => counting(real)), true],
      ['another major', sodiumCallsFor(wrapper, '4.0.10', mustNotLoad), false],
      ['no version', sodiumCallsFor(wrapper, undefined, mustNotLoad), false],
      ['no binding', sodiumCallsFor(wrapper, '5.1.0', () => undefined), false],
      ['a binding giving other bytes', sodiumCallsFor(wrapper, '5.1.0', () => wrongBytes), false],
      ['a binding that throws', sodiumCallsFor(wrapper, '5.1.0', () => throwing), false],
    ];
    const key = new Uint8Array(32).map((_, i) => 3 * i);
    const nonce = new Uint8Array(12).map((_, i) => i);
    const message = new Uint8Array(100).map((_, i) => i ^ 0x5a);
    const expected = nobleChaCha20Poly1305(key).seal(nonce, message);
    for (const [name, calls, viaBinding] of cases) {
      const before = bindingCallsMade;
      const sealed = new Uint8Array(message.length + AEAD_TAG_BYTES);
      expect(calls.seal(sealed, message, nonce, key), name).toBe(sealed.length);
      expect(Buffer.from(sealed).equals(Buffer.from(expected)), name).toBe(true);
      const opened = new Uint8Array(message.length);
      expect(calls.open(opened, sealed, nonce, key), name).toBe(true);
      expect(Buffer.from(opened).equals(Buffer.from(message)), name).toBe(true);
      sealed[5]! ^= 1;
      expect(calls.open(opened, sealed, nonce, key), name).toBe(false);
      expect(bindingCallsMade - before, name).toBe(viaBinding ? 3 : 0);
    }
  });
});

