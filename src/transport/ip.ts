import { isNodeId, type PeerAddress } from './address.js';

/**
 * The one home of IP parsing and classification: where an address can be reached from, and which
 * "group" (network neighbourhood) it belongs to. The address book uses the scope to refuse addresses
 * nobody on the internet can dial and the group to spread entries over buckets and outbound peers
 * over networks (Bitcoin addrman's GetGroup, CometBFT's groupKey); the NAT layer uses the scope to
 * judge the external address a gateway reports. It lives in transport, the lowest layer both use.
 */
export type AddressScope =
  /** Reachable from the internet. */
  | 'public'
  /** RFC 1918, CGNAT 100.64/10, IPv6 ULA fc00::/7, site-local fec0::/10, LAN-only host names. */
  | 'private'
  /** 127/8, ::1, localhost, in-process memory:// addresses. */
  | 'loopback'
  /** 169.254/16, fe80::/10. */
  | 'link-local'
  /** Documentation, benchmarking and future-use ranges; .test/.example/.invalid names. */
  | 'reserved'
  /** 0/8, ::: nobody can dial "any address". */
  | 'unspecified'
  /** 224/4, ff00::/8. */
  | 'multicast'
  /** Not a well-formed IP or host name (includes inet_aton shorthand such as 127.1 or 0x7f000001). */
  | 'invalid';

export type HostFamily = 'ipv4' | 'ipv6' | 'dns' | 'none';

export interface HostClassification {
  readonly family: HostFamily;
  readonly scope: AddressScope;
  /** 'ipv4:a.b' (/16), 'ipv6:xxxxxxxx' (/32), 'dns:<domain>', or a transport-specific group. */
  readonly group: string;
}

/** Scopes that allowLocal admits: dialable, just not from the internet. */
const LOCAL_SCOPES: ReadonlySet<AddressScope> = new Set(['private', 'loopback', 'link-local', 'reserved']);

export function isLocalScope(scope: AddressScope): boolean {
  return LOCAL_SCOPES.has(scope);
}

/**
 * Strict dotted-quad IPv4: four decimal octets without leading zeros. Anything looser (127.1, 0x7f.1,
 * 0177.0.0.1, 2130706433) is rejected, because getaddrinfo would still resolve it to an IP and so
 * smuggle a loopback or private address past the checks as a "host name".
 */
export function parseIPv4(text: string): Uint8Array | undefined {
  // By hand, not split + a regex per part: every address a peer sends is classified, thousands a second.
  const bytes = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : DOT;
    if (code === DOT) {
      if (digits === 0 || part > 3) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (code >= DIGIT_0 && code <= DIGIT_0 + 9) {
      // Decimal only, at most three digits, no leading zero (010 is octal to some parsers).
      if (digits === 3 || (digits === 1 && value === 0)) return undefined;
      value = value * 10 + (code - DIGIT_0);
      if (value > 255) return undefined;
      digits++;
    } else {
      return undefined;
    }
  }
  return part === 4 ? bytes : undefined;
}

const DOT = 0x2e;
const DIGIT_0 = 0x30;

