/**
 * PortMapper over UPnP IGD (IGDv1 and IGDv2) for Node.
 *
 * Who does what:
 *  - nat-upnp 1.1.1 finds the gateway: its SSDP searcher multicasts the M-SEARCH on every interface
 *    and hands back the LOCATION of the gateway's description (ssdp.ts).
 *  - A small SOAP client on node:http (soap.ts) does the rest: it reads the description, picks
 *    WANIPConnection:2 (IGDv2), WANIPConnection:1 or WANPPPConnection:1, and calls the actions.
 *    nat-upnp's own client can't be used for that part: it hard-codes the IGDv1 service types
 *    ("Service not found" on IGDv2), turns every SOAP fault into "Request failed: 500" (the UPnP
 *    error code is lost), makes getMappings() return [] on any error, has no timeouts or
 *    cancellation, and re-discovers the gateway before every call. Those are the gaps this file fills;
 *    a second UPnP library would have duplicated nat-upnp's discovery and brought its own gaps
 *    (`@achingbrain/nat-port-mapper` 4.x speaks only IGDv2 and fails to remove mappings whose external
 *    port differs from the internal one).
 *
 * Behaviour worth knowing:
 *  - The gateway is discovered once and cached; a request that fails without a UPnP answer
 *    (network, timeout) drops the cache so the next call discovers again (the gateway may have moved).
 *  - map() never takes over somebody else's mapping. Before asking for an external port it looks the
 *    port up (GetSpecificPortMappingEntry); some gateways (miniupnpd among them) silently re-point a
 *    port to the same host's other internal port, so the check can't be left to the gateway. A port
 *    found held that way is refused as the gateway should have: UpnpError 718 ConflictInMappingEntry
 *    (with detail.checkedBeforeAsking).
 *    Conflicts (718, or a port already held) move on to another port: IGDv2's AddAnyPortMapping lets
 *    the gateway pick; on IGDv1 random unprivileged ports are tried, up to maxPortAttempts.
 *  - 725 OnlyPermanentLeasesSupported: asked again with lease 0 (permanent). 724
 *    SamePortValuesRequired: asked again with external port = internal port.
 *  - unmap() with the internal port deletes only an entry that still forwards to that host and port.
 */
import { randomInt } from 'node:crypto';
import { ClosedError, ConfigError } from '../../../src/errors.js';
import {
  DEFAULT_DISCOVERY_TIMEOUT_MS,
  DEFAULT_MAX_PORT_ATTEMPTS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  MAX_LEASE_SECONDS,
  MAX_PORT,
  MIN_RANDOM_EXTERNAL_PORT,
} from '../../../src/nat/constants.js';
import {
  NatError,
  UPNP_ERROR,
  UpnpError,
  hasUpnpCode,
  type MapRequest,
  type Mapping,
  type MappingProtocol,
  type NatCallOptions,
  type PortMapper,
  type UnmapRequest,
} from '../../../src/nat/port-mapper.js';
import { asGatewayError, httpExchange, parseDeviceDescription, soapCall, type SoapArgument } from './soap.js';
import { discoverGateway } from './ssdp.js';

/** Entries read by list() before it stops, whatever the gateway says. */
export const MAX_LISTED_MAPPINGS = 1024;

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

export function resolveUpnpPortMapperConfig(options: UpnpPortMapperOptions = {}): UpnpPortMapperConfig {
  const config: UpnpPortMapperConfig = { ...DEFAULT_UPNP_PORT_MAPPER_CONFIG };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  }
  const bad = (why: string): never => {
    throw new ConfigError('ERR_INVALID_CONFIG', `Invalid UPnP port mapper config: ${why}`, { detail: { ...config } });
  };
  if (!(config.discoveryTimeoutMs > 0) || !Number.isFinite(config.discoveryTimeoutMs)) bad('discoveryTimeoutMs must be > 0');
  if (!(config.requestTimeoutMs > 0) || !Number.isFinite(config.requestTimeoutMs)) bad('requestTimeoutMs must be > 0');
  if (!Number.isInteger(config.maxPortAttempts) || config.maxPortAttempts < 1) bad('maxPortAttempts must be an integer >= 1');
  if (config.location !== undefined) {
    let protocol = '';
    try {
      protocol = new URL(config.location).protocol;
    } catch {
      bad('location must be a URL');
    }
    if (protocol !== 'http:') bad('location must be an http: URL');
  }
  return config;
}

