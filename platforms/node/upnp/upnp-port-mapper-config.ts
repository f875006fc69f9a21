/** What a UpnpPortMapper is given (options) and runs with (config), with their checks. */
import { isIntegerIn, isPositiveFinite, resolveConfig } from '../../../src/util/config.js';
import { DEFAULT_DISCOVERY_TIMEOUT_MS, DEFAULT_MAX_PORT_ATTEMPTS, DEFAULT_REQUEST_TIMEOUT_MS } from '../../../src/nat/constants.js';

export interface UpnpPortMapperOptions {
  /** How long SSDP discovery waits for a gateway, in ms. @default 2000 */
  discoveryTimeoutMs?: number;
  /** Bound on each HTTP request to the gateway, in ms. @default 4000 */
  requestTimeoutMs?: number;
  /** External ports tried before map() gives up on conflicts (IGDv1 path). @default 8 */
  maxPortAttempts?: number;
  /**
   * URL of the gateway's root description (`http://192.168.1.1:5000/rootDesc.xml`): skips SSDP,
   * like `upnpc -u`. @default undefined (discover)
   */
  location?: string;
  /**
   * LAN address mappings forward to when a request names none.
   * @default the local address of our connection to the gateway
   */
  localAddress?: string;
}

export interface UpnpPortMapperConfig {
  discoveryTimeoutMs: number;
  requestTimeoutMs: number;
  maxPortAttempts: number;
  location: string | undefined;
  localAddress: string | undefined;
}

export const DEFAULT_UPNP_PORT_MAPPER_CONFIG: Readonly<UpnpPortMapperConfig> = Object.freeze({
  discoveryTimeoutMs: DEFAULT_DISCOVERY_TIMEOUT_MS,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  maxPortAttempts: DEFAULT_MAX_PORT_ATTEMPTS,
  location: undefined,
  localAddress: undefined,
});

/** Merges options over DEFAULT_UPNP_PORT_MAPPER_CONFIG; throws ConfigError('ERR_INVALID_CONFIG') on nonsense. */
export function resolveUpnpPortMapperConfig(options: UpnpPortMapperOptions = {}): UpnpPortMapperConfig {
  return resolveConfig('UPnP port mapper', DEFAULT_UPNP_PORT_MAPPER_CONFIG, options, (config, reject) => {
    if (!isPositiveFinite(config.discoveryTimeoutMs)) reject('discoveryTimeoutMs must be > 0');
    if (!isPositiveFinite(config.requestTimeoutMs)) reject('requestTimeoutMs must be > 0');
    if (!isIntegerIn(config.maxPortAttempts, 1, Number.POSITIVE_INFINITY)) reject('maxPortAttempts must be an integer >= 1');
    if (config.location !== undefined) {
      let protocol = '';
      try {
        protocol = new URL(config.location).protocol;
      } catch {
        reject('location must be a URL');
      }
      if (protocol !== 'http:') reject('location must be an http: URL');
    }
  });
}
