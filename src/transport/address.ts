import { ConfigError } from '../errors.js';
import { printable } from '../util/printable.js';

/**
 * Addresses are strings users can paste:
 *   tcp://<nodeId>@host:port
 *   ws://<nodeId>@host:port/path    wss://…
 *   webrtc://<nodeId>?via=<relayNodeId>
 *   memory://<nodeId>@name
 * The node id is optional where an address only says where to listen (`tcp://127.0.0.1:0`).
 * IPv6 hosts are written in brackets: `tcp://<id>@[::1]:26656`.
 */
export interface PeerAddress {
  /** 'tcp' | 'ws' | 'wss' | 'webrtc' | 'memory' (lower case). */
  readonly protocol: string;
  /** 40 lower-case hex characters, or undefined when the address names no node. */
  readonly nodeId: string | undefined;
  /** Host name or IP address without brackets; '' for webrtc. */
  readonly host: string;
  /** Port number; 0 means "any free port" for listening; 0 for transports without ports. */
  readonly port: number;
  /** Path for ws/wss, '' otherwise. */
  readonly path: string;
  /** Query parameters, e.g. `via` for webrtc. */
  readonly params: Readonly<Record<string, string>>;
}

export const NODE_ID_HEX_LENGTH = 40;
const NODE_ID_PATTERN = /^[0-9a-f]{40}$/;
const PROTOCOLS_WITH_PORT = new Set(['tcp', 'ws', 'wss']);
const MAX_ADDRESS_LENGTH = 1024;

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID_PATTERN.test(value);
}

/** Parses an address; throws ConfigError('ERR_INVALID_ADDRESS') with the reason. */
function invalidAddress(text: string, why: string): never {
  throw new ConfigError('ERR_INVALID_ADDRESS', `Invalid address "${printable(String(text).slice(0, 200))}": ${why}`, {
    detail: { address: text },
  });
}

export function parseAddress(text: string): PeerAddress {
  if (typeof text !== 'string' || text.length === 0) invalidAddress(text, 'empty');
  if (text.length > MAX_ADDRESS_LENGTH) invalidAddress(text, `longer than ${MAX_ADDRESS_LENGTH} characters`);
  // Addresses come from peers (NodeInfo, PEX) and end up in apps' logs and in other peers' books: no
  // dialable address holds a space or a control character (a ws path or memory name otherwise could).
  // A lone surrogate is no character at all: re-encoded (msgpack, JSON, a log) it turns into U+FFFD, a
  // different address than the one the peer gave.
  if (/[\s\p{Cc}\p{Cf}\p{Cs}]/u.test(text)) invalidAddress(text, 'a space, a control character or a lone surrogate');
  const schemeEnd = text.indexOf('://');
  if (schemeEnd <= 0) invalidAddress(text, 'missing "<protocol>://"');
  const protocol = text.slice(0, schemeEnd).toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(protocol)) invalidAddress(text, 'bad protocol');
  let rest = text.slice(schemeEnd + 3);

  let query = '';
  const queryStart = rest.indexOf('?');
  if (queryStart >= 0) {
    query = rest.slice(queryStart + 1);
    rest = rest.slice(0, queryStart);
  }
  const params: Record<string, string> = {};
  if (query !== '') for (const [key, value] of new URLSearchParams(query)) params[key] = value;

  let nodeId: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    nodeId = rest.slice(0, at).toLowerCase();
    rest = rest.slice(at + 1);
    if (!NODE_ID_PATTERN.test(nodeId)) invalidAddress(text, 'node id must be 40 hex characters');
  }

  if (protocol === 'webrtc') {
    if (nodeId === undefined) {
      nodeId = rest.toLowerCase();
      rest = '';
      if (!NODE_ID_PATTERN.test(nodeId)) invalidAddress(text, 'node id must be 40 hex characters');
    }
    if (rest !== '') invalidAddress(text, 'webrtc addresses have no host');
    if (params['via'] !== undefined && !NODE_ID_PATTERN.test(params['via'].toLowerCase())) invalidAddress(text, 'via must be a node id');
    if (params['via'] !== undefined) params['via'] = params['via'].toLowerCase();
    return { protocol, nodeId, host: '', port: 0, path: '', params };
  }

  let path = '';
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    path = rest.slice(slash);
    rest = rest.slice(0, slash);
  }
  if (path !== '' && protocol !== 'ws' && protocol !== 'wss') invalidAddress(text, `${protocol} addresses have no path`);

  if (protocol === 'memory') {
    if (rest === '') invalidAddress(text, 'memory addresses need a name');
    return { protocol, nodeId, host: rest, port: 0, path: '', params };
  }

  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) invalidAddress(text, 'unclosed "[" in IPv6 host');
    host = rest.slice(1, close);
    if (rest[close + 1] !== ':') invalidAddress(text, 'missing port');
    portText = rest.slice(close + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) invalidAddress(text, 'missing port');
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(':')) invalidAddress(text, 'IPv6 hosts must be written in brackets');
  }
  if (host === '') invalidAddress(text, 'missing host');
  if (!/^[A-Za-z0-9.\-:%_]+$/.test(host)) invalidAddress(text, 'bad host');
  if (!/^\d{1,5}$/.test(portText)) invalidAddress(text, 'bad port');
  const port = Number(portText);
  if (port > 65535) invalidAddress(text, 'port out of range');
  if (!PROTOCOLS_WITH_PORT.has(protocol)) {
    // Unknown protocols are allowed (a custom transport may claim them) but keep the host:port shape.
  }
  if ((protocol === 'ws' || protocol === 'wss') && path === '') path = '/';
  return { protocol, nodeId, host: host.toLowerCase(), port, path, params };
}