/** The gateway a UpnpPortMapper talks to. */
export interface UpnpGateway {
  /** URL of its root device description. */
  location: string;
  /** The WAN connection service used, e.g. 'urn:schemas-upnp-org:service:WANIPConnection:2'. */
  serviceType: string;
  controlUrl: string;
  /** 2 when the service is WANIPConnection:2 (IGDv2), else 1. */
  igdVersion: 1 | 2;
  /** The LAN address the gateway sees us at: what mappings forward to by default. */
  localAddress: string;
  friendlyName: string | undefined;
}

interface GatewayState extends UpnpGateway {
  /** false once the gateway said it lacks AddAnyPortMapping. */
  addAnyPortMapping: boolean;
}

export function createUpnpPortMapper(options?: UpnpPortMapperOptions): UpnpPortMapper {
  return new UpnpPortMapper(options);
}

export class UpnpPortMapper implements PortMapper {
  readonly kind = 'upnp';
  readonly config: Readonly<UpnpPortMapperConfig>;
  private cached: GatewayState | undefined;
  private closed = false;
  private readonly closeController = new AbortController();

  constructor(options?: UpnpPortMapperOptions) {
    this.config = Object.freeze(resolveUpnpPortMapperConfig(options));
  }

  /** Finds (or returns the cached) gateway. Rejects with NatError('no-gateway') when there is none. */
  async gateway(options: NatCallOptions = {}): Promise<UpnpGateway> {
    const { addAnyPortMapping: _, ...gateway } = await this.gatewayState(options);
    return gateway;
  }

  async externalIp(options: NatCallOptions = {}): Promise<string> {
    const out = await this.call('GetExternalIPAddress', [], options);
    return out['NewExternalIPAddress'] ?? '';
  }

  async map(request: MapRequest, options: NatCallOptions = {}): Promise<Mapping> {
    validateMapRequest(request);
    const gateway = await this.gatewayState(options);
    const shape = {
      protocol: request.protocol,
      internalHost: request.internalHost ?? gateway.localAddress,
      internalPort: request.internalPort,
      description: request.description,
      ttlSeconds: request.ttlSeconds,
    };
    const wanted = request.externalPort ?? request.internalPort;
    if (request.exactExternalPort === true) {
      const holder = await this.holderOther(wanted, shape, options);
      if (holder !== undefined) throw heldError(wanted, holder);
      return this.addPortMapping(wanted, shape, options);
    }

    const tried = new Set<number>();
    let next: number | undefined = wanted;
    let lastRefusal: UpnpError | undefined;
    for (let attempt = 0; attempt < this.config.maxPortAttempts; attempt += 1) {
      const port: number = next ?? randomFreshPort(tried);
      next = undefined;
      tried.add(port);
      const holder = await this.holderOther(port, shape, options);
      if (holder !== undefined) {
        lastRefusal = heldError(port, holder);
        continue;
      }
      try {
        if (gateway.igdVersion === 2 && gateway.addAnyPortMapping) {
          try {
            return await this.addAnyPortMapping(port, shape, options);
          } catch (error) {
            if (!hasUpnpCode(error, UPNP_ERROR.InvalidAction, UPNP_ERROR.OptionalActionNotImplemented)) throw error;
            gateway.addAnyPortMapping = false;
          }
        }
        return await this.addPortMapping(port, shape, options);
      } catch (error) {
        if (hasUpnpCode(error, UPNP_ERROR.ConflictInMappingEntry)) {
          lastRefusal = error;
          continue;
        }
        // A port below 1024 is often outside what the gateway allows; unprivileged ports may pass.
        if (hasUpnpCode(error, UPNP_ERROR.ActionNotAuthorized) && port < MIN_RANDOM_EXTERNAL_PORT) {
          lastRefusal = error;
          continue;
        }
        if (hasUpnpCode(error, UPNP_ERROR.SamePortValuesRequired) && !tried.has(shape.internalPort)) {
          lastRefusal = error;
          next = shape.internalPort;
          continue;
        }
        throw error;
      }
    }
    throw new UpnpError(
      `No external port could be mapped to ${shape.internalHost}:${shape.internalPort} after ${tried.size} attempts` +
        (lastRefusal ? `; last: ${lastRefusal.message}` : ''),
      {
        action: 'AddPortMapping',
        reason: 'refused',
        upnpCode: lastRefusal?.upnpCode,
        upnpDescription: lastRefusal?.upnpDescription,
        httpStatus: lastRefusal?.httpStatus,
      },
      { cause: lastRefusal, detail: { triedPorts: [...tried] } },
    );
  }

