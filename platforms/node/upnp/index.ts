/** UPnP port mapping for Node: see docs/upnp.md. */
export { createUpnpPortMapper, UpnpPortMapper } from './upnp-port-mapper.js';
export {
  DEFAULT_UPNP_PORT_MAPPER_CONFIG,
  resolveUpnpPortMapperConfig,
  type UpnpPortMapperConfig,
  type UpnpPortMapperOptions,
} from './upnp-port-mapper-config.js';
export { type UpnpGateway } from './gateway-locator.js';
export { MAX_LISTED_MAPPINGS } from './mapping-table.js';
export { discoverGateway, loadSsdp, IGD_SEARCH_TARGETS, type SsdpAnswer } from './ssdp.js';