/** Formats an address back to its canonical string. */
export function formatAddress(address: PeerAddress): string {
  const id = address.nodeId !== undefined ? `${address.nodeId}@` : '';
  const query = Object.keys(address.params).length > 0 ? `?${new URLSearchParams(address.params as Record<string, string>).toString()}` : '';
  if (address.protocol === 'webrtc') return `webrtc://${address.nodeId ?? ''}${query}`;
  if (address.protocol === 'memory') return `memory://${id}${address.host}${query}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  const path = address.protocol === 'ws' || address.protocol === 'wss' ? address.path : '';
  return `${address.protocol}://${id}${host}:${address.port}${path}${query}`;
}

/** The same address with a (different) node id. */
export function withNodeId(address: PeerAddress, nodeId: string): PeerAddress {
  return { ...address, nodeId };
}

/**
 * The relay a WebRTC link was negotiated through, from its remote address (`webrtc://<id>?via=<relay>`,
 * as WebRTC links name their peer), lower-cased; undefined for any other endpoint.
 */
export function endpointRelay(remoteAddress: string): string | undefined {
  return /^webrtc:\/\/[^?#]*\?(?:[^#]*&)?via=([0-9a-fA-F]{1,64})(?:[&#]|$)/.exec(remoteAddress)?.[1]?.toLowerCase();
}

/**
 * The IP of a transport endpoint as Links report it (`127.0.0.1:5000`, `[::1]:5000`), or undefined for
 * endpoints that are not IP:port (memory links). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes the IPv4.
 * A zone (`[fe80::1%eth0]:5000`, as Node reports a link-local peer) is dropped: an endpoint with no
 * host counts against no per-host cap, so a peer on the LAN would otherwise escape them all.
 */
export function endpointHost(remoteAddress: string): string | undefined {
  const match = /^\[([0-9a-fA-F:.]+)(?:%[^\]]*)?\]:\d+$/.exec(remoteAddress) ?? /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(remoteAddress);
  const host = match?.[1]?.toLowerCase();
  return host?.startsWith('::ffff:') && host.includes('.') ? host.slice('::ffff:'.length) : host;
}

/**
 * The network a remote endpoint's host stands for, for per-host limits: the IPv4 address itself, or
 * the /64 prefix of an IPv6 address (one subscriber's allocation: a single host can take any address
 * in its /64, so counting full IPv6 addresses would let it fill every slot). Undefined when unknown.
 */
export function endpointHostGroup(remoteAddress: string): string | undefined {
  const host = endpointHost(remoteAddress);
  if (host === undefined || !host.includes(':')) return host;
  const halves = host.split('::');
  if (halves.length > 2) return host;
  const groupsOf = (text: string | undefined): string[] => (text === undefined || text === '' ? [] : text.split(':'));
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  // A trailing dotted IPv4 part fills the last two groups.
  const width = (groups: string[]): number => groups.length + (groups.at(-1)?.includes('.') === true ? 1 : 0);
  const groups = halves.length === 2 ? [...head, ...new Array<string>(Math.max(0, 8 - width(head) - width(tail))).fill('0'), ...tail] : head;
  const prefix = groups.slice(0, 4).map((group) => Number.parseInt(group, 16));
  if (prefix.length < 4 || prefix.some((value) => !Number.isInteger(value) || value < 0 || value > 0xffff)) return host;
  return `${prefix.map((value) => value.toString(16)).join(':')}::/64`;
}
