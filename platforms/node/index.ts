import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import type { Storage } from '../../src/storage/storage.js';
import { Switch } from '../../src/switch/switch.js';
import type { SwitchOptions } from '../../src/switch/config.js';
import type { Transport } from '../../src/transport/transport.js';
import { nodeChaCha20Poly1305 } from './aead.js';
import { FileStorage } from './file-storage.js';
import { tcpTransport } from './tcp.js';
import { wsTransport } from './ws-transport.js';

export * from '../../src/index.js';
export { tcpTransport, TcpLink } from './tcp.js';
export { wsTransport } from './ws-transport.js';
export { FileStorage } from './file-storage.js';
export { nodeChaCha20Poly1305 } from './aead.js';

export interface NodeOptions extends Omit<SwitchOptions, 'identity' | 'transports' | 'network'> {
  /** @default 'meshlink' */
  network?: string;
  /** Directory for the node key and address book. @default ~/.meshlink (ignored when `storage` is given) */
  home?: string;
  /** Where the key (and later the address book) live. @default FileStorage(home) */
  storage?: Storage;
  /** Use this key instead of the stored one. */
  identity?: NodeKey;
  /** @default [tcpTransport(), wsTransport()] */
  transports?: readonly Transport[];
}

export const DEFAULT_NETWORK = 'meshlink';

export function defaultHome(): string {
  return join(homedir(), '.meshlink');
}

/**
 * A Switch set up for Node: TCP transport, Node's native ChaCha20-Poly1305 (several times faster than
 * the portable one, same bytes on the wire), and a key kept in `home`. Add agents, then `start()`.
 */
export async function createNode(options: NodeOptions = {}): Promise<Switch> {
  const storage = options.storage ?? new FileStorage(options.home ?? defaultHome());
  const identity = options.identity ?? (await loadOrCreateNodeKey(storage));
  return new Switch({
    aead: nodeChaCha20Poly1305,
    ...options,
    network: options.network ?? DEFAULT_NETWORK,
    identity,
    transports: options.transports ?? [tcpTransport(), wsTransport()],
  });
}
