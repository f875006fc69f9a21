import { inspectHost, type AddressScope } from '../transport/ip.js';
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
/** RFC 6544's port for `tcptype active` candidates, which no one connects to. */
export const DISCARD_PORT = 9;

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
  /**
   * Asked last, for each candidate that passed every other rule: whether it may go to the
   * RTCPeerConnection now (CandidateTargets.take). `candidate` is it as a trickled signal, for one that
   * may be handed on later. @default all may
   */
  readonly takesTarget?: ((target: CandidateTarget, candidate: SignalData) => boolean) | undefined;
  /** Where known, candidates at our own addresses are kept only on ports our OS hands out (OwnMachine). */
  readonly ownMachine?: OwnMachine | undefined;
}

/**
 * Our machine's own addresses, and the ports its OS gives sockets bound to port 0. A remote's candidate
 * at one of our addresses is another node on this machine, whose ICE agent binds port 0 (libwebrtc,
 * in Chromium and @roamhq/wrtc), or a remote aiming our checks at this machine's services, which listen
 * on ports they chose (memcached's 11211, statsd's 8125, a dev server's 3000) and which our own address
 * reaches like loopback does.
 */
export interface OwnMachine {
  /** In CandidateTarget.host's spelling. */
  addresses(): ReadonlySet<string>;
  readonly ephemeralPorts: { readonly min: number; readonly max: number };
}

/** Where a remote candidate has our ICE agent send: STUN over UDP, or a TCP connection (`tcp`, `ssltcp`). */
export interface CandidateTarget {
  readonly transport: 'udp' | 'tcp';
  /** The address in one spelling (IPv6 in RFC 5952 form, IPv4-mapped as IPv4, names in lower case). */
  readonly host: string;
  readonly port: number;
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
  const { allowLoopback = false, allowMdns = true, tcpRoom = Number.POSITIVE_INFINITY, takesTarget = () => true, ownMachine } = options;
  let tcp = 0;
  const refuses = (line: string, candidate: SignalData): boolean => {
    const fields = candidateFields(line);
    if (fields === undefined) return false;
    const [, , transportField, , address, port] = fields as [string, string, string, string, string, string];
    // An honest peer's candidates have ephemeral ports (its own, a NAT's, a TURN server's relayed ones);
    // a LAN's well-known services listen below 1024. Chromium's ICE agent itself skips all of those
    // but 80 and 443 (a router's admin page), @roamhq/wrtc's all. Port 9 stays: `tcptype active`
    // candidates name it (RFC 6544), and no one connects to them.
    const portNumber = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
    if (portNumber !== DISCARD_PORT && !(portNumber >= LOWEST_CANDIDATE_PORT && portNumber <= HIGHEST_PORT)) return true;
    const host = unbracketed(address);
    const { canonical, classification } = inspectHost(host);
    const { family, scope } = classification;
    // Peers name candidates by IP or by an mDNS name; any other name may resolve to anything (127.0.0.1),
    // and so may an mDNS one, where anyone on the LAN answers for it (see allowMdnsCandidates).
    if (family === 'dns' && !(allowMdns && host.toLowerCase().endsWith(MDNS_SUFFIX))) return true;
    if (REFUSED_SCOPES.has(scope) && !(allowLoopback && scope === 'loopback')) return true;
    // Anything but UDP is a connection: `tcp`, and `ssltcp`, which libwebrtc also connects to at once
    // over TCP (20 of them: 40 connections, past a cap on `tcp` alone).
    const transport = transportField.toLowerCase() === 'udp' ? 'udp' : 'tcp';
    const target: CandidateTarget = { transport, host: canonical.toLowerCase(), port: portNumber };
    if (ownMachine !== undefined && outsideOwnEphemeralPorts(target, ownMachine)) return true;
    if (transport === 'tcp' && tcp >= tcpRoom) return true;
    if (!takesTarget(target, candidate)) return true;
    if (transport === 'tcp') tcp++;
    return false;
  };
  if (data.type === 'candidate') {
    const line = data.candidate.candidate;
    if (line === '') return { data, candidates: 0, refused: 0, tcp: 0 }; // end of candidates
    return refuses(line, data) ? { data: undefined, candidates: 0, refused: 1, tcp: 0 } : { data, candidates: 1, refused: 0, tcp };
  }
  // SDP lines end in CRLF, but WebRTC stacks also take a bare LF: split on either, so that no candidate
  // hides from the screen inside a "line" that the RTCPeerConnection will split itself.
  const lines = data.sdp.split(/\r?\n/);
  const mids = mediaIds(lines);
  const kept: string[] = [];
  let candidates = 0;
  let refused = 0;
  let mediaIndex = -1;
  for (const line of lines) {
    if (line.startsWith('m=')) mediaIndex++;
    if (!line.startsWith(SDP_CANDIDATE_PREFIX)) kept.push(line);
    else if (refuses(line.slice('a='.length), trickledForm(line, mediaIndex, mids))) refused++;
    else {
      candidates++;
      kept.push(line);
    }
  }
  return { data: refused === 0 ? data : { type: data.type, sdp: kept.join('\r\n') }, candidates, refused, tcp };
}

