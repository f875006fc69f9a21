/**
 * What a gateway reports as its external address, seen from the question "can peers on the Internet
 * reach it?". A private or shared address means another NAT sits above the gateway (double NAT or
 * carrier-grade NAT): a mapping on this gateway alone would not make the node reachable.
 */
export type ExternalIpKind = 'public' | 'private' | 'empty' | 'invalid';

/** IPv4 blocks that are not reachable from the public Internet (RFC 6890 and friends). */
const NON_PUBLIC_IPV4_BLOCKS: ReadonlyArray<readonly [prefix: number, bits: number]> = [
  [ipv4ToNumber('0.0.0.0'), 8], // "this network"
  [ipv4ToNumber('10.0.0.0'), 8], // RFC 1918
  [ipv4ToNumber('100.64.0.0'), 10], // RFC 6598 carrier-grade NAT
  [ipv4ToNumber('127.0.0.0'), 8], // loopback
  [ipv4ToNumber('169.254.0.0'), 16], // link-local
  [ipv4ToNumber('172.16.0.0'), 12], // RFC 1918
  [ipv4ToNumber('192.0.0.0'), 24], // IETF protocol assignments
  [ipv4ToNumber('192.0.2.0'), 24], // TEST-NET-1
  [ipv4ToNumber('192.88.99.0'), 24], // 6to4 relay anycast (deprecated)
  [ipv4ToNumber('192.168.0.0'), 16], // RFC 1918
  [ipv4ToNumber('198.18.0.0'), 15], // benchmarking
  [ipv4ToNumber('198.51.100.0'), 24], // TEST-NET-2
  [ipv4ToNumber('203.0.113.0'), 24], // TEST-NET-3
  [ipv4ToNumber('224.0.0.0'), 4], // multicast
  [ipv4ToNumber('240.0.0.0'), 4], // reserved, and the limited broadcast address
];

function ipv4ToNumber(text: string): number {
  const parts = text.split('.');
  let value = 0;
  for (const part of parts) value = value * 256 + Number(part);
  return value;
}

/** Parses dotted-quad IPv4 strictly (no leading zeros, four parts); undefined otherwise. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const byte = Number(part);
    if (byte > 255) return undefined;
    value = value * 256 + byte;
  }
  return value;
}

/** Classifies the external address a gateway reported (IGDs report IPv4). */
export function classifyExternalIp(ip: string): ExternalIpKind {
  const text = ip.trim();
  if (text === '') return 'empty';
  const value = parseIPv4(text);
  if (value === undefined) return 'invalid';
  for (const [prefix, bits] of NON_PUBLIC_IPV4_BLOCKS) {
    const size = 2 ** (32 - bits);
    if (value >= prefix && value < prefix + size) return 'private';
  }
  return 'public';
}

/** True for loopback hosts, which a gateway can never forward to. */
export function isLoopbackHost(host: string): boolean {
  const value = parseIPv4(host);
  if (value !== undefined) return value >>> 24 === 127;
  const lower = host.toLowerCase();
  return lower === '::1' || lower === 'localhost';
}

/** True for the "any interface" hosts a listener binds to ('0.0.0.0', '::', ''). */
export function isWildcardHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}
