import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../../platforms/node/file-storage.js';
import {
  generateNodeKey,
  loadOrCreateNodeKey,
  nodeIdFromPublicKey,
  nodeKeyFromSecret,
  verifySignature,
} from '../../src/crypto/keys.js';
import { ConfigError, MeshlinkError } from '../../src/errors.js';
import { MemoryStorage } from '../../src/storage/storage.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

// RFC 8032 section 7.1, TEST 1.
const RFC8032_SECRET = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC8032_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC8032_EMPTY_SIGNATURE =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

describe('node keys', () => {
  it('derives the pinned public key and node id from a fixed seed', () => {
    // Pinned once (cross-checked with node:crypto sha256); a change here breaks every stored identity.
    const key = nodeKeyFromSecret(Uint8Array.from({ length: 32 }, (_, i) => i));
    expect(bytesToHex(key.publicKey)).toBe('03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8');
    expect(key.nodeId).toBe('56475aa75463474c0285df5dbf2bcab73da65135');
  });

  it('matches the RFC 8032 test vector and derives its CometBFT-style node id', () => {
    const key = nodeKeyFromSecret(hexToBytes(RFC8032_SECRET));
    expect(bytesToHex(key.publicKey)).toBe(RFC8032_PUBLIC);
    expect(bytesToHex(key.sign(new Uint8Array(0)))).toBe(RFC8032_EMPTY_SIGNATURE);
    expect(key.nodeId).toBe('21fe31dfa154a261626bf854046fd2271b7bed4b');
    expect(nodeIdFromPublicKey(hexToBytes(RFC8032_PUBLIC))).toBe(key.nodeId);
  });

  it('makes node ids of 40 lower-case hex characters', () => {
    expect(generateNodeKey().nodeId).toMatch(/^[0-9a-f]{40}$/);
  });

  it('generates a different key each time', () => {
    expect(generateNodeKey().nodeId).not.toBe(generateNodeKey().nodeId);
  });

  it('round-trips through exportSecret / nodeKeyFromSecret', () => {
    const key = generateNodeKey();
    const again = nodeKeyFromSecret(key.exportSecret());
    expect(again.nodeId).toBe(key.nodeId);
    expect(again.publicKey).toEqual(key.publicKey);
  });

  it('hands out copies, so mutating publicKey or the exported secret changes nothing', () => {
    const key = generateNodeKey();
    const id = key.nodeId;
    key.publicKey.fill(0);
    key.exportSecret().fill(0);
    expect(nodeIdFromPublicKey(key.publicKey)).toBe(id);
    expect(nodeKeyFromSecret(key.exportSecret()).nodeId).toBe(id);
  });

  it('rejects seeds that are not 32 bytes with ERR_INVALID_ARGUMENT', () => {
    for (const length of [0, 31, 33, 64]) {
      expect(() => nodeKeyFromSecret(new Uint8Array(length))).toThrow(ConfigError);
    }
    try {
      nodeKeyFromSecret(new Uint8Array(31));
    } catch (error) {
      expect((error as MeshlinkError).code).toBe('ERR_INVALID_ARGUMENT');
    }
  });

  it('does not leak the seed through JSON', () => {
    const key = generateNodeKey();
    expect(JSON.stringify(key)).not.toContain(bytesToHex(key.exportSecret()));
  });
});

describe('verifySignature', () => {
  const key = generateNodeKey();
  const message = text('challenge');
  const signature = key.sign(message);

  it('accepts a signature by the key', () => {
    expect(verifySignature(key.publicKey, message, signature)).toBe(true);
  });

  it('rejects another message, another key or a flipped bit', () => {
    expect(verifySignature(key.publicKey, text('challengf'), signature)).toBe(false);
    expect(verifySignature(generateNodeKey().publicKey, message, signature)).toBe(false);
    const flipped = signature.slice();
    flipped[10]! ^= 1;
    expect(verifySignature(key.publicKey, message, flipped)).toBe(false);
  });

  it('returns false on garbage instead of throwing', () => {
    expect(verifySignature(new Uint8Array(3), message, signature)).toBe(false);
    expect(verifySignature(key.publicKey, message, new Uint8Array(63))).toBe(false);
    expect(verifySignature(new Uint8Array(32).fill(0xff), message, new Uint8Array(64).fill(0xff))).toBe(false);
    expect(verifySignature(undefined as unknown as Uint8Array, message, signature)).toBe(false);
    expect(verifySignature(key.publicKey, 'text' as unknown as Uint8Array, signature)).toBe(false);
  });

  it('refuses small-order public keys that would "verify" a forged all-zero signature', () => {
    // The identity-ish point y=0 has order 4: cofactored verification accepts R=0,s=0 for any message.
    expect(verifySignature(new Uint8Array(32), message, new Uint8Array(64))).toBe(false);
    const identity = new Uint8Array(32);
    identity[0] = 1;
    expect(verifySignature(identity, message, new Uint8Array(64))).toBe(false);
  });
});

describe('loadOrCreateNodeKey', () => {
  const directories: string[] = [];
  afterEach(async () => {
    await Promise.all(directories.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'meshlink-keys-'));
    directories.push(dir);
    return dir;
  };

  it('creates a key in MemoryStorage once and returns the same identity afterwards', async () => {
    const storage = new MemoryStorage();
    const first = await loadOrCreateNodeKey(storage);
    const second = await loadOrCreateNodeKey(storage);
    expect(second.nodeId).toBe(first.nodeId);
    expect(await storage.get('node-key')).toEqual(first.exportSecret());
  });

  it('keeps separate identities under separate storage keys', async () => {
    const storage = new MemoryStorage();
    const a = await loadOrCreateNodeKey(storage, 'key-a');
    const b = await loadOrCreateNodeKey(storage, 'key-b');
    expect(a.nodeId).not.toBe(b.nodeId);
  });

  it('fails with ERR_STORAGE on a corrupt stored value and leaves it in place', async () => {
    const storage = new MemoryStorage();
    await storage.set('node-key', new Uint8Array(31));
    await expect(loadOrCreateNodeKey(storage)).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    expect(await storage.get('node-key')).toEqual(new Uint8Array(31));
  });

  it('persists the seed as a 0600 file in FileStorage and reloads the same id', async () => {
    const dir = await tempDir();
    const created = await loadOrCreateNodeKey(new FileStorage(dir));
    const info = await stat(join(dir, 'node-key'));
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.size).toBe(32);
    const reloaded = await loadOrCreateNodeKey(new FileStorage(dir));
    expect(reloaded.nodeId).toBe(created.nodeId);
  });

  it('fails with ERR_STORAGE on a corrupt key file instead of replacing it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'node-key'), 'not a key at all\n', { mode: 0o600 });
    const error = await loadOrCreateNodeKey(new FileStorage(dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MeshlinkError);
    expect((error as MeshlinkError).code).toBe('ERR_STORAGE');
    const info = await stat(join(dir, 'node-key'));
    expect(info.size).toBe('not a key at all\n'.length);
  });
});
