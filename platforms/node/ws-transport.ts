import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { TransportError } from '../../src/errors.js';
import { formatAddress, type PeerAddress } from '../../src/transport/address.js';
import { canonicalWsPath } from '../../src/transport/canonical-address.js';
import type { Link } from '../../src/transport/link.js';
import type { DialOptions, Listener, Transport } from '../../src/transport/transport.js';
import { WebSocketClientTransport, type WebSocketConstructor } from '../../src/transport/websocket-client.js';
import { WEBSOCKET_MAX_MESSAGE_BYTES, WebSocketLink } from '../../src/transport/websocket-link.js';
import { NodeWebSocketLink, type NodeWebSocket } from './ws-link.js';
import { readRequestHead } from './ws-request-head.js';
import { clientAddressOf, trustedProxySet } from './forwarded-client.js';
import { dialLookupOption, type DialNameOptions } from './guarded-lookup.js';
import {
  UpgradeGuard,
  WS_DEFAULT_MAX_PENDING_UPGRADES,
  WS_DEFAULT_MAX_PENDING_UPGRADES_PER_HOST,
  WS_DEFAULT_UPGRADE_TIMEOUT_MS,
  type UpgradeGuardLimits,
} from './ws-upgrade-guard.js';

export { WS_DEFAULT_MAX_PENDING_UPGRADES, WS_DEFAULT_MAX_PENDING_UPGRADES_PER_HOST, WS_DEFAULT_UPGRADE_TIMEOUT_MS } from './ws-upgrade-guard.js';

/**
 * One WebSocket message carries one sealed frame (≤ 64 KiB + 20 bytes of header and tag); anything
 * larger is hostile. Kept near that: a hostile message may pack thousands of tiny frames, each held
 * apart until the owner takes it, so the cap also bounds what one message can make us hold.
 */
export const WS_MAX_PAYLOAD_BYTES = WEBSOCKET_MAX_MESSAGE_BYTES;
/**
 * Pongs `ws` may owe (written, not yet taken by the socket) before it cuts the peer: a peer flooding
 * pings and never reading would otherwise pile our pongs up in userland. ws's own default (8.23),
 * stated so that it cannot change under us; the peer is cut within ~10–30 ms of such a flood.
 */
export const WS_MAX_PENDING_AUTO_PONGS = 60;
/** Fragments of one message (ws's default too): thousands of empty continuation frames cut the peer. */
export const WS_MAX_FRAGMENTS = 16 * 1024;
/**
 * The limits both our server and our dialer put on a peer's frames. `maxPendingAutoPongs` is newer
 * than @types/ws, hence the type of its own.
 */
const WS_FRAME_LIMITS: { maxPayload: number; maxFragments: number; maxPendingAutoPongs: number; perMessageDeflate: false } = {
  maxPayload: WS_MAX_PAYLOAD_BYTES,
  maxFragments: WS_MAX_FRAGMENTS,
  maxPendingAutoPongs: WS_MAX_PENDING_AUTO_PONGS,
  perMessageDeflate: false,
};

/**
 * The masking key of every frame our dialer sends: zero, which `ws` takes as "send the payload as it is".
 * A client must mask (RFC 6455 §5.3) so that script in a page cannot put bytes of its choosing on the
 * wire and poison a proxy's cache; what we send is the secure handshake's keys and then sealed frames,
 * bytes nobody chooses, so the mask protects nothing here. It cost a pass over every byte in JavaScript
 * (`ws` without its optional native addon) and a copy of each frame. Browsers mask as they must.
 */
function zeroMask(mask: Uint8Array): void {
  mask.fill(0);
}

/**
 * WebSocket transport for Node: listens with `ws`'s WebSocketServer (for browsers to reach a relay)
 * and dials with `ws`'s WebSocket through the same client code browsers use.
 */
export interface WsTransportOptions extends DialNameOptions {
  /** Connections to our server still in their HTTP upgrade, in all; more are dropped on arrival. @default 64 */
  maxPendingUpgrades?: number;
  /** The same from one IPv4 address or IPv6 /64. @default 8 */
  maxPendingUpgradesPerHost?: number;
  /** A connection that has not upgraded by then is cut, in ms. @default 10_000 */
  upgradeTimeoutMs?: number;
  /**
   * IP addresses of reverse proxies in front of our server (e.g. `['127.0.0.1']` for an nginx on the same
   * host that terminates TLS for `wss://`). A peer arriving through one of them is known by the last
   * address of its `X-Forwarded-For` header (the one the proxy appended), so the per-host caps see each
   * client instead of one host; the proxy's own connections do not count against the per-host upgrade
   * cap (the proxy holds a slow client's request itself), only against the total. Never list an address
   * that clients can connect from directly: they could then name any address. @default []
   */
  trustedProxies?: readonly string[];
}

