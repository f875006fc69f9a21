import { loadOrCreateNodeKey } from '../../src/crypto/keys.js';
import { ClosedError, ConfigError } from '../../src/errors.js';
import { assembleNode, type CommonNodeOptions } from '../../src/node-options.js';
import { PacedStorage } from '../../src/storage/paced-storage.js';
import type { Switch } from '../../src/switch/switch.js';
import { WebSocketClientTransport } from '../../src/transport/websocket-client.js';
import { claimKeySlot } from './key-slot.js';
import { webrtcTransport } from './webrtc.js';

export * from '../../src/index.js';
export { IndexedDbStorage } from './idb-storage.js';
export { claimKeySlot, BROWSER_KEY_SLOTS, DEFAULT_KEY_SLOT_NAME, type KeySlot, type KeySlotHold } from './key-slot.js';
export { webrtcTransport } from './webrtc.js';

/** How often a page saves its address book when it changed. */
export const BROWSER_BOOK_SAVE_INTERVAL_MS = 1000;
/**
 * What one peer may have a page read a second (`connection.recvRateBytesPerSec`): everything a page
 * reads, it decrypts and decodes on its one main thread (~2.7% of it per MB/s in Chromium here), and a
 * relay flooding a page over WebSocket had it take 15 MB/s, 32–40% of its main thread, for as long as it
 * liked. A page cannot stop a WebSocket or data channel from reading, so it announces this rate in its
 * NodeInfo (`recvBytesPerSecond`) and meshlink peers pace what they send it to 90% of it: an honest bulk
 * sender is slowed to ~3.6 MiB/s, never cut. A peer that ignores the announcement and keeps sending past
 * it is cut (`ERR_RATE_LIMIT`) once 4 MiB wait. Apps that want pages to take bulk data faster raise it.
 */
export const BROWSER_RECV_RATE_BYTES_PER_SEC = 4 * 1024 * 1024;
/**
 * …but the book's writes to IndexedDB average at most this: a small book (an honest page's is a few KB)
 * is still saved every second, a large one less often. Peers decide how large the book is (what they
 * hand us by PEX) and how often it changes (each dial of an address they gave changes it): before, a
 * relay handing out long addresses that never answer had a page rewrite its whole book every second.
 */
export const BROWSER_BOOK_WRITE_BYTES_PER_SECOND = 16 * 1024;

export interface BrowserNodeOptions extends CommonNodeOptions {
  /**
   * Stop the node when the page is hidden for good (`pagehide`): peers are told politely instead of
   * waiting out a ping timeout. @default true
   */
  stopOnPageHide?: boolean;
  /**
   * Without `storage`: the IndexedDB database of the node's key and address book. Each tab of the
   * origin takes the first of `databaseName`, `databaseName-1`, … (16) that no other live node holds
   * (claimKeySlot), so every tab is a node of its own and a reload keeps its id. @default 'meshlink'
   */
  databaseName?: string;
}

/**
 * A Switch set up for browsers: WebSocket to relays and WebRTC data channels to other pages (through
 * simple-peer and the page's RTCPeerConnection), PEX with its address book and the node key in
 * IndexedDB, the portable (@noble) AEAD, and signalling relayed for pages we are linked to.
 * Pass a relay in `pex.seeds` or `persistentPeers` (persistent peers are redialled with backoff).
 */
export async function createNode(options: BrowserNodeOptions = {}): Promise<Switch> {
  if (options.transports?.length === 0 && options.webrtc === false) {
    throw new ConfigError('ERR_NO_TRANSPORT', 'createNode in a browser needs at least one transport');
  }
  const { stopOnPageHide = true, databaseName, ...common } = options;
  const slot = options.storage === undefined ? await claimKeySlot(databaseName) : undefined;
  const storage = options.storage ?? slot!.storage;
  let sw: Switch;
  try {
    const identity = options.identity ?? (await loadOrCreateNodeKey(storage));
    // Only PEX writes through this (the key above is loaded already); what it keeps is written at stop.
    const bookStorage = new PacedStorage(storage, BROWSER_BOOK_WRITE_BYTES_PER_SECOND);
    const connection = { recvRateBytesPerSec: BROWSER_RECV_RATE_BYTES_PER_SEC, ...common.connection };
    sw = assembleNode({ ...common, connection }, {
      identity,
      storage: bookStorage,
      defaultTransports: () => [new WebSocketClientTransport()],
      createWebRtc: webrtcTransport,
      // A page can be closed at any moment and an IndexedDB write started while it unloads is lost, so
      // the book is saved (when changed) every second rather than every two minutes.
      defaults: { pex: true, webrtc: true, relay: true, pexOptions: { saveIntervalMs: BROWSER_BOOK_SAVE_INTERVAL_MS } },
    });
    // Stop hooks run after the agents stopped (so after PEX's last save), the last added first: the
    // slot is let go after the book's last write.
    if (slot !== undefined) sw.addStopHook('key-slot', () => slot.release());
    sw.addStopHook('book-writes', () => bookStorage.flush());
  } catch (error) {
    slot?.release();
    throw error;
  }
  type PageHideListener = (event: { persisted?: boolean }) => void;
  const target = globalThis as {
    addEventListener?: (type: string, listener: PageHideListener) => void;
    removeEventListener?: (type: string, listener: PageHideListener) => void;
  };
  if (stopOnPageHide && typeof target.addEventListener === 'function') {
    // A page kept in the back/forward cache (persisted) may come back; one being unloaded will not.
    const onPageHide: PageHideListener = (event) => {
      if (event.persisted === true) return;
      // Timers do not run in an unloading page: a graceful close would never finish. Closing the
      // RTCPeerConnections now tells the other pages at once (WebSockets close with the page anyway).
      for (const peer of sw.peers) if (peer.transport === 'webrtc') peer.connection.destroy(new ClosedError('Page closed'));
      void sw.stop();
    };
    target.addEventListener('pagehide', onPageHide);
    // Left on the window, the listener would keep a stopped node (its book, its peers' state) for the
    // page's life: an app that makes a node per session would pile them up.
    sw.addStopHook('pagehide', () => target.removeEventListener?.('pagehide', onPageHide));
  }
  return sw;
}