/** IPv6 in any RFC 4291 text form (with `::` and a trailing dotted quad); a `%zone` suffix is ignored. */
export function parseIPv6(text: string): Uint8Array | undefined {
  // By hand in one pass, like parseIPv4: split, a regex per group and spread arrays made an IPv6 address
  // in a peer's answer cost ~3x an IPv4 one, and every address a peer sends is parsed.
  const zone = text.indexOf('%');
  if (zone === text.length - 1 && zone >= 0) return undefined;
  const end = zone >= 0 ? zone : text.length;
  const words = new Uint16Array(8);
  let count = 0;
  /** How many groups came before the `::`, -1 without one. */
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let value = 0;
    let digits = 0;
    let j = i;
    for (; j < end; j++) {
      const nibble = hexValue(text.charCodeAt(j));
      if (nibble < 0) break;
      if (++digits > 4) return undefined;
      value = value * 16 + nibble;
    }
    if (j < end && text.charCodeAt(j) === DOT) {
      // A trailing dotted quad fills the last two groups.
      const v4 = count <= 6 ? parseIPv4(text.slice(i, end)) : undefined;
      if (v4 === undefined) return undefined;
      words[count++] = (v4[0]! << 8) | v4[1]!;
      words[count++] = (v4[2]! << 8) | v4[3]!;
      break;
    }
    if (digits === 0 || count === 8) return undefined;
    words[count++] = value;
    i = j;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON || i + 1 === end) return undefined;
    i++;
    if (text.charCodeAt(i) === COLON) {
      if (gap >= 0) return undefined;
      gap = count;
      i++;
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return undefined;
  const bytes = new Uint8Array(16);
  const shift = gap < 0 ? 0 : 8 - count;
  for (let k = 0; k < count; k++) {
    const at = 2 * (gap >= 0 && k >= gap ? k + shift : k);
    bytes[at] = words[k]! >> 8;
    bytes[at + 1] = words[k]! & 0xff;
  }
  return bytes;
}

const COLON = 0x3a;

function hexValue(code: number): number {
  if (code >= DIGIT_0 && code <= DIGIT_0 + 9) return code - DIGIT_0;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function ipv4Scope(b: Uint8Array): AddressScope {
  const [x = 0, y = 0, z = 0] = [b[0], b[1], b[2]];
  if (x === 0) return 'unspecified';
  if (x === 127) return 'loopback';
  if (x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168)) return 'private';
  if (x === 100 && y >= 64 && y <= 127) return 'private'; // RFC 6598 carrier-grade NAT
  if (x === 169 && y === 254) return 'link-local';
  if (x >= 224 && x <= 239) return 'multicast';
  if (x >= 240) return 'reserved'; // includes 255.255.255.255
  if (x === 192 && y === 0 && (z === 0 || z === 2)) return 'reserved'; // RFC 6890, RFC 5737 TEST-NET-1
  if (x === 192 && y === 88 && z === 99) return 'reserved'; // RFC 7526 deprecated 6to4 relay anycast
  if (x === 198 && y === 51 && z === 100) return 'reserved'; // TEST-NET-2
  if (x === 203 && y === 0 && z === 113) return 'reserved'; // TEST-NET-3
  if (x === 198 && (y === 18 || y === 19)) return 'reserved'; // RFC 2544 benchmarking
  return 'public';
}

function ipv4Group(b: Uint8Array): string {
  return `ipv4:${b[0]}.${b[1]}`;
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += (byte < 16 ? '0' : '') + byte.toString(16);
  return out;
}

/** The IPv4 address of an IPv4-mapped IPv6 one (`::ffff:a.b.c.d`: the same socket address). */
function mappedIPv4(b: Uint8Array): Uint8Array | undefined {
  return b.subarray(0, 10).every((byte) => byte === 0) && b[10] === 0xff && b[11] === 0xff ? b.slice(12, 16) : undefined;
}

