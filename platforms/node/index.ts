import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateNodeKey } from '../../src/crypto/keys.js';
import { ConfigError } from '../../src/errors.js';
import type { Switch } from '../../src/switch/switch.js';
import type { Transport } from '../../src/transport/transport.js';
import { nodeChaCha20Poly1305 } from './aead.js';
import { useBufferFrames } from './buffer-frames.js';
import { nodeHandshakeCrypto } from './handshake-crypto.js';
import { FileStorage } from './file-storage.js';
import { lockHome } from './home-lock.js';
import { tcpTransport } from './tcp.js';
import { NatAgent, type NatAgentOptions } from '../../src/nat/nat-agent.js';
import { assembleNode, type CommonNodeOptions } from '../../src/node-options.js';
import { webrtcTransport, type NodeWebRtcTransportOptions } from './webrtc.js';
import { createNatPmpPortMapper, type NatPmpPortMapperOptions } from './nat-pmp/index.js';
import { createUpnpPortMapper, loadSsdp, type UpnpPortMapperOptions } from './upnp/index.js';
import { wsTransport, type WsTransportOptions } from './ws-transport.js';

export * from '../../src/index.js';
export { tcpTransport, TcpLink, type TcpTransportOptions } from './tcp.js';
export { wsTransport, type WsTransportOptions } from './ws-transport.js';
export { webrtcTransport, loadWrtc, type NodeWebRtcTransportOptions } from './webrtc.js';
export { FileStorage } from './file-storage.js';
export { lockHome, HOME_LOCK_FILE, type HomeLock } from './home-lock.js';
export { nodeChaCha20Poly1305, hasSodium } from './aead.js';
export { nodeHandshakeCrypto } from './handshake-crypto.js';
export { MissingDependencyError } from './optional-dependency.js';
export { createUpnpPortMapper, UpnpPortMapper, type UpnpPortMapperOptions } from './upnp/index.js';
export { createNatPmpPortMapper, NatPmpPortMapper, type NatPmpPortMapperOptions } from './nat-pmp/index.js';
export * from '../../src/nat/index.js';
export { NatAgent, type NatAgentOptions } from '../../src/nat/nat-agent.js';

// Sealed frames go to Node's sockets: as Buffers, which they do not wrap again (see buffer-frames.ts).
useBufferFrames();

export interface NodeOptions extends CommonNodeOptions {
  /** Directory for the node key and address book. @default ~/.meshlink (ignored when `storage` is given) */
  home?: string;
  /** `true`, or options for the transport; `wrtc` may name the RTCPeerConnection implementation. */
  webrtc?: boolean | NodeWebRtcTransportOptions;
  /**
   * Options of the default WebSocket transport (unused when `transports` is given): upgrade limits, and
   * `trustedProxies` for a server behind a reverse proxy (e.g. nginx terminating TLS for `wss://`).
   */
  ws?: Omit<WsTransportOptions, 'allowLocalNames' | 'peerNames'>;
  /**
   * Map the listening ports on the LAN's gateway and advertise the external addresses: 'upnp'
   * (UPnP IGDv1/IGDv2) or 'nat-pmp' (RFC 6886), or options with `protocol` (default 'upnp').
   * Listen on a non-loopback address (e.g. `tcp://0.0.0.0:26656`) for this to work.
   * The NatAgent is added to the switch as agent "nat". @default false
   */
  nat?: false | NatProtocol | NodeNatOptions;
}

export type NatProtocol = 'upnp' | 'nat-pmp';

export interface NodeNatOptions extends Omit<NatAgentOptions, 'createMapper'> {
  /** Which port mapping protocol to speak. @default 'upnp' */
  protocol?: NatProtocol;
  /** Options of the UPnP mapper (protocol 'upnp'). */
  upnp?: UpnpPortMapperOptions;
  /** Options of the NAT-PMP mapper (protocol 'nat-pmp'), e.g. `{ gateway: '192.168.1.1' }`. */
  natPmp?: NatPmpPortMapperOptions;
}


/**
 * TCP and WebSocket. With PEX on, names are looked up through the guarded lookup (PEX hands out names
 * strangers chose), and unless allowLocal, names that resolve to local addresses are not dialled.
 */
function defaultTransports(options: NodeOptions): Transport[] {
  const pex = options.pex;
  const peerNames = pex !== undefined && pex !== false;
  const allowLocalNames = !peerNames || (pex !== true && pex.allowLocal === true);
  return [tcpTransport({ allowLocalNames, peerNames }), wsTransport({ ...options.ws, allowLocalNames, peerNames })];
}

export function defaultHome(): string {
  return join(homedir(), '.meshlink');
}

/**
 * A Switch set up for Node: TCP and WebSocket transports (plus WebRTC with `webrtc`), Node's native
 * ChaCha20-Poly1305 (several times faster than the portable one, same bytes on the wire), a key kept
 * in `home`, and the agents the options ask for (PEX, signalling, NAT). Add your agents, then `start()`.
 *
 * The home is locked for this node (`<home>/meshlink.lock`, our pid): another process, or another
 * node of this one, using the same home fails here with ERR_HOME_IN_USE "home … is in use by process
 * N"; a lock left by a dead process is taken over. `stop()` (or the process's exit) releases it.
 * No lock is taken when `storage` is given instead of a home.
 */
export async function createNode(options: NodeOptions = {}): Promise<Switch> {
  // UPnP discovery needs the optional nat-upnp: say so now, not as a warning on every retry.
  const nat = typeof options.nat === 'string' ? { protocol: options.nat } : options.nat;
  if (nat !== undefined && nat !== false && (nat.protocol ?? 'upnp') === 'upnp' && nat.upnp?.location === undefined) loadSsdp();
  // One node per home: the lock is taken before the key is read, and given back by stop().
  const homeLock = options.storage === undefined ? lockHome(options.home ?? defaultHome()) : undefined;
  try {
    const sw = await assembleNodeForNode(options);
    // Released last by stop(), after every peer, agent (the address book's save) and transport.
    if (homeLock !== undefined) sw.addStopHook('home-lock', () => homeLock.release());
    return sw;
  } catch (error) {
    homeLock?.release();
    throw error;
  }
}

async function assembleNodeForNode(options: NodeOptions): Promise<Switch> {
  const storage = options.storage ?? new FileStorage(options.home ?? defaultHome());
  const identity = options.identity ?? (await loadOrCreateNodeKey(storage));
  const { home: _home, nat: _nat, ws: _ws, ...common } = options;
  const sw = assembleNode(common, {
    identity,
    storage,
    defaultTransports: () => defaultTransports(options),
    createWebRtc: webrtcTransport,
    aead: nodeChaCha20Poly1305,
    handshakeCrypto: nodeHandshakeCrypto,
    defaults: { pex: false, webrtc: false, relay: false },
  });
  if (options.nat !== undefined && options.nat !== false) {
    const { protocol = 'upnp', upnp, natPmp, ...config }: NodeNatOptions = typeof options.nat === 'string' ? { protocol: options.nat } : options.nat;
    if (protocol !== 'upnp' && protocol !== 'nat-pmp') {
      throw new ConfigError('ERR_INVALID_CONFIG', `nat.protocol must be 'upnp' or 'nat-pmp', got ${String(protocol)}`);
    }
    const createMapper = protocol === 'nat-pmp' ? () => createNatPmpPortMapper(natPmp) : () => createUpnpPortMapper(upnp);
    sw.addAgent('nat', new NatAgent({ ...config, createMapper }));
  }
  return sw;
}
