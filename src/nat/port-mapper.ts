import { ConfigError, MeshlinkError, type ErrorOptions } from '../errors.js';
import { isIntegerIn, isPortNumber } from '../util/config.js';
import { MAX_LEASE_SECONDS, MAX_PORT } from './constants.js';

/**
 * The seam between NatManager (isomorphic) and a platform's way of opening ports on the local
 * gateway. Node supplies a UPnP mapper (`platforms/node/upnp`); browsers have none, and a NatManager
 * is simply not created there.
 *
 * Every method is bounded in time by the implementation's own timeouts and can be cancelled with
 * `signal`. Failures reject with NatError (or its subclasses UpnpError, NatPmpError), AbortError when `signal`
 * fired, ClosedError after close().
 */
export interface PortMapper {
  /** Short name of the mechanism, for logs: 'upnp', 'nat-pmp', 'fake'. */
  readonly kind: string;

  /**
   * The gateway's address on the outside. May be '' (the gateway has none: not connected, or a
   * private WAN address it refuses to report) or a private address (double NAT): callers decide.
   */
  externalIp(options?: NatCallOptions): Promise<string>;

  /**
   * Asks the gateway to forward `externalPort` to `internalHost:internalPort`, or renews a mapping
   * that already has exactly that shape. `externalPort` is a preference: when it is taken the mapper
   * tries others and resolves with the one granted, unless `exactExternalPort` is set (renewals).
   */
  map(request: MapRequest, options?: NatCallOptions): Promise<Mapping>;

  /**
   * Removes a mapping. When `internalPort` is given, the mapper first checks that the gateway's
   * entry still points at this host and port, and leaves anybody else's mapping alone.
   * Resolves true when a mapping was removed, false when there was none (or it was not ours).
   */
  unmap(request: UnmapRequest, options?: NatCallOptions): Promise<boolean>;

  /** The gateway's whole mapping table, when the mechanism can list it (UPnP can, NAT-PMP can't). */
  list?(options?: NatCallOptions): Promise<Mapping[]>;

  /** Stops what is in flight and releases sockets. Does not remove mappings. Idempotent. */
  close(): Promise<void>;
}

export type MappingProtocol = 'TCP' | 'UDP';

export interface NatCallOptions {
  signal?: AbortSignal | undefined;
  /**
   * Consulted before each request that reaches the gateway (each SOAP call, each NAT-PMP datagram,
   * retransmissions included). Without it a mapper sends what it needs.
   */
  budget?: GatewayRequestBudget | undefined;
}

/**
 * An allowance of requests to the gateway (NatManager's `maxGatewayRequestsPerMinute`). A mapper asks it
 * before sending anything: one map() is several requests (a UPnP renewal is a lookup and an add; a
 * gateway refusing port after port, two per port tried), so counting map() calls let a refusing gateway
 * get ~18 times the cap. When take() says false the mapper sends nothing and rejects with
 * GatewayBudgetError (a NAT-PMP retransmission is skipped instead: the datagram sent may still be answered).
 */
export interface GatewayRequestBudget {
  /** Spends one request and returns true, or returns false (nothing spent) when none is left. */
  take(): boolean;
}

export interface MapRequest {
  protocol: MappingProtocol;
  /** The port the node listens on. */
  internalPort: number;
  /** The wanted external port. @default internalPort */
  externalPort?: number | undefined;
  /** Only this external port will do: fail instead of trying others (used to renew). @default false */
  exactExternalPort?: boolean | undefined;
  /** The LAN address to forward to. @default the local address facing the gateway */
  internalHost?: string | undefined;
  /** Lease in seconds; 0 asks for a permanent mapping (which gateways may refuse or cap). */
  ttlSeconds: number;
  /** Shown in the router's table. */
  description: string;
}

export interface UnmapRequest {
  protocol: MappingProtocol;
  externalPort: number;
  /** With internalPort: remove only if the entry still forwards here. */
  internalHost?: string | undefined;
  internalPort?: number | undefined;
}

