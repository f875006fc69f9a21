/**
 * How a UpnpPortMapper obtains a mapping: IGDv2's AddAnyPortMapping where the gateway has it, IGDv1's
 * AddPortMapping otherwise, and the search for a free external port around them.
 *
 *  - Never takes over somebody else's mapping. Before asking for an external port it looks the port
 *    up (GetSpecificPortMappingEntry); some gateways (miniupnpd among them) silently re-point a port
 *    to the same host's other internal port, so the check can't be left to the gateway. A port found
 *    held that way is refused as the gateway should have: UpnpError 718 ConflictInMappingEntry (with
 *    detail.checkedBeforeAsking).
 *  - Conflicts (718, or a port already held) move on to another port: IGDv2's AddAnyPortMapping lets
 *    the gateway pick; on IGDv1 random unprivileged ports are tried, up to maxPortAttempts.
 *  - 725 OnlyPermanentLeasesSupported: asked again with lease 0 (permanent). 724
 *    SamePortValuesRequired: asked again with external port = internal port.
 */
import { randomInt } from 'node:crypto';
import { isPortNumber } from '../../../src/util/config.js';
import { MAX_PORT, MIN_RANDOM_EXTERNAL_PORT } from '../../../src/nat/constants.js';
import { UPNP_ERROR, UpnpError, hasUpnpCode, type MapRequest, type Mapping, type MappingProtocol, type NatCallOptions } from '../../../src/nat/port-mapper.js';
import type { GatewayState } from './gateway-locator.js';
import { getMappingEntry } from './mapping-table.js';
import { gatewayText, type GatewayCall, type SoapArgument } from './soap.js';

/** The mapping asked for, all defaults filled in; only the external port varies between attempts. */
interface MappingShape {
  protocol: MappingProtocol;
  internalHost: string;
  internalPort: number;
  description: string;
  ttlSeconds: number;
}

/**
 * Maps `request` on `gateway` (a validated request). With `exactExternalPort`, only that port, else
 * the search described above. Marks `gateway.addAnyPortMapping` false when the gateway turns out to
 * lack that action, so later calls go straight to AddPortMapping.
 */
export async function addMapping(
  call: GatewayCall,
  gateway: GatewayState,
  request: MapRequest,
  maxPortAttempts: number,
  options: NatCallOptions,
): Promise<Mapping> {
  const shape: MappingShape = {
    protocol: request.protocol,
    internalHost: request.internalHost ?? gateway.localAddress,
    internalPort: request.internalPort,
    description: request.description,
    ttlSeconds: request.ttlSeconds,
  };
  const wanted = request.externalPort ?? request.internalPort;
  if (request.exactExternalPort === true) {
    const holder = await holderOther(call, wanted, shape, options);
    if (holder !== undefined) throw heldError(wanted, holder);
    return addPortMapping(call, wanted, shape, options);
  }

  const tried = new Set<number>();
  let next: number | undefined = wanted;
  let lastRefusal: UpnpError | undefined;
  for (let attempt = 0; attempt < maxPortAttempts; attempt += 1) {
    const port: number = next ?? randomFreshPort(tried);
    next = undefined;
    tried.add(port);
    const holder = await holderOther(call, port, shape, options);
    if (holder !== undefined) {
      lastRefusal = heldError(port, holder);
      continue;
    }
    try {
      if (gateway.igdVersion === 2 && gateway.addAnyPortMapping) {
        try {
          return await addAnyPortMapping(call, port, shape, options);
        } catch (error) {
          if (!hasUpnpCode(error, UPNP_ERROR.InvalidAction, UPNP_ERROR.OptionalActionNotImplemented)) throw error;
          gateway.addAnyPortMapping = false;
        }
      }
      return await addPortMapping(call, port, shape, options);
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

/** IGDv1 (and IGDv2 without AddAnyPortMapping): exactly `port`; a permanent lease if that is all the gateway does. */
async function addPortMapping(call: GatewayCall, port: number, shape: MappingShape, options: NatCallOptions): Promise<Mapping> {
  let ttlSeconds = shape.ttlSeconds;
  for (;;) {
    try {
      await call('AddPortMapping', mappingArguments(port, shape, ttlSeconds), options);
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
async function addAnyPortMapping(call: GatewayCall, port: number, shape: MappingShape, options: NatCallOptions): Promise<Mapping> {
  const out = await call('AddAnyPortMapping', mappingArguments(port, shape, shape.ttlSeconds), options);
  const reserved = Number(out['NewReservedPort']);
  if (!isPortNumber(reserved)) {
    throw new UpnpError(`AddAnyPortMapping: the gateway granted no valid port (${JSON.stringify(gatewayText(out['NewReservedPort'] ?? ''))})`, {
      action: 'AddAnyPortMapping',
    });
  }
  return { ...shapeToMapping(shape), externalPort: reserved };
}

/** The gateway's entry for `port` when it forwards somewhere else than `shape`; else undefined. */
async function holderOther(call: GatewayCall, port: number, shape: MappingShape, options: NatCallOptions): Promise<Mapping | undefined> {
  let entry: Mapping | undefined;
  try {
    entry = await getMappingEntry(call, port, shape.protocol, options);
  } catch (error) {
    // The gateway can't tell (a refusal of the lookup itself): let AddPortMapping decide.
    if (error instanceof UpnpError && error.upnpCode !== undefined) return undefined;
    throw error;
  }
  if (entry === undefined) return undefined;
  return entry.internalHost !== shape.internalHost || entry.internalPort !== shape.internalPort ? entry : undefined;
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

function randomFreshPort(tried: ReadonlySet<number>): number {
  for (;;) {
    const port = randomInt(MIN_RANDOM_EXTERNAL_PORT, MAX_PORT + 1);
    if (!tried.has(port)) return port;
  }
}