class NodeWebSocketTransport implements Transport {
  readonly protocols = ['ws', 'wss'] as const;
  private readonly client: WebSocketClientTransport;
  private readonly upgradeLimits: UpgradeGuardLimits;
  private readonly trustedProxies: ReadonlySet<string>;

  constructor(options: WsTransportOptions) {
    this.upgradeLimits = {
      maxPendingUpgrades: options.maxPendingUpgrades ?? WS_DEFAULT_MAX_PENDING_UPGRADES,
      maxPendingUpgradesPerHost: options.maxPendingUpgradesPerHost ?? WS_DEFAULT_MAX_PENDING_UPGRADES_PER_HOST,
      upgradeTimeoutMs: options.upgradeTimeoutMs ?? WS_DEFAULT_UPGRADE_TIMEOUT_MS,
    };
    this.trustedProxies = trustedProxySet(options.trustedProxies);
    const lookup = dialLookupOption(options);
    // The dialing side caps messages as the server does (ws's own default is 100 MiB), and offers no
    // permessage-deflate (ws's client offers it by default): our frames are sealed, so incompressible,
    // and a hostile server would otherwise make us inflate a megabyte per kilobyte it sends.
    class BoundedWebSocket extends WebSocket {
      /** The socket `ws` writes to, once upgraded. */
      wire: Socket | undefined;
      constructor(url: string) {
        super(url, { ...WS_FRAME_LIMITS, ...lookup, generateMask: zeroMask });
        this.once('upgrade', (response: IncomingMessage) => (this.wire = response.socket));
      }
    }
    this.client = new WebSocketClientTransport(BoundedWebSocket as unknown as WebSocketConstructor, (socket, remoteAddress) => {
      const { wire } = socket as unknown as BoundedWebSocket;
      return wire === undefined ? new WebSocketLink(socket, remoteAddress) : new NodeWebSocketLink(socket as unknown as NodeWebSocket, remoteAddress, wire, true);
    });
  }

  dial(address: PeerAddress, options?: DialOptions): Promise<Link> {
    return this.client.dial(address, options);
  }

  listen(address: PeerAddress, onLink: (link: Link) => void): Promise<Listener> {
    if (address.protocol !== 'ws') {
      return Promise.reject(new TransportError(`Listening on ${address.protocol}:// needs TLS termination in front; listen on ws://`));
    }
    return new Promise<Listener>((resolve, reject) => {
      // Our own HTTP server (ws would make one with no limits) so that the upgrade phase is guarded. It
      // does not listen itself: each connection is handed to it with one request head (readRequestHead).
      const guard = new UpgradeGuard(this.upgradeLimits, this.trustedProxies);
      const http = createServer((_request, response) => {
        response.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end('Upgrade Required');
      });
      // Not listening, it checks no header or request timeout: the guard's deadline covers the whole upgrade.
      const tcp = createTcpServer({ noDelay: true }, (socket) => {
        guard.onConnection(socket);
        if (!socket.destroyed) readRequestHead(socket, () => http.emit('connection', socket));
      });
      const server = new WebSocketServer({ server: http, ...WS_FRAME_LIMITS });
      // Any spelling of our path that is the same address to the book (`/a%62` for `/ab`, `/x/../ab`):
      // peers dial the canonical form, whatever spelling we listen at.
      const path = canonicalWsPath(address.path);
      server.shouldHandle = (request) => request.url !== undefined && request.url.startsWith('/') && canonicalWsPath(request.url.split('?', 1)[0]!) === path;
      server.on('error', () => undefined);
      tcp.once('error', (error) => reject(new TransportError(`Cannot listen on ${formatAddress(address)}: ${error.message}`, { cause: error })));
      http.on('error', () => undefined);
      server.on('connection', (socket: WebSocket, request: IncomingMessage) => {
        guard.release(request.socket as Socket);
        onLink(new NodeWebSocketLink(socket as unknown as NodeWebSocket, clientAddressOf(request, this.trustedProxies), request.socket as Socket, false));
      });
      tcp.once('listening', () => {
        tcp.removeAllListeners('error');
        tcp.on('error', () => undefined);
        const bound = tcp.address();
        const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
        resolve({
          addresses: [{ ...address, nodeId: undefined, port }],
          // Stops accepting; links already open stay up (the Switch closes them gracefully).
          close: () =>
            new Promise<void>((done) => {
              server.close();
              guard.destroyAll();
              tcp.close(() => done());
            }),
        });
      });
      tcp.listen(address.port, address.host);
    });
  }
}

export function wsTransport(options: WsTransportOptions = {}): Transport {
  return new NodeWebSocketTransport(options);
}
