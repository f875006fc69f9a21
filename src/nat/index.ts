/** NAT traversal by port mapping: the isomorphic part (interfaces, errors, NatManager). */
export * from './constants.js';
export { classifyExternalIp, isLoopbackHost, isWildcardHost, parseIPv4, type ExternalIpKind } from './ip.js';
export {
  DEFAULT_NAT_MANAGER_CONFIG,
  NatManager,
  natPortsFromListenAddresses,
  resolveNatManagerConfig,
  type NatManagerConfig,
  type NatManagerEvents,
  type NatManagerOptions,
  type NatManagerState,
  type NatMapping,
  type NatPort,
  type NatTransport,
  type NatWarning,
  type NatWarningReason,
} from './nat-manager.js';
export {
  NatError,
  UPNP_ERROR,
  UpnpError,
  hasUpnpCode,
  upnpErrorName,
  type Mapping,
  type MappingProtocol,
  type MapRequest,
  type NatCallOptions,
  type NatFailureReason,
  type PortMapper,
  type UnmapRequest,
} from './port-mapper.js';
export { TypedEventTarget, type TypedListener } from '../util/events.js';