  async unmap(request: UnmapRequest, options: NatCallOptions = {}): Promise<boolean> {
    validatePort(request.externalPort, 'externalPort');
    const gateway = await this.gatewayState(options);
    if (request.internalPort !== undefined) {
      let entry: Mapping | undefined;
      let known = true;
      try {
        entry = await this.getMapping(request.externalPort, request.protocol, options);
      } catch (error) {
        // The gateway can't say (an optional-action refusal): fall through to the delete.
        if (!(error instanceof UpnpError) || error.upnpCode === undefined) throw error;
        known = false;
      }
      if (known) {
        if (entry === undefined) return false;
        const host = request.internalHost ?? gateway.localAddress;
        if (entry.internalHost !== host || entry.internalPort !== request.internalPort) return false;
      }
    }
    try {
      await this.call(
        'DeletePortMapping',
        [
          ['NewRemoteHost', ''],
          ['NewExternalPort', request.externalPort],
          ['NewProtocol', request.protocol],
        ],
        options,
      );
      return true;
    } catch (error) {
      if (hasUpnpCode(error, UPNP_ERROR.NoSuchEntryInArray)) return false;
      throw error;
    }
  }

  /** The gateway's entry for an external port, or undefined when there is none (714). */
  async getMapping(externalPort: number, protocol: MappingProtocol, options: NatCallOptions = {}): Promise<Mapping | undefined> {
    try {
      const out = await this.call(
        'GetSpecificPortMappingEntry',
        [
          ['NewRemoteHost', ''],
          ['NewExternalPort', externalPort],
          ['NewProtocol', protocol],
        ],
        options,
      );
      return toMapping({ ...out, NewExternalPort: String(externalPort), NewProtocol: protocol });
    } catch (error) {
      if (hasUpnpCode(error, UPNP_ERROR.NoSuchEntryInArray)) return undefined;
      throw error;
    }
  }

  /**
   * Every entry of the gateway's table (GetGenericPortMappingEntry 0, 1, ... until 713). Unlike
   * nat-upnp's getMappings(), a failure rejects instead of looking like an empty table.
   */
  async list(options: NatCallOptions = {}): Promise<Mapping[]> {
    const mappings: Mapping[] = [];
    for (let index = 0; index < MAX_LISTED_MAPPINGS; index += 1) {
      let out: Record<string, string>;
      try {
        out = await this.call('GetGenericPortMappingEntry', [['NewPortMappingIndex', index]], options);
      } catch (error) {
        if (hasUpnpCode(error, UPNP_ERROR.SpecifiedArrayIndexInvalid, UPNP_ERROR.NoSuchEntryInArray)) break;
        throw error;
      }
      const mapping = toMapping(out);
      if (mapping !== undefined) mappings.push(mapping);
    }
    return mappings;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cached = undefined;
    this.closeController.abort(new ClosedError('UPnP port mapper closed'));
  }

  // ------------------------------------------------------------------------------------ internals

  private async addPortMapping(port: number, shape: MappingShape, options: NatCallOptions): Promise<Mapping> {
    let ttlSeconds = shape.ttlSeconds;
    for (;;) {
      try {
        await this.call('AddPortMapping', mappingArguments(port, shape, ttlSeconds), options);
        return { ...shapeToMapping(shape), externalPort: port, ttlSeconds };
      } catch (error) {
        if (ttlSeconds !== 0 && hasUpnpCode(error, UPNP_ERROR.OnlyPermanentLeasesSupported)) {
          ttlSeconds = 0;
          continue;
        }
        throw error;
      }
    }
  }

