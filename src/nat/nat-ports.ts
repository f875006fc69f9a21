/**
 * The node's listening ports as the NAT layer sees them: where they come from (listen addresses),
 * which of them a gateway can forward to, and the address to advertise once one is mapped.
 */
import { ConfigError } from '../errors.js';
import { formatAddress, parseAddress, type PeerAddress } from '../transport/address.js';
import { isPortNumber } from '../util/config.js';
import { isLoopbackHost } from './ip.js';

/** Transports whose listening ports a NatManager maps (all TCP underneath). */
export type NatTransport = 'tcp' | 'ws' | 'wss';

/** One listening port of the node. */
export interface NatPort {
  transport: NatTransport;
  /** The bound port (not 0). */
  port: number;
  /** The bound host; wildcard or undefined = the address facing the gateway. Loopback can't be mapped. */
  host?: string | undefined;
  /** Path of a ws/wss listener, kept in the advertised address. @default '/' */
  path?: string | undefined;
}

/** Turns listen addresses (`tcp://0.0.0.0:26656`, `ws://...:8080/p2p`) into NatPorts; skips the rest. */
export function natPortsFromListenAddresses(addresses: ReadonlyArray<PeerAddress | string>): NatPort[] {
  const ports: NatPort[] = [];
  for (const item of addresses) {
    const address = typeof item === 'string' ? parseAddress(item) : item;
    if (address.protocol !== 'tcp' && address.protocol !== 'ws' && address.protocol !== 'wss') continue;
    if (address.port === 0) continue;
    ports.push({ transport: address.protocol, port: address.port, host: address.host, path: address.path || undefined });
  }
  return ports;
}

/**
 * Validates `ports` (throws ConfigError('ERR_INVALID_CONFIG') on a bad port or transport) and sorts
 * them into those to map, one per TCP port, and those bound to loopback, which no gateway can reach.
 */
export function selectMappablePorts(ports: readonly NatPort[]): { mappable: NatPort[]; loopback: NatPort[] } {
  const mappable: NatPort[] = [];
  const loopback: NatPort[] = [];
  const seen = new Set<number>();
  for (const spec of ports) {
    if (!isPortNumber(spec.port)) {
      throw new ConfigError('ERR_INVALID_CONFIG', `NatManager: bad listening port ${String(spec.port)}`);
    }
    if (spec.transport !== 'tcp' && spec.transport !== 'ws' && spec.transport !== 'wss') {
      throw new ConfigError('ERR_INVALID_CONFIG', `NatManager: transport must be tcp, ws or wss, not ${String(spec.transport)}`);
    }
    if (spec.host !== undefined && isLoopbackHost(spec.host)) {
      loopback.push(spec);
      continue;
    }
    // one TCP port is one mapping, whichever transports share it
    if (seen.has(spec.port)) continue;
    seen.add(spec.port);
    mappable.push(spec);
  }
  return { mappable, loopback };
}

/** What to advertise for `spec` mapped at `externalIp:externalPort`; ws/wss keep their path. */
export function externalAddressOf(spec: NatPort, nodeId: string, externalIp: string, externalPort: number): string {
  return formatAddress({
    protocol: spec.transport,
    nodeId,
    host: externalIp,
    port: externalPort,
    path: spec.transport === 'tcp' ? '' : (spec.path ?? '/'),
    params: {},
  });
}