/** One entry of a gateway's mapping table, or what map() obtained. */
export interface Mapping {
  protocol: MappingProtocol;
  externalPort: number;
  internalHost: string;
  internalPort: number;
  description: string;
  /** Lease granted, in seconds (remaining lease when listed); 0 = permanent. */
  ttlSeconds: number;
  /** '' = any remote host (the usual case). */
  remoteHost?: string;
  enabled?: boolean;
}

/** Why a NAT operation failed; also the `reason` of NatManager warnings caused by it. */
export type NatFailureReason =
  /** No gateway answered discovery in time (or its description could not be read). */
  | 'no-gateway'
  /** The gateway answered with an error: a UPnP error code such as 606 or 718. */
  | 'refused'
  /** The gateway was found but a request failed without a UPnP answer: network, HTTP, timeout, garbage. */
  | 'gateway-error'
  /** The caller's GatewayRequestBudget ran out: the request was not sent (GatewayBudgetError). */
  | 'rate-limited';

/** A NAT operation failed. `code` is always 'ERR_NAT'; branch on `reason`. */
export class NatError extends MeshlinkError {
  readonly reason: NatFailureReason;

  constructor(reason: NatFailureReason, message: string, options?: ErrorOptions) {
    super('ERR_NAT', message, options);
    this.name = 'NatError';
    this.reason = reason;
  }
}

/** A mapper's request was not sent: the caller's GatewayRequestBudget had none left. `reason` 'rate-limited'. */
export class GatewayBudgetError extends NatError {
  constructor(what: string) {
    super('rate-limited', `${what} not sent: the allowance of requests to the gateway is spent`, { detail: { what } });
    this.name = 'GatewayBudgetError';
  }
}

/** Spends one request of `options.budget` (if any) before sending `what`; throws GatewayBudgetError when none is left. */
export function spendGatewayRequest(options: NatCallOptions, what: string): void {
  if (options.budget !== undefined && !options.budget.take()) throw new GatewayBudgetError(what);
}

/**
 * A UPnP gateway failed a request. When the gateway answered with a SOAP fault, `upnpCode` and
 * `upnpDescription` hold its UPnP error (`reason` 'refused'); otherwise they are undefined and
 * `reason` is 'gateway-error' (or 'no-gateway' when the description itself could not be fetched).
 */
export class UpnpError extends NatError {
  /** The SOAP action that failed, e.g. 'AddPortMapping'; '' for discovery. */
  readonly action: string;
  /** UPnP error code from the gateway's fault (see UPNP_ERROR), when it sent one. */
  readonly upnpCode: number | undefined;
  /** The gateway's own words for upnpCode. */
  readonly upnpDescription: string | undefined;
  /** HTTP status of the gateway's answer, when there was one. */
  readonly httpStatus: number | undefined;

  constructor(
    message: string,
    fields: {
      action: string;
      upnpCode?: number | undefined;
      upnpDescription?: string | undefined;
      httpStatus?: number | undefined;
      reason?: NatFailureReason;
    },
    options?: ErrorOptions,
  ) {
    const reason = fields.reason ?? (fields.upnpCode !== undefined ? 'refused' : 'gateway-error');
    super(reason, message, {
      ...options,
      detail: {
        ...options?.detail,
        action: fields.action,
        upnpCode: fields.upnpCode,
        upnpDescription: fields.upnpDescription,
        httpStatus: fields.httpStatus,
      },
    });
    this.name = 'UpnpError';
    this.action = fields.action;
    this.upnpCode = fields.upnpCode;
    this.upnpDescription = fields.upnpDescription;
    this.httpStatus = fields.httpStatus;
  }
}

/**
 * NAT-PMP result codes (RFC 6886 section 3.5). 0 is success; a gateway answering anything else
 * refused the request.
 */
export const NAT_PMP_RESULT = Object.freeze({
  Success: 0,
  UnsupportedVersion: 1,
  NotAuthorized: 2,
  NetworkFailure: 3,
  OutOfResources: 4,
  UnsupportedOpcode: 5,
} as const);

const NAT_PMP_RESULT_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(NAT_PMP_RESULT).map(([name, code]) => [code, name]));

