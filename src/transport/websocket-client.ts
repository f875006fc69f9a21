import { AbortError, ConfigError, TransportError } from '../errors.js';
import type { PeerAddress } from './address.js';
import type { Link } from './link.js';
import type { DialOptions, Transport } from './transport.js';
import { WebSocketLink, type WebSocketLike } from './websocket-link.js';

/** A constructor of WHATWG-style WebSockets: the browser's global, or `ws`'s WebSocket in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;
/** Makes the Link over a socket that has just opened (a platform may supply a Link of its own). */
export type WebSocketLinkFactory = (socket: WebSocketLike, remoteAddress: string) => Link;

/**
 * Dials `ws://` and `wss://` addresses. Works in browsers as is (it takes the global WebSocket);
 * Node passes `ws`'s WebSocket (platforms/node does this for you).
 */
export class WebSocketClientTransport implements Transport {
  readonly protocols: readonly string[] = ['ws', 'wss'];
  private readonly WebSocketImpl: WebSocketConstructor;

  constructor(
    WebSocketImpl?: WebSocketConstructor,
    private readonly linkOf: WebSocketLinkFactory = (socket, remoteAddress) => new WebSocketLink(socket, remoteAddress),
  ) {
    const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const impl = WebSocketImpl ?? global;
    if (impl === undefined) {
      throw new ConfigError('ERR_NO_TRANSPORT', 'No WebSocket implementation: pass one (in Node, the WebSocket class of the ws package)');
    }
    this.WebSocketImpl = impl;
  }

  dial(address: PeerAddress, options: DialOptions = {}): Promise<Link> {
    const url = toUrl(address);
    return new Promise<Link>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new AbortError());
        return;
      }
      let socket: WebSocketLike;
      try {
        socket = new this.WebSocketImpl(url);
      } catch (error) {
        reject(new TransportError(`Cannot open WebSocket to ${url}: ${(error as Error).message}`, { cause: error }));
        return;
      }
      socket.binaryType = 'arraybuffer';
      const cleanup = (): void => {
        options.signal?.removeEventListener('abort', onAbort);
        (socket as { onopen?: unknown }).onopen = null;
        socket.onerror = null;
        socket.onclose = null;
      };
      const onAbort = (): void => {
        cleanup();
        // Closing while CONNECTING makes `ws` emit 'error'; with no listener that error would be
        // thrown out of the event loop and end the process.
        socket.onerror = () => undefined;
        socket.close();
        reject(new AbortError(`Dial to ${url} aborted`));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.onerror = () => undefined;
      socket.onclose = (event) => {
        cleanup();
        reject(new TransportError(`WebSocket dial to ${url} failed (code ${event.code})`, { detail: { code: event.code } }));
      };
      (socket as { onopen?: (() => void) | null }).onopen = () => {
        cleanup();
        // The Link installs its handlers synchronously, so no message can slip between open and attach.
        resolve(this.linkOf(socket, `${address.host}:${address.port}`));
      };
    });
  }
}

export function toUrl(address: PeerAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.protocol}://${host}:${address.port}${address.path === '' ? '/' : address.path}`;
}

