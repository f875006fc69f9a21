import { formatAddress, parseAddress, type PeerAddress } from './address.js';
import { classifyAddress, inspectHost, type HostClassification } from './ip.js';

/**
 * One spelling per endpoint. Peers hand us addresses as text, and each spelling of one place that the
 * book, the ban list or a dedup treats as another address is a slot a liar fills for free (a node id's
 * 8 address slots, the new table's buckets) or a way around a ban. The canonical form is what the
 * dialer really reaches:
 *   - the host as the socket sees it (see inspectHost: IPv6 in RFC 5952 form, an IPv4-mapped IPv6 host
 *     as its IPv4, a DNS name without its trailing dot);
 *   - a ws path as the WebSocket client requests it (dot segments resolved, `\` a `/`, no fragment), with
 *     percent escapes in one form: RFC 3986's unreserved characters and those the client escapes anyway
 *     (`"<>` and `` ` ``, `{`, `}`, non-ASCII as UTF-8) unescaped, every other escape in upper case;
 *   - only the query parameters a dialer reads (`via` of a webrtc address; all of a custom protocol's).
 * Never longer than the text it came from, so nothing under parseAddress's cap grows past it.
 */
export interface CanonicalForm {
  readonly address: PeerAddress;
  readonly classification: HostClassification;
}

/** The canonical form of a parsed address, and its classification (one parse of its host for both). */
export function canonicalForm(address: PeerAddress): CanonicalForm {
  if (address.protocol === 'webrtc' || address.protocol === 'memory') {
    const canonical = { ...address, params: paramsDialersRead(address) };
    return { address: canonical, classification: classifyAddress(canonical) };
  }
  const { canonical: host, classification } = inspectHost(address.host);
  return { address: { ...address, host, path: requestedPath(address), params: paramsDialersRead(address) }, classification };
}

/** Parses `text` into its canonical form; undefined when it does not parse. */
export function parseCanonical(text: string): CanonicalForm | undefined {
  try {
    return canonicalForm(parseAddress(text));
  } catch {
    return undefined;
  }
}

/** parseCanonical's address alone. */
export function canonicalAddress(text: string): PeerAddress | undefined {
  return parseCanonical(text)?.address;
}

/** Canonical form of an address string, or undefined when it does not parse (or its form does not parse again to itself). */
export function normalizeAddress(text: string): string | undefined {
  return parseNormalized(text)?.text;
}

/**
 * normalizeAddress with the parsed address, for callers that need both: parsing a peer's address again
 * for its node id doubled what its NodeInfo cost us (a 1 KiB query is ~40 µs a parse).
 */
export function parseNormalized(text: string): (CanonicalForm & { readonly text: string }) | undefined {
  try {
    const form = canonicalForm(parseAddress(text));
    const normal = canonicalText(form.address, text);
    return normal === undefined ? undefined : { ...form, text: normal };
  } catch {
    return undefined;
  }
}

/**
 * The text of a canonical address parsed from `text`, or undefined when it would not parse again as
 * itself: re-encoding a query may lengthen it (`?` in a value becomes `%3F`, past parseAddress's cap),
 * and every peer we hand such a form to would read another address, or refuse it. Only a query can do
 * that (every other part is written as it was read), so only then is the form parsed again.
 */
export function canonicalText(canonical: PeerAddress, text: string): string | undefined {
  const normal = formatAddress(canonical);
  if (normal === text || Object.keys(canonical.params).length === 0) return normal;
  const again = canonicalAddress(normal);
  return again !== undefined && formatAddress(again) === normal ? normal : undefined;
}

/** The spellings of `.` (1) and `..` (2) as path segments, `%2e` in either case for any dot. */
const DOT_SEGMENTS: ReadonlyMap<string, 1 | 2> = new Map(
  ['.', '%2e', '%2E'].flatMap((a) => [[a, 1] as const, ...['.', '%2e', '%2E'].map((b) => [a + b, 2] as const)]),
);

/**
 * A ws path as the dialer requests it: WebSocket clients (ws, browsers) read the URL the WHATWG way, so
 * `/relay`, `/./relay`, `/%2e/relay`, `/x/../relay`, `/x\..\relay` and `/relay#anything` are one
 * request. Resolved here as the URL parser does, by hand: its form escapes non-ASCII characters, and a
 * form longer than what a peer sent could pass the length cap; this one is never longer, and costs
 * O(length). Escapes then take one form (see escapesInOneForm).
 */