/** The IPv4 address inside an IPv6 one (mapped, NAT64, 6to4, Teredo), which is what a peer really uses. */
function embeddedIPv4(b: Uint8Array): Uint8Array | undefined {
  const mapped = mappedIPv4(b);
  if (mapped !== undefined) return mapped;
  const prefixIs = (prefix: readonly number[]): boolean => prefix.every((value, i) => b[i] === value);
  if (prefixIs([0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) return b.slice(12, 16); // RFC 6052 NAT64
  if (prefixIs([0x20, 0x02])) return b.slice(2, 6); // RFC 3964 6to4
  if (prefixIs([0x20, 0x01, 0x00, 0x00])) return b.slice(12, 16).map((byte) => byte ^ 0xff); // RFC 4380 Teredo
  return undefined;
}

/**
 * The place an IP literal lands at, for counting dials at one host: the IPv4 address (also when it is
 * inside an IPv6 one: mapped, NAT64, 6to4, Teredo), or an IPv6 address's /64 (one subscriber's
 * allocation, often routed whole to one machine). Other hosts (names) come back as they are.
 */
export function hostPlace(host: string): string {
  if (!host.includes(':')) return host;
  const bytes = parseIPv6(host);
  if (bytes === undefined) return host;
  const inner = embeddedIPv4(bytes);
  if (inner !== undefined) return inner.join('.');
  return `${hex(bytes.subarray(0, 8))}/64`;
}

function ipv6Classification(b: Uint8Array): HostClassification {
  const inner = embeddedIPv4(b);
  if (inner !== undefined) return { family: 'ipv6', scope: ipv4Scope(inner), group: ipv4Group(inner) };
  const group = `ipv6:${hex(b.subarray(0, 4))}`;
  const allButLastZero = b.subarray(0, 15).every((byte) => byte === 0);
  let scope: AddressScope = 'public';
  if (allButLastZero && b[15] === 0) scope = 'unspecified';
  else if (allButLastZero && b[15] === 1) scope = 'loopback';
  else if (b.subarray(0, 12).every((byte) => byte === 0)) scope = 'reserved'; // deprecated IPv4-compatible
  else if (b[0] === 0xff) scope = 'multicast';
  else if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) scope = 'link-local';
  else if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) scope = 'private'; // deprecated site-local
  else if ((b[0]! & 0xfe) === 0xfc) scope = 'private'; // RFC 4193 unique local
  else if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) scope = 'reserved'; // documentation
  else if (b[0] === 0x20 && b[1] === 0x01 && b[2]! <= 0x01) scope = 'reserved'; // 2001::/23 IETF protocol assignments (ORCHID…)
  else if (b[0] === 0x01 && b[1] === 0x00 && b.subarray(2, 8).every((byte) => byte === 0)) scope = 'reserved'; // discard 100::/64
  else if (b[0]! < 0x20 || b[0]! > 0x3f) scope = 'reserved'; // outside 2000::/3, the only global unicast today
  return { family: 'ipv6', scope, group };
}

const DNS_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const LAN_SUFFIXES = ['local', 'lan', 'internal', 'localdomain', 'home.arpa', 'intranet', 'corp', 'home'];
const RESERVED_TLDS = new Set(['test', 'example', 'invalid', 'onion']);

function dnsClassification(host: string): HostClassification {
  const name = (host.endsWith('.') ? host.slice(0, -1) : host).toLowerCase();
  const labels = name.split('.');
  const invalid: HostClassification = { family: 'dns', scope: 'invalid', group: `dns:${name}` };
  if (name.length === 0 || name.length > 253 || !labels.every((label) => DNS_LABEL.test(label))) return invalid;
  // A numeric last label makes resolvers parse the whole name as an IPv4 shorthand (WHATWG URL, inet_aton).
  if (/^(0x[0-9a-f]*|\d+)$/.test(labels[labels.length - 1]!)) return invalid;
  // Group by the last two labels: subdomains cost an attacker nothing, registered domains do.
  const group = `dns:${labels.slice(-2).join('.')}`;
  const tld = labels[labels.length - 1]!;
  if (tld === 'localhost') return { family: 'dns', scope: 'loopback', group };
  if (labels.length === 1) return { family: 'dns', scope: 'private', group };
  if (LAN_SUFFIXES.some((suffix) => name.endsWith(`.${suffix}`))) return { family: 'dns', scope: 'private', group };
  if (RESERVED_TLDS.has(tld)) return { family: 'dns', scope: 'reserved', group };
  return { family: 'dns', scope: 'public', group };
}

/**
 * One spelling per IP so that `[0:0::1]` and `[::1]` are one entry: IPv6 in RFC 5952 form (lower case,
 * longest zero run compressed), zone kept. IPv4 and names are returned as they are.
 */
export function canonicalHost(host: string): string {
  if (!host.includes(':')) return host;
  const bytes = parseIPv6(host);
  return bytes === undefined ? host : formatIPv6(bytes, host);
}

