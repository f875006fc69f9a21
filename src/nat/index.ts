/** NAT traversal by port mapping: the isomorphic part (interfaces, errors, NatManager). */
export * from './constants.js';
export { classifyExternalIp, isLoopbackHost, isWildcardHost, parseIPv4, type ExternalIpKind } from './ip.js';
export { NatManager, type NatManagerState } from './nat-manager.js';
export {
  DEFAULT_NAT_MANAGER_CONFIG,
  resolveNatManagerConfig,
  type NatManagerConfig,
  type NatManagerOptions,
} from './nat-manager-config.js';
export { type NatManagerEvents, type NatMapping, type NatWarning, type NatWarningReason } from './nat-events.js';
export { natPortsFromListenAddresses, type NatPort, type NatTransport } from './nat-ports.js';
export {
  GatewayBudgetError,
  NAT_PMP_RESULT,
  NatError,
  NatPmpError,
  UPNP_ERROR,
  UpnpError,
  hasUpnpCode,
  natPmpResultName,
  upnpErrorName,
  type GatewayRequestBudget,
  type Mapping,
  type MappingProtocol,
  type MapRequest,
  type NatCallOptions,
  type NatFailureReason,
  type PortMapper,
  type UnmapRequest,
} from './port-mapper.js';
export { TypedEventTarget, type TypedListener } from '../util/events.js';
