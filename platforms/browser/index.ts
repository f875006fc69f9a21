import { loadOrCreateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import type { Storage } from '../../src/storage/storage.js';
import { Switch } from '../../src/switch/switch.js';
import type { SwitchOptions } from '../../src/switch/config.js';
import type { Transport } from '../../src/transport/transport.js';
import { ConfigError } from '../../src/errors.js';
import { IndexedDbStorage } from './idb-storage.js';
import { WebSocketClientTransport } from '../../src/transport/websocket-client.js';

export * from '../../src/index.js';
export { IndexedDbStorage } from './idb-storage.js';

export interface BrowserNodeOptions extends Omit<SwitchOptions, 'identity' | 'transports' | 'network'> {
  /** @default 'meshlink' */
  network?: string;
  /** Where the key (and the address book) live. @default IndexedDbStorage('meshlink') */
  storage?: Storage;
  identity?: NodeKey;
  /** Browsers cannot listen on sockets. @default [new WebSocketClientTransport()] */
  transports?: readonly Transport[];
}

/**
 * A Switch set up for browsers: the portable (@noble) AEAD, a key kept in IndexedDB, and the
 * transports the page passes in.
 */
export async function createNode(options: BrowserNodeOptions): Promise<Switch> {
  const transports = options.transports ?? [new WebSocketClientTransport()];
  if (transports.length === 0) throw new ConfigError('ERR_NO_TRANSPORT', 'createNode in a browser needs at least one transport');
  const storage = options.storage ?? new IndexedDbStorage();
  const identity = options.identity ?? (await loadOrCreateNodeKey(storage));
  return new Switch({ ...options, network: options.network ?? 'meshlink', identity, transports });
}
