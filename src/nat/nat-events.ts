/** What a NatManager reports: the mappings it holds, its warnings, and the events carrying them. */
import { toError } from '../errors.js';
import type { NatTransport } from './nat-ports.js';
import { NatError, NatPmpError, UpnpError, type Mapping, type NatFailureReason } from './port-mapper.js';

/** A port the NatManager holds open on the gateway. */
export interface NatMapping {
  readonly transport: NatTransport;
  readonly internalPort: number;
  readonly externalIp: string;
  readonly externalPort: number;
  /** What to advertise: `tcp://<id>@<externalIp>:<externalPort>` (ws/wss keep their path). */
  readonly address: string;
  /** Lease granted in seconds; 0 = permanent (a gateway that only supports those). */
  readonly ttlSeconds: number;
  /** When the gateway granted or last renewed it (ms since epoch). */
  readonly mappedAt: number;
  /** When the lease runs out unless renewed (ms since epoch); undefined for permanent mappings. */
  readonly expiresAt: number | undefined;
  /** The mapper's record (internal host, description...). */
  readonly mapping: Mapping;
}

export type NatWarningReason = NatWarning['reason'];

interface WarningBase {
  /** One line for humans; branch on `reason`. */
  message: string;
  /** When the failed step will be tried again (ms from now); undefined when it won't be. */
  retryInMs: number | undefined;
}

interface ErrorWarningBase extends WarningBase {
  error: Error;
  /** The UPnP error code the gateway sent (606, 718, ...), when it sent one. */
  upnpCode: number | undefined;
  upnpDescription: string | undefined;
  /** The NAT-PMP result code the gateway sent (2 not authorized, 3 network failure, 4 out of resources...), when it sent one. */
  natPmpCode: number | undefined;
  /** The internal port concerned; undefined when the failure concerns the gateway as a whole. */
  port: number | undefined;
}

/**
 * Why the node is not (or no longer) reachable through the gateway. The node keeps running on its
 * local addresses whatever the reason; retryInMs says when the manager tries again.
 */
export type NatWarning =
  /** Discovery found no gateway in time. */
  | (ErrorWarningBase & { reason: 'no-gateway' })
  /** The gateway refused (UPnP error code in upnpCode: 606 not authorized, 718 conflict, 728 no ports...; or a NAT-PMP result code in natPmpCode). */
  | (ErrorWarningBase & { reason: 'refused' })
  /** The gateway was found but did not answer properly (network, HTTP, timeout). */
  | (ErrorWarningBase & { reason: 'gateway-error' })
  /**
   * maxGatewayRequestsPerMinute ran out in the middle of an operation (a gateway refusing port after port
   * takes two requests per port tried): the rest was not sent; retried once the allowance is back.
   */
  | (ErrorWarningBase & { reason: 'rate-limited' })
  /** A mapping could not be renewed; it stays advertised until expiresAt. */
  | (ErrorWarningBase & { reason: 'renew-failed'; expiresAt: number | undefined })
  /** stop() could not remove a mapping; it lapses with its lease. */
  | (ErrorWarningBase & { reason: 'unmap-failed' })
  /** The gateway's external address is private or shared (double NAT, CGNAT): mapping here won't help. */
  | (WarningBase & { reason: 'private-external-ip'; externalIp: string })
  /** The gateway reports no (or an unusable) external address: not connected, or double NAT. */
  | (WarningBase & { reason: 'no-external-ip'; externalIp: string })
  /** A listener bound to loopback can't be reached through any gateway; it is skipped. */
  | (WarningBase & { reason: 'unmappable-listener'; port: number; host: string });

export interface NatManagerEvents {
  /** A port was mapped (renewed: false) or its lease renewed (renewed: true). */
  mapped: { mapping: NatMapping; renewed: boolean };
  /** A mapping is gone: removed by stop(), or lapsed after failed renewals. */
  unmapped: { mapping: NatMapping; reason: 'stopped' | 'expired' };
  /** The set of advertised addresses changed. */
  addresses: { addresses: string[] };
  warning: NatWarning;
}

/** The error part of a warning: the error itself and, when the gateway sent one, its UPnP code. */
export function errorWarningFields(
  error: unknown,
  port: number | undefined,
): { error: Error; upnpCode: number | undefined; upnpDescription: string | undefined; natPmpCode: number | undefined; port: number | undefined } {
  return {
    error: toError(error),
    upnpCode: error instanceof UpnpError ? error.upnpCode : undefined,
    upnpDescription: error instanceof UpnpError ? error.upnpDescription : undefined,
    natPmpCode: error instanceof NatPmpError ? error.resultCode : undefined,
    port,
  };
}

/** The warning reason for a failed mapper call: the NatError's own, else a gateway error. */
export function failureReasonOf(error: unknown): NatFailureReason {
  return error instanceof NatError ? error.reason : 'gateway-error';
}
