import { classifyHost, parseIPv4 } from '../transport/ip.js';

/**
 * What a gateway reports as its external address, seen from the question "can peers on the Internet
 * reach it?". A private or shared address means another NAT sits above the gateway (double NAT or
 * carrier-grade NAT): a mapping on this gateway alone would not make the node reachable.
 */
export type ExternalIpKind = 'public' | 'private' | 'empty' | 'invalid';

export { parseIPv4 };

/** Classifies the external address a gateway reported (IGDs report IPv4). */
export function classifyExternalIp(ip: string): ExternalIpKind {
  const text = ip.trim();
  if (text === '') return 'empty';
  if (parseIPv4(text) === undefined) return 'invalid';
  return classifyHost(text).scope === 'public' ? 'public' : 'private';
}

/** True for loopback hosts, which a gateway can never forward to. */
export function isLoopbackHost(host: string): boolean {
  return classifyHost(host).scope === 'loopback';
}

/** True for the "any interface" hosts a listener binds to ('0.0.0.0', '::', ''). */
export function isWildcardHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}
