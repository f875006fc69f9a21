/**
 * PortMapper over UPnP IGD (IGDv1 and IGDv2) for Node.
 *
 * Who does what:
 *  - nat-upnp 1.1.1 finds the gateway: its SSDP searcher multicasts the M-SEARCH on every interface
 *    and hands back the LOCATION of the gateway's description (ssdp.ts).
 *  - A small SOAP client on node:http (soap.ts) does the rest: it reads the description, picks
 *    WANIPConnection:2 (IGDv2), WANIPConnection:1 or WANPPPConnection:1 (gateway-locator.ts), and
 *    calls the actions (port-mapping-strategies.ts to add, mapping-table.ts to look up, list, delete).
 *    nat-upnp's own client can't be used for that part: it hard-codes the IGDv1 service types
 *    ("Service not found" on IGDv2), turns every SOAP fault into "Request failed: 500" (the UPnP
 *    error code is lost), makes getMappings() return [] on any error, has no timeouts or
 *    cancellation, and re-discovers the gateway before every call. Those are the gaps these files fill;
 *    a second UPnP library would have duplicated nat-upnp's discovery and brought its own gaps
 *    (`@achingbrain/nat-port-mapper` 4.x speaks only IGDv2 and fails to remove mappings whose external
 *    port differs from the internal one).
 *
 * Behaviour worth knowing:
 *  - The gateway is discovered once and cached; a request that fails without a UPnP answer
 *    (network, timeout) drops the cache so the next call discovers again (the gateway may have moved).
 *  - map() never takes over somebody else's mapping, and moves on to another external port on
 *    conflicts; see port-mapping-strategies.ts.
 *  - unmap() with the internal port deletes only an entry that still forwards to that host and port.
 *  - Each SOAP call spends one request of the caller's `budget` (NatCallOptions); with none left the
 *    operation stops there, rejecting with GatewayBudgetError. So does each lookup of the gateway (its
 *    description, after SSDP unless a location is given): a call the gateway does not answer in UPnP has
 *    the next one look it up again, and a gateway answering every call with an HTTP error got a
 *    description fetch per SOAP call, uncounted: twice the cap.
 */
import { ClosedError } from '../../../src/errors.js';
import { sharedAbortController, withAnySignal } from '../../../src/util/abort.js';
import {
  UpnpError,
  spendGatewayRequest,
  validateMapRequest,
  validatePort,
  type MapRequest,
  type Mapping,
  type MappingProtocol,
  type NatCallOptions,
  type PortMapper,
  type UnmapRequest,
} from '../../../src/nat/port-mapper.js';
import { locateGateway, type GatewayState, type UpnpGateway } from './gateway-locator.js';
import { deleteOwnMapping, getMappingEntry, listMappings } from './mapping-table.js';
import { addMapping } from './port-mapping-strategies.js';
import { gatewayText, soapCall, type SoapArgument } from './soap.js';
import { resolveUpnpPortMapperConfig, type UpnpPortMapperConfig, type UpnpPortMapperOptions } from './upnp-port-mapper-config.js';

export function createUpnpPortMapper(options?: UpnpPortMapperOptions): UpnpPortMapper {
  return new UpnpPortMapper(options);
}

export class UpnpPortMapper implements PortMapper {
  readonly kind = 'upnp';
  readonly config: Readonly<UpnpPortMapperConfig>;
  private cached: GatewayState | undefined;
  private closed = false;
  private readonly closeController = sharedAbortController();
  /** `call` bound to this mapper, handed to the mapping operations. */
  private readonly callGateway = (action: string, args: readonly SoapArgument[], options: NatCallOptions): Promise<Record<string, string>> =>
    this.call(action, args, options);

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
    // The gateway's words (anyone on the LAN may answer as one): NatManager quotes them in its warning.
    return gatewayText((out['NewExternalIPAddress'] ?? '').trim());
  }

  async map(request: MapRequest, options: NatCallOptions = {}): Promise<Mapping> {
    validateMapRequest(request);
    const gateway = await this.gatewayState(options);
    return addMapping(this.callGateway, gateway, request, this.config.maxPortAttempts, options);
  }

  async unmap(request: UnmapRequest, options: NatCallOptions = {}): Promise<boolean> {
    validatePort(request.externalPort, 'externalPort');
    const gateway = await this.gatewayState(options);
    return deleteOwnMapping(this.callGateway, request, gateway.localAddress, options);
  }

  /** The gateway's entry for an external port, or undefined when there is none (714). */
  async getMapping(externalPort: number, protocol: MappingProtocol, options: NatCallOptions = {}): Promise<Mapping | undefined> {
    return getMappingEntry(this.callGateway, externalPort, protocol, options);
  }

  /**
   * Every entry of the gateway's table (GetGenericPortMappingEntry 0, 1, ... until 713). Unlike
   * nat-upnp's getMappings(), a failure rejects instead of looking like an empty table.
   */
  async list(options: NatCallOptions = {}): Promise<Mapping[]> {
    return listMappings(this.callGateway, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cached = undefined;
    this.closeController.abort(new ClosedError('UPnP port mapper closed'));
  }

  // ------------------------------------------------------------------------------------ internals

  private async call(action: string, args: readonly SoapArgument[], options: NatCallOptions): Promise<Record<string, string>> {
    const gateway = await this.gatewayState(options);
    spendGatewayRequest(options, action);
    try {
      return await this.withCloseSignal(options, (signal) => soapCall(gateway, action, args, { timeoutMs: this.config.requestTimeoutMs, signal }));
    } catch (error) {
      // No UPnP answer at all: the gateway may have gone or moved; discover again next time.
      if (error instanceof UpnpError && error.upnpCode === undefined && this.cached === gateway) this.cached = undefined;
      throw error;
    }
  }

  private async gatewayState(options: NatCallOptions): Promise<GatewayState> {
    if (this.closed) throw new ClosedError('UPnP port mapper closed');
    if (this.cached !== undefined) return this.cached;
    spendGatewayRequest(options, 'UPnP gateway lookup');
    const state = await this.withCloseSignal(options, (signal) => locateGateway(this.config, signal));
    // close() may have come while the gateway answered: a closed mapper caches nothing.
    if (this.closed) throw new ClosedError('UPnP port mapper closed');
    this.cached = state;
    return state;
  }

  /** Runs `task` with the caller's signal linked to close(). */
  private withCloseSignal<T>(options: NatCallOptions, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withAnySignal([options.signal, this.closeController.signal], task);
  }
}
