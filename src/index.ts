// The isomorphic public API. Platform entries (platforms/node, platforms/browser) re-export this and add
// createNode() with their transports, storage and crypto.
export {
  MeshlinkError,
  ProtocolError,
  HandshakeError,
  TimeoutError,
  AbortError,
  ClosedError,
  ConfigError,
  TransportError,
  PeerRejectedError,
  NotRunningError,
  SendError,
  RemoteCloseError,
  isMeshlinkError,
  type ErrorCode,
  type ErrorOptions,
} from './errors.js';
export { parseAddress, formatAddress, isNodeId, withNodeId, type PeerAddress } from './transport/address.js';
export { normalizeAddress } from './transport/canonical-address.js';
export type { Link, LinkHandlers } from './transport/link.js';
export type { MemoryAccount } from './util/memory-budget.js';
export type { Transport, Listener, DialOptions as TransportDialOptions } from './transport/transport.js';
export { WebSocketClientTransport, type WebSocketConstructor } from './transport/websocket-client.js';
export { WebSocketLink, type WebSocketLike } from './transport/websocket-link.js';
export { MemoryNetwork, createMemoryLinkPair, type MemoryNetworkOptions } from './transport/memory.js';
export { monotonicNow, systemClock, type Clock, type TimerHandle } from './util/clock.js';
export type { Storage } from './storage/storage.js';
export { MemoryStorage } from './storage/storage.js';
export { generateNodeKey, nodeKeyFromSecret, nodeIdFromPublicKey, verifySignature, loadOrCreateNodeKey, type NodeKey } from './crypto/keys.js';
export { nobleChaCha20Poly1305, type Aead, type AeadFactory } from './crypto/aead.js';
export { nobleHandshakeCrypto, type EphemeralKey, type HandshakeCrypto } from './crypto/handshake-crypto.js';
export { secureHandshake, type SecureLink, type SecureHandshakeOptions } from './conn/secure-link.js';
export { MConnection } from './conn/mconnection.js';
export type { MConnectionHandlers, SendOptions, ConnectionStatus } from './conn/mconnection-types.js';
export { DEFAULT_MCONNECTION_CONFIG, type MConnectionConfig } from './conn/config.js';
export type { ChannelDescriptor } from './conn/channel-descriptor.js';
export type { ChannelStatus } from './conn/channel.js';
export { Switch, type SwitchEvents, type SwitchStatus, type DialOptions } from './switch/switch.js';
export type { SwitchOptions } from './switch/config.js';
export { BaseAgent, type Agent } from './switch/agent.js';
export { Peer, type PeerStatus } from './switch/peer.js';
export { peerNetworkGroup } from './switch/inbound-eviction.js';
export type { Envelope } from './switch/inbox.js';
export type { NodeInfo } from './switch/node-info.js';
export { PROTOCOL_VERSION } from './switch/node-info.js';
export { encodeMessage, decodeMessage } from './wire/codec.js';
export { DEFAULT_DECODE_LIMITS, resolveDecodeLimits, type DecodeLimits } from './wire/config.js';
export { AddressBook, type AddressBookOptions, type AddressBookStats, type AddOutcome, type LoadResult } from './pex/address-book.js';
export { PEXAgent, type PexAgentOptions, type PexAgentEvents, type PexStats } from './pex/pex-agent.js';
export { encodePexMessage, decodePexMessage, type PexMessage } from './pex/pex-messages.js';
export { PEX_CHANNEL_ID } from './pex/constants.js';
export { DEFAULT_PEX_CONFIG, DEFAULT_ADDRESS_BOOK_CONFIG, type PexConfig, type AddressBookConfig } from './pex/config.js';
export { SignalAgent, type SignalAgentOptions, type SignalAgentStats, type IncomingSignal } from './webrtc/signal-agent.js';
export { encodeSignalMessage, decodeSignalMessage, type SignalData, type SignalMessage } from './webrtc/signal-messages.js';
export { SIGNAL_CHANNEL_ID } from './webrtc/constants.js';
export { WebRtcTransport, type WebRtcRoute, type WebRtcTransportOptions } from './webrtc/webrtc-transport.js';
export { WebRtcLink } from './webrtc/webrtc-link.js';
export type { SimplePeerLike, SimplePeerFactory } from './webrtc/simple-peer-like.js';
export {
  PEX_AGENT_NAME,
  SIGNAL_AGENT_NAME,
  DEFAULT_NETWORK,
  type CommonNodeOptions,
  type NodePexOptions,
  type NodeWebRtcOptions,
  type IceServer,
} from './node-options.js';