/** `bytes` in RFC 5952 form, with the `%zone` of `text` (the spelling they were parsed from) kept. */
function formatIPv6(bytes: Uint8Array, text: string): string {
  const zone = text.indexOf('%');
  let bestStart = -1;
  let bestLength = 1; // RFC 5952: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && bytes[2 * j] === 0 && bytes[2 * j + 1] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLength - 1;
      continue;
    }
    out += ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16);
    if (i < 7) out += ':';
  }
  return zone >= 0 ? out + text.slice(zone) : out;
}

/** A host's one spelling (see inspectHost) and its classification, from one parse. */
export interface InspectedHost {
  readonly canonical: string;
  readonly classification: HostClassification;
}

/**
 * canonicalHost and classifyHost in one parse, for hosts a peer sends (the address book reads each of a
 * PEX answer's hundreds: it parsed an IPv6 host four times on the way). The spelling is also the one the
 * socket sees: an IPv4-mapped IPv6 host (`::ffff:1.2.3.4`, no zone) is its IPv4, and a well-formed DNS
 * name with a dot inside loses a trailing dot (`example.com.` is `example.com` to every resolver; a single
 * label keeps it, since search domains may apply to it without the dot). Never longer than `host`.
 */
export function inspectHost(host: string): InspectedHost {
  const v4 = parseIPv4(host);
  if (v4 !== undefined) return { canonical: host, classification: { family: 'ipv4', scope: ipv4Scope(v4), group: ipv4Group(v4) } };
  if (host.includes(':')) {
    const v6 = parseIPv6(host);
    if (v6 === undefined) return { canonical: host, classification: { family: 'ipv6', scope: 'invalid', group: `ipv6:${host}` } };
    const mapped = host.includes('%') ? undefined : mappedIPv4(v6);
    if (mapped !== undefined) return { canonical: mapped.join('.'), classification: { family: 'ipv4', scope: ipv4Scope(mapped), group: ipv4Group(mapped) } };
    return { canonical: formatIPv6(v6, host), classification: ipv6Classification(v6) };
  }
  const classification = dnsClassification(host);
  // Only a well-formed name's (`a..` is no name, and stays as sent).
  const trim = classification.scope !== 'invalid' && host.endsWith('.') && host.indexOf('.') < host.length - 1;
  return { canonical: trim ? host.slice(0, -1) : host, classification };
}

/** Classifies a bare host: an IPv4 or IPv6 literal (no brackets) or a DNS name. */
export function classifyHost(host: string): HostClassification {
  const v4 = parseIPv4(host);
  if (v4 !== undefined) return { family: 'ipv4', scope: ipv4Scope(v4), group: ipv4Group(v4) };
  if (host.includes(':')) {
    const v6 = parseIPv6(host);
    return v6 === undefined ? { family: 'ipv6', scope: 'invalid', group: `ipv6:${host}` } : ipv6Classification(v6);
  }
  return dnsClassification(host);
}

/**
 * Classifies a parsed address, transport-aware: memory:// addresses live in one process (loopback,
 * one group per name); webrtc:// addresses have no host and are reached through their relay, so they
 * are grouped by that relay (all browsers introduced by one relay share one group).
 */
export function classifyAddress(address: PeerAddress): HostClassification {
  if (address.protocol === 'memory') return { family: 'none', scope: 'loopback', group: `memory:${address.host}` };
  if (address.protocol === 'webrtc') {
    // Without a relay to signal through, nobody can dial it: a listener's own `webrtc://<id>`.
    const via = address.params['via'];
    if (via === undefined || !isNodeId(via)) return { family: 'none', scope: 'unspecified', group: 'webrtc:-' };
    return { family: 'none', scope: 'public', group: `webrtc:${via}` };
  }
  return classifyHost(address.host);
}

/** True when a stranger on the internet could dial the address. */
export function isRoutable(address: PeerAddress): boolean {
  return classifyAddress(address).scope === 'public';
}

/** The bucketing group of an address: /16 for IPv4, /32 for IPv6, the domain for DNS names. */
export function addressGroup(address: PeerAddress): string {
  return classifyAddress(address).group;
}
