import { classifyHost, type AddressScope } from '../transport/ip.js';
import type { SignalData } from './signal-messages.js';

/**
 * Addresses a remote's ICE candidate may not make us probe. Each remote candidate makes our ICE agent
 * send STUN to it, over UDP or (a `tcptype passive` candidate) over a TCP connection it opens: a
 * loopback one reaches the services of our own machine, which no remote peer can be on the other end
 * of. Unspecified and multicast addresses name no one peer; `invalid` is a malformed IP literal.
 * Private and link-local addresses stay: they are how two peers on one LAN link.
 */
const REFUSED_SCOPES: ReadonlySet<AddressScope> = new Set(['loopback', 'unspecified', 'multicast', 'invalid']);

const SDP_CANDIDATE_PREFIX = 'a=candidate:';
const MDNS_SUFFIX = '.local';
const LOWEST_CANDIDATE_PORT = 1024;
const HIGHEST_PORT = 65_535;
const DISCARD_PORT = 9;

export interface ScreenOptions {
  /** Keep candidates on loopback addresses. @default false */
  readonly allowLoopback?: boolean | undefined;
  /** Keep candidates named by mDNS `.local` names. @default true */
  readonly allowMdns?: boolean | undefined;
  /**
   * TCP candidates the negotiation still takes: our ICE agent connects to each at once, where UDP
   * ones share its ~20 checks a second (constants.ts).
   * @default no limit
   */
  readonly tcpRoom?: number;
}

/** A remote's signal after screening, and how many ICE candidates it hands the RTCPeerConnection. */
export interface ScreenedSignal {
  /** Undefined when nothing is left to hand over (a refused trickled candidate). */
  readonly data: SignalData | undefined;
  readonly candidates: number;
  /** Candidates taken out. */
  readonly refused: number;
  /** Of `candidates`, those over TCP. */
  readonly tcp: number;
}

/**
 * Takes refused candidates out of a remote's signal: a trickled candidate, or the `a=candidate:` lines
 * of an offer's or answer's SDP (a 12 KiB SDP holds ~150, which would bypass the per-negotiation
 * signal cap: each counts as one signal). With `allowLoopback` only loopback stays allowed (peers on
 * one machine in a network with no other interface). Of names, only mDNS `.local` ones pass (unless
 * not `allowMdns`): the browser resolves those on the LAN only. Ports below 1024 (but 9) are refused, and TCP candidates past
 * `tcpRoom` taken out too.
 */
export function screenRemoteSignal(data: SignalData, options: ScreenOptions = {}): ScreenedSignal {
  const { allowLoopback = false, allowMdns = true, tcpRoom = Number.POSITIVE_INFINITY } = options;
  let tcp = 0;
  const refuses = (line: string): boolean => {
    const fields = candidateFields(line);
    if (fields === undefined) return false;
    const [, , transport, , address, port] = fields as [string, string, string, string, string, string];
    // An honest peer's candidates have ephemeral ports (its own, a NAT's, a TURN server's relayed ones);
    // a LAN's well-known services listen below 1024. Chromium's ICE agent itself skips all of those
    // but 80 and 443 (a router's admin page), @roamhq/wrtc's all. Port 9 stays: `tcptype active`
    // candidates name it (RFC 6544), and no one connects to them.
    const portNumber = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
    if (portNumber !== DISCARD_PORT && !(portNumber >= LOWEST_CANDIDATE_PORT && portNumber <= HIGHEST_PORT)) return true;
    const host = unbracketed(address);
    const { family, scope } = classifyHost(host);
    // Peers name candidates by IP or by an mDNS name; any other name may resolve to anything (127.0.0.1),
    // and so may an mDNS one, where anyone on the LAN answers for it (see allowMdnsCandidates).
    if (family === 'dns' && !(allowMdns && host.toLowerCase().endsWith(MDNS_SUFFIX))) return true;
    if (REFUSED_SCOPES.has(scope) && !(allowLoopback && scope === 'loopback')) return true;
    // Anything but UDP is a connection: `tcp`, and `ssltcp`, which libwebrtc also connects to at once
    // over TCP (20 of them: 40 connections, past a cap on `tcp` alone).
    if (transport.toLowerCase() === 'udp') return false;
    if (tcp >= tcpRoom) return true;
    tcp++;
    return false;
  };
  if (data.type === 'candidate') {
    const line = data.candidate.candidate;
    if (line === '') return { data, candidates: 0, refused: 0, tcp: 0 }; // end of candidates
    return refuses(line) ? { data: undefined, candidates: 0, refused: 1, tcp: 0 } : { data, candidates: 1, refused: 0, tcp };
  }
  // SDP lines end in CRLF, but WebRTC stacks also take a bare LF: split on either, so that no candidate
  // hides from the screen inside a "line" that the RTCPeerConnection will split itself.
  const lines = data.sdp.split(/\r?\n/);
  const kept: string[] = [];
  let candidates = 0;
  let refused = 0;
  for (const line of lines) {
    if (!line.startsWith(SDP_CANDIDATE_PREFIX)) kept.push(line);
    else if (refuses(line.slice('a='.length))) refused++;
    else {
      candidates++;
      kept.push(line);
    }
  }
  return { data: refused === 0 ? data : { type: data.type, sdp: kept.join('\r\n') }, candidates, refused, tcp };
}

/**
 * The first six fields of an ICE candidate line (`candidate:<foundation> <component> <transport>
 * <priority> <address> <port> typ …`, RFC 8839), with or without `a=`; undefined when it has fewer.
 */
function candidateFields(line: string): string[] | undefined {
  const fields = (line.startsWith('a=') ? line.slice('a='.length) : line).split(' ', 6);
  return fields.length < 6 || !fields[0]!.startsWith('candidate:') ? undefined : fields;
}

function unbracketed(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

/** The connection address of an ICE candidate line, without brackets; undefined when the line has none. */
export function candidateAddress(line: string): string | undefined {
  const fields = candidateFields(line);
  return fields === undefined ? undefined : unbracketed(fields[4]!);
}
