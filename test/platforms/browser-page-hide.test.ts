import { afterEach, describe, expect, it } from 'vitest';
import { createNode } from '../../platforms/browser/index.js';
import { MemoryStorage } from '../../src/storage/storage.js';
import { WebSocketClientTransport } from '../../src/transport/websocket-client.js';
import { BrowserLikeWebSocket } from '../helpers/browser-websocket.js';

// The browser createNode in Node, with the window's listener API stood in for by an EventTarget.
const window = globalThis as { addEventListener?: unknown; removeEventListener?: unknown };
const listeners = new Set<unknown>();
afterEach(() => {
  delete window.addEventListener;
  delete window.removeEventListener;
  listeners.clear();
});

describe('the browser createNode and pagehide', () => {
  it('takes its pagehide listener off the window when the node stops', async () => {
    window.addEventListener = (type: string, listener: unknown) => type === 'pagehide' && listeners.add(listener);
    window.removeEventListener = (type: string, listener: unknown) => type === 'pagehide' && listeners.delete(listener);
    // An app that makes a node per session (sign in, sign out…).
    for (let session = 0; session < 3; session++) {
      const sw = await createNode({ storage: new MemoryStorage(), webrtc: false, pex: false, transports: [new WebSocketClientTransport(BrowserLikeWebSocket)] });
      await sw.start();
      expect(listeners.size).toBe(1);
      await sw.stop();
      expect(listeners.size).toBe(0);
    }
  });

  it('stops the node on a pagehide that is not into the back/forward cache', async () => {
    const target = new EventTarget();
    window.addEventListener = target.addEventListener.bind(target);
    window.removeEventListener = target.removeEventListener.bind(target);
    const sw = await createNode({ storage: new MemoryStorage(), webrtc: false, pex: false, transports: [new WebSocketClientTransport(BrowserLikeWebSocket)] });
    await sw.start();
    target.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: true }));
    expect(sw.isRunning).toBe(true);
    target.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: false }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sw.isRunning).toBe(false);
  });
});
