/**
 * Reading and removing entries of the gateway's port mapping table: one entry by external port
 * (GetSpecificPortMappingEntry), the whole table (GetGenericPortMappingEntry), and removal of our
 * own entry only (DeletePortMapping after checking where the entry forwards).
 */
import { UPNP_ERROR, UpnpError, hasUpnpCode, type Mapping, type MappingProtocol, type NatCallOptions, type UnmapRequest } from '../../../src/nat/port-mapper.js';
import { gatewayText, type GatewayCall } from './soap.js';

/** Entries read by list() before it stops, whatever the gateway says. */
export const MAX_LISTED_MAPPINGS = 1024;

/** The gateway's entry for an external port, or undefined when there is none (714). */
export async function getMappingEntry(
  call: GatewayCall,
  externalPort: number,
  protocol: MappingProtocol,
  options: NatCallOptions,
): Promise<Mapping | undefined> {
  try {
    const out = await call(
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
 * Every entry of the gateway's table (GetGenericPortMappingEntry 0, 1, ... until 713), at most
 * MAX_LISTED_MAPPINGS. Unlike nat-upnp's getMappings(), a failure rejects instead of looking like
 * an empty table.
 */
export async function listMappings(call: GatewayCall, options: NatCallOptions): Promise<Mapping[]> {
  const mappings: Mapping[] = [];
  for (let index = 0; index < MAX_LISTED_MAPPINGS; index += 1) {
    let out: Record<string, string>;
    try {
      out = await call('GetGenericPortMappingEntry', [['NewPortMappingIndex', index]], options);
    } catch (error) {
      if (hasUpnpCode(error, UPNP_ERROR.SpecifiedArrayIndexInvalid, UPNP_ERROR.NoSuchEntryInArray)) break;
      throw error;
    }
    const mapping = toMapping(out);
    if (mapping !== undefined) mappings.push(mapping);
  }
  return mappings;
}

/**
 * Deletes the entry for `request.externalPort`. With `request.internalPort`, only when the entry
 * still forwards to that host (default `localAddress`) and port: somebody else's mapping is left
 * alone. Resolves true when an entry was deleted, false when there was none (or it was not ours).
 */
export async function deleteOwnMapping(
  call: GatewayCall,
  request: UnmapRequest,
  localAddress: string,
  options: NatCallOptions,
): Promise<boolean> {
  if (request.internalPort !== undefined) {
    let entry: Mapping | undefined;
    let known = true;
    try {
      entry = await getMappingEntry(call, request.externalPort, request.protocol, options);
    } catch (error) {
      // The gateway can't say (an optional-action refusal): fall through to the delete.
      if (!(error instanceof UpnpError) || error.upnpCode === undefined) throw error;
      known = false;
    }
    if (known) {
      if (entry === undefined) return false;
      const host = request.internalHost ?? localAddress;
      if (entry.internalHost !== host || entry.internalPort !== request.internalPort) return false;
    }
  }
  try {
    await call(
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

/**
 * A table entry from a gateway's output arguments; undefined when they don't describe one. Its texts are
 * cut (gatewayText): list() keeps up to MAX_LISTED_MAPPINGS entries, and a gateway giving each a
 * description of nearly MAX_UPNP_RESPONSE_BYTES had the app's list hold 1024 of them (242 MiB).
 */
function toMapping(out: Record<string, string>): Mapping | undefined {
  const externalPort = Number(out['NewExternalPort']);
  const internalPort = Number(out['NewInternalPort']);
  const protocol = (out['NewProtocol'] ?? '').toUpperCase();
  if (!Number.isInteger(externalPort) || !Number.isInteger(internalPort) || (protocol !== 'TCP' && protocol !== 'UDP')) return undefined;
  return {
    protocol,
    externalPort,
    internalHost: gatewayText(out['NewInternalClient'] ?? ''),
    internalPort,
    description: gatewayText(out['NewPortMappingDescription'] ?? ''),
    ttlSeconds: Number(out['NewLeaseDuration'] ?? 0) || 0,
    remoteHost: gatewayText(out['NewRemoteHost'] ?? ''),
    enabled: out['NewEnabled'] === undefined ? true : out['NewEnabled'] === '1' || out['NewEnabled'].toLowerCase() === 'true',
  };
}
