/** UPnP port mapping for Node: see docs/upnp.md. */
export {
  createUpnpPortMapper,
  UpnpPortMapper,
  DEFAULT_UPNP_PORT_MAPPER_CONFIG,
  MAX_LISTED_MAPPINGS,
  resolveUpnpPortMapperConfig,
  type UpnpGateway,
  type UpnpPortMapperConfig,
  type UpnpPortMapperOptions,
} from './upnp-port-mapper.js';
export { discoverGateway, IGD_SEARCH_TARGETS, type SsdpAnswer } from './ssdp.js';
