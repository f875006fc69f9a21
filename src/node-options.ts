import type { NodeKey } from './crypto/keys.js';
import { PEXAgent, type PexAgentOptions } from './pex/pex-agent.js';
import { SignalAgent } from './webrtc/signal-agent.js';
import type { Storage } from './storage/storage.js';
import type { SwitchOptions } from './switch/config.js';
import { Switch } from './switch/switch.js';
import type { Transport } from './transport/transport.js';
import type { WebRtcTransport, WebRtcTransportOptions } from './webrtc/webrtc-transport.js';

/** `createNode({ pex })`: peer exchange settings; the book lives in the node's storage. */
export type NodePexOptions = Omit<PexAgentOptions, 'storage'>;

/** An ICE server as RTCPeerConnection takes it (STUN, or TURN with credentials). */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** `createNode({ webrtc })`: WebRTC data channels to peers met through a relay. */
export interface NodeWebRtcOptions extends Omit<WebRtcTransportOptions, 'createPeer'> {
  /** STUN and TURN servers, for peers behind NATs. Merged into `rtcConfig`. @default [] */
  iceServers?: IceServer[];
  /** The rest of the RTCPeerConnection configuration. @default {} */
  rtcConfig?: Record<string, unknown>;
}

/**
 * The options of `createNode`, the same shape in Node and in browsers; each platform adds what only
 * it has (Node: `home`, `nat`).
 */
export interface CommonNodeOptions extends Omit<SwitchOptions, 'identity' | 'transports' | 'network'> {
  /** Nodes only connect within one network. @default 'meshlink' */
  network?: string;
  /** Where the key and the address book live. @default files in `home` (Node), IndexedDB (browsers) */
  storage?: Storage;
  /** Use this key instead of the stored one. */
  identity?: NodeKey;
  /** @default Node: TCP and WebSocket; browsers: WebSocket (plus WebRTC unless `webrtc: false`) */
  transports?: readonly Transport[];
  /**
   * Peer exchange: discover peers from `seeds`, keep an address book in `storage`. `true` for the
   * defaults. Local addresses (loopback, private ranges) need `allowLocal`.
   * @default Node: false; browsers: true
   */
  pex?: boolean | NodePexOptions;
  /**
   * WebRTC to peers met through a relay (`webrtc://<id>?via=<relayId>`): adds the transport, listens
   * for offers and adds the signalling agent (as agent "signal", channel 0x01). In Node this needs the
   * optional package `@roamhq/wrtc`. @default Node: false; browsers: true
   */
  webrtc?: boolean | NodeWebRtcOptions;
  /**
   * Forward WebRTC signalling between our peers and hand out their `webrtc://…?via=<us>` addresses by
   * PEX: what a relay does. Works without `webrtc` (a relay need not speak WebRTC itself).
   * @default Node: false; browsers: true (pages relay for pages they are linked to)
   */
  relay?: boolean;
}

/** The RTCPeerConnection configuration from `webrtc` options. */
export function rtcConfigOf(options: NodeWebRtcOptions): Record<string, unknown> {
  const base = options.rtcConfig ?? {};
  const iceServers = [...((base['iceServers'] as IceServer[] | undefined) ?? []), ...(options.iceServers ?? [])];
  return { ...base, iceServers };
}

/** What a platform's `createNode` supplies to the shared assembly. */
export interface NodeParts<WebRtcOptions extends NodeWebRtcOptions> {
  identity: NodeKey;
  storage: Storage;
  /** The platform's transports, used unless `options.transports` is given (WebRTC is added apart). */
  defaultTransports: () => Transport[];
  /** Builds the platform's WebRTC transport (simple-peer over its RTCPeerConnection). */
  createWebRtc: (options: WebRtcOptions) => WebRtcTransport;
  aead?: SwitchOptions['aead'];
  handshakeCrypto?: SwitchOptions['handshakeCrypto'];
  /** The platform's defaults for `pex`, `webrtc` and `relay`, and PEX options under the user's. */
  defaults: { pex: boolean; webrtc: boolean; relay: boolean; pexOptions?: NodePexOptions };
}

export const DEFAULT_NETWORK = 'meshlink';
/** Name of the PEX agent added by `createNode`: `sw.getAgent<PEXAgent>(PEX_AGENT_NAME)`. */
export const PEX_AGENT_NAME = 'pex';
/** Name of the signalling agent added by `createNode` (channel 0x01). */
export const SIGNAL_AGENT_NAME = 'signal';

/**
 * The Switch both platforms' `createNode` return: options merged the same way, PEX on the node's
 * storage, WebRTC listening on `webrtc://<our id>` with its signalling agent, or a relaying-only
 * signalling agent when `relay` is on without WebRTC.
 */
export function assembleNode<WebRtcOptions extends NodeWebRtcOptions>(
  options: CommonNodeOptions & { webrtc?: boolean | WebRtcOptions },
  parts: NodeParts<WebRtcOptions>,
): Switch {
  const { pex: _pex, webrtc: _webrtc, relay: _relay, storage: _storage, identity: _identity, transports: _transports, ...switchOptions } = options;
  const relay = options.relay ?? parts.defaults.relay;
  const webrtcOption = options.webrtc ?? parts.defaults.webrtc;
  const webrtc = webrtcOption === false ? undefined : parts.createWebRtc(webrtcOption === true ? ({} as WebRtcOptions) : webrtcOption);
  const base = options.transports ?? parts.defaultTransports();
  const listen = [...(options.listen ?? [])];
  if (webrtc !== undefined) listen.push(`webrtc://${parts.identity.nodeId}`);
  const sw = new Switch({
    ...(parts.aead !== undefined ? { aead: parts.aead } : {}),
    ...(parts.handshakeCrypto !== undefined ? { handshakeCrypto: parts.handshakeCrypto } : {}),
    ...switchOptions,
    listen,
    network: options.network ?? DEFAULT_NETWORK,
    identity: parts.identity,
    transports: webrtc === undefined ? base : [...base, webrtc],
  });
  const pex = options.pex ?? parts.defaults.pex;
  if (pex !== false) {
    const pexOptions: NodePexOptions = { ...parts.defaults.pexOptions, ...(pex === true ? {} : pex) };
    sw.addAgent(PEX_AGENT_NAME, new PEXAgent({ relayWebRtc: relay, ...pexOptions, ...(pexOptions.book === undefined ? { storage: parts.storage } : {}) }));
  }
  if (webrtc !== undefined) {
    webrtc.signalAgent.setRelay(relay);
    sw.addAgent(SIGNAL_AGENT_NAME, webrtc.signalAgent);
  } else if (relay) {
    sw.addAgent(SIGNAL_AGENT_NAME, new SignalAgent({ relay: true }));
  }
  return sw;
}
