import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { IndexedDbStorage } from '../../platforms/browser/idb-storage.js';
import { loadOrCreateNodeKey } from '../../src/crypto/keys.js';
import { MeshlinkError } from '../../src/errors.js';
import { within } from '../helpers/wait.js';

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

  it('fails with ERR_STORAGE in bounded time while another tab keeps the database blocked, and works once it lets go', async () => {
    // An older page holds a connection; a newer one asks to delete (or upgrade) the database: blocked.
    // Every later open, ours included, queues behind that request until the older page closes.
    const older = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('test-db-5', 1);
      request.onupgradeneeded = () => request.result.createObjectStore('keyval');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    let blocked = false;
    const deletion = indexedDB.deleteDatabase('test-db-5');
    deletion.onblocked = () => (blocked = true);
    const storage = new IndexedDbStorage('test-db-5', 300);
    const started = Date.now();
    const error = await within(loadOrCreateNodeKey(storage).then(() => undefined, (e: unknown) => e), 2000, 'loadOrCreateNodeKey');
    expect(error).toBeInstanceOf(MeshlinkError);
    expect(error).toMatchObject({ code: 'ERR_STORAGE', detail: { key: 'node-key', timeoutMs: 300 } });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(blocked).toBe(true);
    await expect(storage.delete('node-key')).rejects.toMatchObject({ code: 'ERR_STORAGE' });
    older.close();
    expect(await within(storage.get('node-key'), 2000, 'get after the older page closed')).toBeUndefined();
  });

  it('rejects unsafe keys', async () => {
    await expect(new IndexedDbStorage('test-db-4').set('../x', new Uint8Array(1))).rejects.toThrow(TypeError);
  });
});