/** The `a=mid:` of each media section of an SDP's lines, in order (null where a section has none). */
function mediaIds(lines: string[]): (string | null)[] {
  const mids: (string | null)[] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) mids.push(null);
    else if (line.startsWith('a=mid:') && mids.length > 0) mids[mids.length - 1] = line.slice('a=mid:'.length);
  }
  return mids;
}

/** An SDP's `a=candidate:` line of media section `mediaIndex` as a trickled candidate. */
function trickledForm(line: string, mediaIndex: number, mids: (string | null)[]): SignalData {
  const sdpMLineIndex = Math.max(mediaIndex, 0);
  return { type: 'candidate', candidate: { candidate: line.slice('a='.length), sdpMLineIndex, sdpMid: mids[sdpMLineIndex] ?? null } };
}

/**
 * The first six fields of an ICE candidate line (`candidate:<foundation> <component> <transport>
 * <priority> <address> <port> typ …`, RFC 8839), with or without `a=`; undefined when it has fewer.
 */
function candidateFields(line: string): string[] | undefined {
  const fields = (line.startsWith('a=') ? line.slice('a='.length) : line).split(' ', 6);
  return fields.length < 6 || !fields[0]!.startsWith('candidate:') ? undefined : fields;
}

/** A target at one of our own addresses on a port no socket of ours bound to port 0 gets (port 9 aside: never connected to). */
function outsideOwnEphemeralPorts({ host, port }: CandidateTarget, { addresses, ephemeralPorts }: OwnMachine): boolean {
  return port !== DISCARD_PORT && (port < ephemeralPorts.min || port > ephemeralPorts.max) && addresses().has(host);
}

function unbracketed(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

/** The connection address of an ICE candidate line, without brackets; undefined when the line has none. */
export function candidateAddress(line: string): string | undefined {
  const fields = candidateFields(line);
  return fields === undefined ? undefined : unbracketed(fields[4]!);
}

/**
 * The addresses of the relayed (`typ relay`) candidates in one of our own signals: where a TURN server of
 * ours relays for us, in CandidateTarget.host's spelling.
 */
export function relayCandidateAddresses(data: SignalData): string[] {
  const lines = data.type === 'candidate' ? [data.candidate.candidate] : data.sdp.split(/\r?\n/).filter((line) => line.startsWith(SDP_CANDIDATE_PREFIX));
  const addresses: string[] = [];
  for (const line of lines) {
    const fields = (line.startsWith('a=') ? line.slice('a='.length) : line).split(' ', 8);
    if (fields.length < 8 || !fields[0]!.startsWith('candidate:') || fields[6] !== 'typ' || fields[7] !== 'relay') continue;
    addresses.push(inspectHost(unbracketed(fields[4]!)).canonical.toLowerCase());
  }
  return addresses;
}
