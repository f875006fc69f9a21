/** What a NatManager is given (options) and the tunables it runs with (config), with their checks. */
import {
  DEFAULT_LEASE_SECONDS,
  DEFAULT_MAPPING_DESCRIPTION,
  DEFAULT_MAX_GATEWAY_REQUESTS_PER_MINUTE,
  DEFAULT_MIN_RENEW_INTERVAL_MS,
  DEFAULT_RETRY_INTERVAL_MS,
  DEFAULT_STOP_TIMEOUT_MS,
  MAX_LEASE_SECONDS,
} from './constants.js';
import { isIntegerIn, isPositiveFinite, resolveConfig } from '../util/config.js';
import type { NatPort } from './nat-ports.js';
import type { PortMapper } from './port-mapper.js';
import type { Clock } from '../util/clock.js';

export interface NatManagerOptions {
  /** How ports get opened; the NatManager owns it from now on and closes it on stop(). */
  mapper: PortMapper;
  /** This node's id (40 hex), put in advertised addresses. */
  nodeId: string;
  /** The node's listening ports; see natPortsFromListenAddresses(). */
  ports: readonly NatPort[];
  /** Runs the renewal, retry and stop timers. @default systemClock */
  clock?: Clock;
  /** Lease asked for each mapping, in seconds; renewed at half of it. @default 3600 (1 h) */
  leaseSeconds?: number;
  /** Delay before trying again after a failure, in ms. @default 300_000 (5 min) */
  retryIntervalMs?: number;
  /**
   * Shortest wait between a grant and its renewal, in ms, whatever lease the gateway granted: a lease under
   * twice this lapses (the address is withdrawn) and is asked for again at this pace. @default 30_000 (30 s)
   */
  minRenewIntervalMs?: number;
  /** Requests to the gateway in a minute, at most: each SOAP call or NAT-PMP datagram (external address, map, renew). @default 30 */
  maxGatewayRequestsPerMinute?: number;
  /** Label of the mappings in the gateway's table. @default 'meshlink' */
  description?: string;
  /** Advertise a private external address (lab setups, carrier networks that route 100.64/10). @default false */
  allowPrivateExternalIp?: boolean;
  /** stop() waits this long for a mapping in flight and for each removal, in ms. @default 5000 */
  stopTimeoutMs?: number;
}

export interface NatManagerConfig {
  leaseSeconds: number;
  retryIntervalMs: number;
  minRenewIntervalMs: number;
  maxGatewayRequestsPerMinute: number;
  description: string;
  allowPrivateExternalIp: boolean;
  stopTimeoutMs: number;
}

export const DEFAULT_NAT_MANAGER_CONFIG: Readonly<NatManagerConfig> = Object.freeze({
  leaseSeconds: DEFAULT_LEASE_SECONDS,
  retryIntervalMs: DEFAULT_RETRY_INTERVAL_MS,
  minRenewIntervalMs: DEFAULT_MIN_RENEW_INTERVAL_MS,
  maxGatewayRequestsPerMinute: DEFAULT_MAX_GATEWAY_REQUESTS_PER_MINUTE,
  description: DEFAULT_MAPPING_DESCRIPTION,
  allowPrivateExternalIp: false,
  stopTimeoutMs: DEFAULT_STOP_TIMEOUT_MS,
});

/** Merges options over DEFAULT_NAT_MANAGER_CONFIG; throws ConfigError('ERR_INVALID_CONFIG') on nonsense. */
export function resolveNatManagerConfig(options: Partial<NatManagerConfig> = {}): NatManagerConfig {
  return resolveConfig('NatManager', DEFAULT_NAT_MANAGER_CONFIG, options, (config, reject) => {
    if (!isIntegerIn(config.leaseSeconds, 1, MAX_LEASE_SECONDS)) reject(`leaseSeconds must be an integer in 1..${MAX_LEASE_SECONDS}`);
    if (!isPositiveFinite(config.retryIntervalMs)) reject('retryIntervalMs must be > 0');
    if (!isPositiveFinite(config.minRenewIntervalMs)) reject('minRenewIntervalMs must be > 0');
    // At least one request a cycle (the external address) and one mapping, or no port is ever mapped.
    if (!isIntegerIn(config.maxGatewayRequestsPerMinute, 2, 100_000)) reject('maxGatewayRequestsPerMinute must be an integer in 2..100000');
    if (!isPositiveFinite(config.stopTimeoutMs)) reject('stopTimeoutMs must be > 0');
    if (typeof config.description !== 'string' || config.description.length === 0 || config.description.length > 256) {
      reject('description must be 1..256 characters');
    }
  });
}