  /** IGDv2: the gateway maps `port` if it can, else a free port of its choice (NewReservedPort). */
  private async addAnyPortMapping(port: number, shape: MappingShape, options: NatCallOptions): Promise<Mapping> {
    const out = await this.call('AddAnyPortMapping', mappingArguments(port, shape, shape.ttlSeconds), options);
    const reserved = Number(out['NewReservedPort']);
    if (!Number.isInteger(reserved) || reserved < 1 || reserved > MAX_PORT) {
      throw new UpnpError(`AddAnyPortMapping: the gateway granted no valid port (${JSON.stringify(out['NewReservedPort'])})`, {
        action: 'AddAnyPortMapping',
      });
    }
    return { ...shapeToMapping(shape), externalPort: reserved };
  }

  /** The gateway's entry for `port` when it forwards somewhere else than `shape`; else undefined. */
  private async holderOther(port: number, shape: MappingShape, options: NatCallOptions): Promise<Mapping | undefined> {
    let entry: Mapping | undefined;
    try {
      entry = await this.getMapping(port, shape.protocol, options);
    } catch (error) {
      // The gateway can't tell (a refusal of the lookup itself): let AddPortMapping decide.
      if (error instanceof UpnpError && error.upnpCode !== undefined) return undefined;
      throw error;
    }
    if (entry === undefined) return undefined;
    return entry.internalHost !== shape.internalHost || entry.internalPort !== shape.internalPort ? entry : undefined;
  }

  private async call(action: string, args: readonly SoapArgument[], options: NatCallOptions): Promise<Record<string, string>> {
    const gateway = await this.gatewayState(options);
    try {
      return await soapCall(gateway, action, args, { timeoutMs: this.config.requestTimeoutMs, signal: this.signalFor(options) });
    } catch (error) {
      // No UPnP answer at all: the gateway may have gone or moved; discover again next time.
      if (error instanceof UpnpError && error.upnpCode === undefined && this.cached === gateway) this.cached = undefined;
      throw error;
    }
  }

  private async gatewayState(options: NatCallOptions): Promise<GatewayState> {
    if (this.closed) throw new ClosedError('UPnP port mapper closed');
    if (this.cached !== undefined) return this.cached;
    const signal = this.signalFor(options);
    let location = this.config.location;
    let ssdpLocalAddress: string | undefined;
    if (location === undefined) {
      const answer = await discoverGateway({ timeoutMs: this.config.discoveryTimeoutMs, signal });
      location = answer.location;
      ssdpLocalAddress = answer.localAddress;
    }
    let xml: string;
    let connectionLocalAddress: string | undefined;
    try {
      const answer = await httpExchange(location, {
        method: 'GET',
        what: 'Reading the gateway description',
        timeoutMs: this.config.requestTimeoutMs,
        signal,
      });
      if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
      xml = answer.body;
      connectionLocalAddress = answer.localAddress;
    } catch (error) {
      const wrapped = asGatewayError(error, '');
      if (!(wrapped instanceof UpnpError)) throw wrapped;
      throw new NatError('no-gateway', `Could not read the gateway description at ${location}: ${toMessage(error)}`, {
        cause: error,
        detail: { location },
      });
    }
    const description = parseDeviceDescription(xml, location);
    const service = description.services[0];
    if (service === undefined) {
      throw new NatError('no-gateway', `The device at ${location} offers no WANIPConnection or WANPPPConnection service`, {
        detail: { location },
      });
    }
    const localAddress = this.config.localAddress ?? connectionLocalAddress ?? ssdpLocalAddress;
    if (localAddress === undefined) {
      throw new NatError('gateway-error', `Could not tell our LAN address facing the gateway at ${location}`);
    }
    if (this.closed) throw new ClosedError('UPnP port mapper closed');
    const state: GatewayState = {
      location,
      serviceType: service.serviceType,
      controlUrl: service.controlUrl,
      igdVersion: service.serviceType.endsWith(':2') ? 2 : 1,
      localAddress,
      friendlyName: description.friendlyName,
      addAnyPortMapping: true,
    };
    this.cached = state;
    return state;
  }

