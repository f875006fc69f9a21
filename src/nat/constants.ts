/**
 * Tunables of the NAT layer (port mapping through a home gateway). Every limit carries its unit in its
 * name; each is the default of an option of NatManager or of a platform's PortMapper.
 */

/** Lease asked of the gateway for each mapping; renewed at RENEW_AT_LEASE_FRACTION of it. */
export const DEFAULT_LEASE_SECONDS = 60 * 60;

/** A mapping is renewed when this fraction of its lease has run (half: one failed renewal is survivable). */
export const RENEW_AT_LEASE_FRACTION = 0.5;

/**
 * A mapping is renewed no sooner than this after it was granted, however short the lease the gateway
 * granted (NAT-PMP gateways choose it: one granting 1 s had us send a request every 0.5 s for as long as we
 * ran). A lease shorter than twice this lapses between renewals: the address is withdrawn when it runs out
 * and the port is asked for again at this pace.
 */
export const DEFAULT_MIN_RENEW_INTERVAL_MS = 30 * 1000;

/**
 * Requests to the gateway one NatManager makes in a minute, at most: a token bucket holding a minute's worth.
 * A request is what reaches the gateway: each SOAP call (a UPnP map is a lookup and an add per port tried, up
 * to DEFAULT_MAX_PORT_ATTEMPTS ports), each lookup of a UPnP gateway (again after a call it did not answer),
 * each NAT-PMP datagram, retransmissions included; removals at stop() are not counted. Past it the ports due wait for the bucket, and an operation that runs out
 * midway stops there (warning 'rate-limited'); whatever else makes attempts frequent (failed renewals of a
 * short lease retried each second, a gateway refusing every port, an external address changing every cycle),
 * the gateway sees no more than this.
 */
export const DEFAULT_MAX_GATEWAY_REQUESTS_PER_MINUTE = 30;

/** After a failure (no gateway, refusal, double NAT) the whole mapping is tried again this often. */
export const DEFAULT_RETRY_INTERVAL_MS = 5 * 60 * 1000;

/** A failed renewal is retried no sooner than this, however short the remaining lease. */
export const MIN_RENEW_RETRY_MS = 1000;

/** stop() waits this long for a mapping request in flight, then for each removal, before giving up. */
export const DEFAULT_STOP_TIMEOUT_MS = 5 * 1000;

/** How long SSDP discovery listens for a gateway's answer (SSDP asks for answers within MX = 1 s). */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 2 * 1000;

/** Bound on one request to the gateway (description fetch or SOAP action). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 4 * 1000;

/** External ports a mapper tries (the wanted one, then random ones) before giving up on conflicts. */
export const DEFAULT_MAX_PORT_ATTEMPTS = 8;

/** Random external ports are drawn from the unprivileged range; many gateways refuse ports below 1024. */
export const MIN_RANDOM_EXTERNAL_PORT = 1024;
export const MAX_PORT = 65535;

/** The longest lease UPnP allows (one week); IGDv2 gateways also use it when asked for 0 ("forever"). */
export const MAX_LEASE_SECONDS = 7 * 24 * 60 * 60;

/** Description put on mappings so people reading their router's table know who made them. */
export const DEFAULT_MAPPING_DESCRIPTION = 'meshlink';
