/**
 * Finding the gateway a UpnpPortMapper talks to: SSDP discovery (ssdp.ts) unless a location is
 * configured, then its root description (parsed in soap.ts), from which the best WAN connection
 * service is chosen: WANIPConnection:2 (IGDv2) over WANIPConnection:1 over WANPPPConnection:1.
 */
import { toError } from '../../../src/errors.js';
import { NatError, UpnpError } from '../../../src/nat/port-mapper.js';
import { asGatewayError, httpExchange, parseDeviceDescription } from './soap.js';
import { discoverGateway } from './ssdp.js';
import type { UpnpPortMapperConfig } from './upnp-port-mapper-config.js';

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

/** A located gateway plus what the mapper learns about it while using it. */
export interface GatewayState extends UpnpGateway {
  /** false once the gateway said it lacks AddAnyPortMapping. */
  addAnyPortMapping: boolean;
}

/**
 * Locates the gateway and picks its WAN connection service. Rejects with NatError('no-gateway')
 * when nothing answers discovery, the description can't be read or offers no such service;
 * NatError('gateway-error') when our LAN address facing it can't be told.
 */
export async function locateGateway(config: UpnpPortMapperConfig, signal: AbortSignal): Promise<GatewayState> {
  let location = config.location;
  let ssdpLocalAddress: string | undefined;
  if (location === undefined) {
    const answer = await discoverGateway({ timeoutMs: config.discoveryTimeoutMs, signal });
    location = answer.location;
    ssdpLocalAddress = answer.localAddress;
  }
  let xml: string;
  let connectionLocalAddress: string | undefined;
  try {
    const answer = await httpExchange(location, {
      method: 'GET',
      what: 'Reading the gateway description',
      timeoutMs: config.requestTimeoutMs,
      signal,
    });
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
    xml = answer.body;
    connectionLocalAddress = answer.localAddress;
  } catch (error) {
    const wrapped = asGatewayError(error, '');
    if (!(wrapped instanceof UpnpError)) throw wrapped;
    throw new NatError('no-gateway', `Could not read the gateway description at ${location}: ${toError(error).message}`, {
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
  const localAddress = config.localAddress ?? connectionLocalAddress ?? ssdpLocalAddress;
  if (localAddress === undefined) {
    throw new NatError('gateway-error', `Could not tell our LAN address facing the gateway at ${location}`);
  }
  return {
    location,
    serviceType: service.serviceType,
    controlUrl: service.controlUrl,
    igdVersion: service.serviceType.endsWith(':2') ? 2 : 1,
    localAddress,
    friendlyName: description.friendlyName,
    addAnyPortMapping: true,
  };
}
