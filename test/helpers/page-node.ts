import { createNode } from '../../platforms/browser/index.js';
import type { Storage } from '../../src/storage/storage.js';
import type { Switch } from '../../src/switch/switch.js';
import { WebSocketClientTransport } from '../../src/transport/websocket-client.js';
import { BrowserLikeWebSocket } from './browser-websocket.js';

/**
 * A page's node, run in Node: the browser createNode over a browser-like WebSocket (no WebRTC), its
 * relay at `relay` both persistent peer and PEX seed, with the demo page's PEX settings
 * (demo/web/app.ts). Started; the caller stops it.
 */
export async function startPageBehind(relay: string, storage: Storage): Promise<Switch> {
  const page = await createNode({
    storage,
    network: 'test-net',
    webrtc: false,
    transports: [new WebSocketClientTransport(BrowserLikeWebSocket)],
    persistentPeers: [relay],
    pex: { seeds: [relay], allowLocal: true, ensurePeersIntervalMs: 1_000, minRequestIntervalMs: 10_000, dialJitterMs: 250 },
  });
  await page.start();
  return page;
}
