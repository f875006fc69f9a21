import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { IndexedDbStorage } from '../../platforms/browser/idb-storage.js';
import { loadOrCreateNodeKey } from '../../src/crypto/keys.js';

// fake-indexeddb runs idb-keyval's real code in Node; the Chromium run comes with the browser tests.
describe('IndexedDbStorage', () => {
  it('stores, reads back and deletes bytes', async () => {
    const storage = new IndexedDbStorage('test-db-1');
    expect(await storage.get('missing')).toBeUndefined();
    await storage.set('blob', Uint8Array.of(1, 2, 3));
    expect(Array.from((await storage.get('blob'))!)).toEqual([1, 2, 3]);
    await storage.delete('blob');
    expect(await storage.get('blob')).toBeUndefined();
  });

  it('keeps a node key across instances of the same database, and apart from other databases', async () => {
    const first = await loadOrCreateNodeKey(new IndexedDbStorage('test-db-2'));
    const again = await loadOrCreateNodeKey(new IndexedDbStorage('test-db-2'));
    const other = await loadOrCreateNodeKey(new IndexedDbStorage('test-db-3'));
    expect(again.nodeId).toBe(first.nodeId);
    expect(other.nodeId).not.toBe(first.nodeId);
  });

  it('rejects unsafe keys', async () => {
    await expect(new IndexedDbStorage('test-db-4').set('../x', new Uint8Array(1))).rejects.toThrow(TypeError);
  });
});
