/** NAT-PMP (RFC 6886) port mapping for Node: see docs/upnp.md. */
export { createNatPmpPortMapper, NatPmpPortMapper } from './nat-pmp-port-mapper.js';
export {
  DEFAULT_NAT_PMP_PORT_MAPPER_CONFIG,
  DEFAULT_NAT_PMP_TIMEOUT_MS,
  NAT_PMP_INITIAL_RETRANSMIT_MS,
  resolveNatPmpPortMapperConfig,
  type NatPmpPortMapperConfig,
  type NatPmpPortMapperOptions,
} from './nat-pmp-port-mapper-config.js';
export { NAT_PMP_PORT, parseDefaultGateway } from './codec.js';