/** 'NotAuthorized' for 2; undefined for codes RFC 6886 does not define. */
export function natPmpResultName(code: number): string | undefined {
  return NAT_PMP_RESULT_NAMES.get(code);
}

/**
 * A NAT-PMP gateway failed a request. When it answered with a non-zero result code, `resultCode`
 * holds it (`reason` 'refused'); otherwise `resultCode` is undefined and `reason` is 'no-gateway'
 * (no default route, or no answer to any retransmission: RFC 6886 reads that as "no NAT-PMP
 * gateway") or 'gateway-error' (a socket error, a malformed answer).
 */
export class NatPmpError extends NatError {
  /** The request's opcode: 0 external address, 1 map UDP, 2 map TCP. */
  readonly opcode: number;
  /** The gateway's result code (see NAT_PMP_RESULT), when it answered with one. */
  readonly resultCode: number | undefined;

  constructor(
    message: string,
    fields: { opcode: number; resultCode?: number | undefined; reason?: NatFailureReason },
    options?: ErrorOptions,
  ) {
    const reason = fields.reason ?? (fields.resultCode !== undefined ? 'refused' : 'gateway-error');
    super(reason, message, { ...options, detail: { ...options?.detail, opcode: fields.opcode, resultCode: fields.resultCode } });
    this.name = 'NatPmpError';
    this.opcode = fields.opcode;
    this.resultCode = fields.resultCode;
  }
}

/**
 * UPnP error codes a WANIPConnection gateway uses (UPnP Device Architecture and IGD:1/IGD:2 specs).
 * The numbers are what gateways send; the names are for reading code and logs.
 */
export const UPNP_ERROR = Object.freeze({
  InvalidAction: 401,
  InvalidArgs: 402,
  ActionFailed: 501,
  ArgumentValueInvalid: 600,
  ArgumentValueOutOfRange: 601,
  OptionalActionNotImplemented: 602,
  ActionNotAuthorized: 606,
  SpecifiedArrayIndexInvalid: 713,
  NoSuchEntryInArray: 714,
  WildCardNotPermittedInSrcIP: 715,
  WildCardNotPermittedInExtPort: 716,
  ConflictInMappingEntry: 718,
  SamePortValuesRequired: 724,
  OnlyPermanentLeasesSupported: 725,
  RemoteHostOnlySupportsWildcard: 726,
  ExternalPortOnlySupportsWildcard: 727,
  NoPortMapsAvailable: 728,
  ConflictWithOtherMechanisms: 729,
  WildCardNotPermittedInIntPort: 732,
} as const);

const UPNP_ERROR_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(UPNP_ERROR).map(([name, code]) => [code, name]));

/** 'ConflictInMappingEntry' for 718; undefined for codes outside UPNP_ERROR. */
export function upnpErrorName(code: number): string | undefined {
  return UPNP_ERROR_NAMES.get(code);
}

/** True when `error` is a UpnpError carrying one of `codes`. */
export function hasUpnpCode(error: unknown, ...codes: number[]): error is UpnpError {
  return error instanceof UpnpError && error.upnpCode !== undefined && codes.includes(error.upnpCode);
}

/** Rejects a port outside 1..65535 (0 means "any" to a socket, nothing to a gateway). */
export function validatePort(port: unknown, name: string): void {
  if (!isPortNumber(port)) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `${name} must be an integer in 1..${MAX_PORT}, got ${String(port)}`);
  }
}

/** The checks every PortMapper makes on a map request before asking the gateway. */
export function validateMapRequest(request: MapRequest): void {
  if (request.protocol !== 'TCP' && request.protocol !== 'UDP') {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `protocol must be 'TCP' or 'UDP', got ${String(request.protocol)}`);
  }
  validatePort(request.internalPort, 'internalPort');
  if (request.externalPort !== undefined) validatePort(request.externalPort, 'externalPort');
  if (!isIntegerIn(request.ttlSeconds, 0, MAX_LEASE_SECONDS)) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `ttlSeconds must be an integer in 0..${MAX_LEASE_SECONDS}`);
  }
}