  /** The caller's signal, linked to close(). */
  private signalFor(options: NatCallOptions): AbortSignal {
    const caller = options.signal;
    if (caller === undefined) return this.closeController.signal;
    return anySignal([caller, this.closeController.signal]);
  }
}

interface MappingShape {
  protocol: MappingProtocol;
  internalHost: string;
  internalPort: number;
  description: string;
  ttlSeconds: number;
}

/**
 * The refusal a strict gateway would send for a port held by another mapping: 718, found by our own
 * lookup before asking (detail.checkedBeforeAsking), so the port is never taken over.
 */
function heldError(port: number, holder: Mapping): UpnpError {
  return new UpnpError(
    `External port ${port} already forwards to ${holder.internalHost}:${holder.internalPort} ("${holder.description}")`,
    { action: 'AddPortMapping', upnpCode: UPNP_ERROR.ConflictInMappingEntry, upnpDescription: 'ConflictInMappingEntry' },
    { detail: { externalPort: port, heldBy: `${holder.internalHost}:${holder.internalPort}`, checkedBeforeAsking: true } },
  );
}

function shapeToMapping(shape: MappingShape): Omit<Mapping, 'externalPort'> {
  return {
    protocol: shape.protocol,
    internalHost: shape.internalHost,
    internalPort: shape.internalPort,
    description: shape.description,
    ttlSeconds: shape.ttlSeconds,
    remoteHost: '',
    enabled: true,
  };
}

function mappingArguments(port: number, shape: MappingShape, ttlSeconds: number): SoapArgument[] {
  return [
    ['NewRemoteHost', ''],
    ['NewExternalPort', port],
    ['NewProtocol', shape.protocol],
    ['NewInternalPort', shape.internalPort],
    ['NewInternalClient', shape.internalHost],
    ['NewEnabled', 1],
    ['NewPortMappingDescription', shape.description],
    ['NewLeaseDuration', ttlSeconds],
  ];
}

function toMapping(out: Record<string, string>): Mapping | undefined {
  const externalPort = Number(out['NewExternalPort']);
  const internalPort = Number(out['NewInternalPort']);
  const protocol = (out['NewProtocol'] ?? '').toUpperCase();
  if (!Number.isInteger(externalPort) || !Number.isInteger(internalPort) || (protocol !== 'TCP' && protocol !== 'UDP')) return undefined;
  return {
    protocol,
    externalPort,
    internalHost: out['NewInternalClient'] ?? '',
    internalPort,
    description: out['NewPortMappingDescription'] ?? '',
    ttlSeconds: Number(out['NewLeaseDuration'] ?? 0) || 0,
    remoteHost: out['NewRemoteHost'] ?? '',
    enabled: out['NewEnabled'] === undefined ? true : out['NewEnabled'] === '1' || out['NewEnabled'].toLowerCase() === 'true',
  };
}

function validatePort(port: unknown, name: string): void {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `${name} must be an integer in 1..${MAX_PORT}, got ${String(port)}`);
  }
}

function validateMapRequest(request: MapRequest): void {
  if (request.protocol !== 'TCP' && request.protocol !== 'UDP') {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `protocol must be 'TCP' or 'UDP', got ${String(request.protocol)}`);
  }
  validatePort(request.internalPort, 'internalPort');
  if (request.externalPort !== undefined) validatePort(request.externalPort, 'externalPort');
  if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds < 0 || request.ttlSeconds > MAX_LEASE_SECONDS) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `ttlSeconds must be an integer in 0..${MAX_LEASE_SECONDS}`);
  }
}

function randomFreshPort(tried: ReadonlySet<number>): number {
  for (;;) {
    const port = randomInt(MIN_RANDOM_EXTERNAL_PORT, MAX_PORT + 1);
    if (!tried.has(port)) return port;
  }
}

function toMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** AbortSignal.any for Node 20.0-20.2, which lack it. */
function anySignal(signals: AbortSignal[]): AbortSignal {
  const native = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  if (native !== undefined) return native(signals);
  const controller = new AbortController();
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}
