import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { detachedCopy } from './detached-copy.js';

/**
 * The address a WebSocket peer is known by: `host:port` of the TCP connection, or, when that
 * connection comes from one of `trustedProxies`, the client address the proxy put last in
 * `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for` appends the address it saw; anything
 * before it was written by the client and proves nothing). Behind a proxy every client would
 * otherwise have the proxy's address, and the per-host caps would treat all of them as one host.
 * A header that is missing or not an IP address leaves the connection's own address.
 */
export function clientAddressOf(request: IncomingMessage, trustedProxies: ReadonlySet<string>): string {
  const socket = request.socket;
  const own = socket.remoteAddress ?? 'unknown';
  const port = socket.remotePort ?? 0;
  const forwarded = trustedProxies.has(own) ? lastForwardedFor(request.headers['x-forwarded-for']) : undefined;
  const host = forwarded ?? own;
  return `${host.includes(':') ? `[${host}]` : host}:${forwarded === undefined ? port : 0}`;
}

/** Longest address text worth parsing (an IPv6 address with an IPv4 tail is 45 characters). */
const MAX_ADDRESS_CHARS = 45;

function lastForwardedFor(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const joined = Array.isArray(header) ? header.join(',') : header;
  const last = joined.slice(joined.lastIndexOf(',') + 1).trim();
  if (last.length > MAX_ADDRESS_CHARS || isIP(last) === 0) return undefined;
  // An IPv4-mapped IPv6 address is the IPv4 host, as the per-host groups count it.
  const host = last.toLowerCase().startsWith('::ffff:') && isIP(last.slice(7)) === 4 ? last.slice(7) : last;
  // Copied: a slice is a view of the header (up to Node's 16 KiB request head), and the link keeps its
  // address for its whole life, so each proxied peer held its whole header.
  return detachedCopy(host);
}

/** The proxies' addresses as a socket reports them (IPv4 also in its IPv4-mapped IPv6 form). */
export function trustedProxySet(addresses: readonly string[] | undefined): ReadonlySet<string> {
  const set = new Set<string>();
  for (const address of addresses ?? []) {
    set.add(address);
    if (isIP(address) === 4) set.add(`::ffff:${address}`);
  }
  return set;
}