function requestedPath(address: PeerAddress): string {
  return address.protocol === 'ws' || address.protocol === 'wss' ? canonicalWsPath(address.path) : address.path;
}

/**
 * The canonical form of a ws path (see requestedPath): a WebSocket server compares the path of each
 * request's URL with its own in this form, so that every spelling that the book holds as one address
 * reaches it (the `ws` server's own check compares the bytes: `/a%62` was refused at `/ab`).
 */
export function canonicalWsPath(wsPath: string): string {
  const hash = wsPath.indexOf('#');
  const path = hash >= 0 ? wsPath.slice(0, hash) : wsPath;
  if (!/[.\\]|%2e/i.test(path)) return escapesInOneForm(path);
  const segments = path.slice(1).split(/[/\\]/);
  const resolved: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const dots = DOT_SEGMENTS.get(segments[i]!) ?? 0;
    if (dots === 2) resolved.pop();
    // A dot segment at the end leaves the path ending in `/`.
    if (dots === 0) resolved.push(segments[i]!);
    else if (i === segments.length - 1) resolved.push('');
  }
  return escapesInOneForm(`/${resolved.join('/')}`);
}

/** ASCII characters whose escape is the same request as the character: unreserved, or escaped by the client. */
const SAME_AS_ESCAPED = /^[A-Za-z0-9\-._~"<>`{}]$/;
/** What parseAddress refuses in an address: an escape of one of these stays an escape. */
const REFUSED_CHARACTER = /[\s\p{Cc}\p{Cf}]/u;

/**
 * A path's percent escapes in one form, after dot segments are resolved (so an unescaped `.` makes no new
 * one): `%62` is `b` and `%c3%a9` (or `%C3%A9`) is `é`, as the client sends `é` escaped, in upper case;
 * `%2f` is `%2F` (an escaped `/` is not a `/` to a server). Nothing gets longer.
 */
function escapesInOneForm(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(run.slice(3 * i + 1, 3 * i + 3), 16);
    let out = '';
    let i = 0;
    while (i < bytes.length) {
      const length = utf8SequenceLength(bytes, i);
      const text = length > 0 ? String.fromCodePoint(codePointAt(bytes, i, length)) : '';
      const unescape = length === 1 ? SAME_AS_ESCAPED.test(text) : length > 1 && !REFUSED_CHARACTER.test(text);
      out += unescape ? text : run.slice(3 * i, 3 * i + 3).toUpperCase();
      i += unescape ? length : 1;
    }
    return out;
  });
}

/** Bytes in the well-formed UTF-8 sequence at `at` (RFC 3629: no overlong forms, no surrogates), or 0. */
function utf8SequenceLength(bytes: Uint8Array, at: number): number {
  const lead = bytes[at]!;
  if (lead < 0x80) return 1;
  const length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (length === 0 || at + length > bytes.length) return 0;
  for (let k = 1; k < length; k++) if ((bytes[at + k]! & 0xc0) !== 0x80) return 0;
  const second = bytes[at + 1]!;
  if (lead === 0xe0 && second < 0xa0) return 0;
  if (lead === 0xed && second >= 0xa0) return 0;
  if (lead === 0xf0 && second < 0x90) return 0;
  if (lead === 0xf4 && second >= 0x90) return 0;
  return length;
}

/** The code point of the well-formed `length`-byte UTF-8 sequence at `at`. */
function codePointAt(bytes: Uint8Array, at: number, length: number): number {
  let value = length === 1 ? bytes[at]! : bytes[at]! & (0xff >> (length + 1));
  for (let k = 1; k < length; k++) value = (value << 6) | (bytes[at + k]! & 0x3f);
  return value;
}

const PROTOCOLS_WITHOUT_PARAMS: ReadonlySet<string> = new Set(['tcp', 'ws', 'wss', 'memory']);

function paramsDialersRead(address: PeerAddress): PeerAddress['params'] {
  if (address.protocol === 'webrtc') return address.params['via'] !== undefined ? { via: address.params['via'] } : {};
  // A custom transport's protocol may read its own.
  return PROTOCOLS_WITHOUT_PARAMS.has(address.protocol) ? {} : address.params;
}
