/** What a NatPmpPortMapper is given (options) and runs with (config), with their checks. */
import { isPositiveFinite, resolveConfig } from '../../../src/util/config.js';
import { parseIPv4 } from '../../../src/nat/ip.js';

/** First retransmission after 250 ms, then doubling (RFC 6886 section 3.1). */
export const NAT_PMP_INITIAL_RETRANSMIT_MS = 250;
/** Bound on one request, retransmissions included (the RFC's own schedule runs 64 s: too long for us). */
export const DEFAULT_NAT_PMP_TIMEOUT_MS = 2000;

export interface NatPmpPortMapperOptions {
  /** The gateway's LAN address (`'192.168.1.1'`). @default the IPv4 default route's gateway (/proc/net/route, Linux) */
  gateway?: string;
  /**
   * Bound on each request, in ms, retransmissions (250 ms, 500 ms, 1 s, ...) included. No answer by
   * then means no NAT-PMP gateway (NatPmpError, reason 'no-gateway'). @default 2000
   */
  timeoutMs?: number;
  /** Where the default route is read from (tests). @default '/proc/net/route' */
  routeFile?: string;
}

export interface NatPmpPortMapperConfig {
  gateway: string | undefined;
  timeoutMs: number;
  routeFile: string;
}

export const DEFAULT_NAT_PMP_PORT_MAPPER_CONFIG: Readonly<NatPmpPortMapperConfig> = Object.freeze({
  gateway: undefined,
  timeoutMs: DEFAULT_NAT_PMP_TIMEOUT_MS,
  routeFile: '/proc/net/route',
});

/** Merges options over DEFAULT_NAT_PMP_PORT_MAPPER_CONFIG; throws ConfigError('ERR_INVALID_CONFIG') on nonsense. */
export function resolveNatPmpPortMapperConfig(options: NatPmpPortMapperOptions = {}): NatPmpPortMapperConfig {
  return resolveConfig('NAT-PMP port mapper', DEFAULT_NAT_PMP_PORT_MAPPER_CONFIG, options, (config, reject) => {
    if (!isPositiveFinite(config.timeoutMs)) reject('timeoutMs must be > 0');
    if (config.gateway !== undefined && (typeof config.gateway !== 'string' || parseIPv4(config.gateway) === undefined)) {
      reject('gateway must be an IPv4 address (NAT-PMP is IPv4 only)');
    }
    if (typeof config.routeFile !== 'string' || config.routeFile === '') reject('routeFile must be a path');
  });
}
