/**
 * Finding the gateway: an SSDP M-SEARCH for Internet Gateway Devices, done by nat-upnp's searcher
 * (one UDP socket per non-internal interface address, multicast to 239.255.255.250:1900). nat-upnp's
 * own client only searches for IGD:1 and gives up after 1.8 s with a bare "timeout"; here both IGD:1
 * and IGD:2 are searched, the wait is bounded and cancellable, and the result is a typed NatError.
 */
import type NatUpnpSsdp from 'nat-upnp/lib/nat-upnp/ssdp.js';
import { NatError } from '../../../src/nat/port-mapper.js';
import { throwIfAborted } from '../../../src/util/abort.js';
import { AbortError } from '../../../src/errors.js';
import { requireOptional } from '../optional-dependency.js';
import { gatewayText, sameHost } from './soap.js';

/** Search targets: IGDv2 gateways also answer IGD:1 searches, IGDv1 gateways only those. */
export const IGD_SEARCH_TARGETS = Object.freeze([
  'urn:schemas-upnp-org:device:InternetGatewayDevice:1',
  'urn:schemas-upnp-org:device:InternetGatewayDevice:2',
] as const);

/** The M-SEARCH is multicast again this often while waiting: UDP datagrams get lost. */
export const SSDP_RESEND_INTERVAL_MS = 700;
/** A gateway's answer is a few hundred bytes of headers; a datagram longer than this is not one. */
export const MAX_SSDP_ANSWER_BYTES = 8 * 1024;
/** Longest LOCATION taken from an answer: a gateway's is a short URL (`http://192.168.1.1:5000/rootDesc.xml`). */
export const MAX_SSDP_LOCATION_CHARS = 512;

export interface SsdpAnswer {
  /** URL of the gateway's root device description (from the LOCATION header). */
  location: string;
  /** The search target the gateway answered (the answerer's text, as gatewayText makes it). */
  searchTarget: string;
  /** Address of our interface the answer came in on. */
  localAddress: string;
  /** The gateway's SERVER header, when sent (the answerer's text, as gatewayText makes it). */
  server: string | undefined;
}

/**
 * nat-upnp's searcher, loaded on first use: nat-upnp is an optional package (its own dependencies,
 * `request` among them, carry published advisories), needed only for discovery: a mapper given the
 * gateway's `location` never loads it. Throws MissingDependencyError when it is not installed.
 */
export function loadSsdp(): typeof NatUpnpSsdp {
  return requireOptional<typeof NatUpnpSsdp>('nat-upnp', 'UPnP gateway discovery (or give upnp.location)', 'nat-upnp/lib/nat-upnp/ssdp.js');
}

/**
 * Multicasts a search and resolves with the first gateway that answers; rejects with
 * NatError('no-gateway') after `timeoutMs`, or AbortError when `signal` fires.
 * The search's sockets are closed on the next turn of the event loop after the promise settles.
 */
export async function discoverGateway(options: { timeoutMs: number; signal?: AbortSignal | undefined }): Promise<SsdpAnswer> {
  throwIfAborted(options.signal);
  const ssdp = loadSsdp().create();
  // HACK (nat-upnp 1.1.1): a socket that fails to send (an IPv6 socket given an IPv4 multicast
  // address, an interface without a multicast route) emits 'error'; nat-upnp handles only the first
  // one per socket, so a second would be an uncaught exception. Swallow them: discovery then simply
  // finds nothing on that interface.
  for (const socket of ssdp.sockets) socket.on('error', () => undefined);
  // HACK (nat-upnp 1.1.1): its header parser runs /^([^:]*)\s*:\s*(.*)$/ on every line of every
  // datagram, which backtracks quadratically: one 64 KB datagram of spaces, from anyone on the LAN,
  // stalled the event loop for 4 s. Answers are read here instead: size-capped, in one linear pass,
  // handed on as nat-upnp's own parser would (its internal '_device' event, which search() listens to).
  ssdp.parseResponse = (response, address, remote) => {
    const headers = parseSsdpAnswer(response, remote.address);
    if (headers !== undefined) ssdp.emit('_device', headers, address);
  };

  return new Promise<SsdpAnswer>((resolve, reject) => {
    let settled = false;
    const searches: ReturnType<typeof ssdp.search>[] = [];
    const search = (): void => {
      for (const target of IGD_SEARCH_TARGETS) {
        const pending = ssdp.search(target);
        searches.push(pending);
        pending?.on('device', onDevice);
      }
    };
    const onDevice = (headers: Record<string, string>, address: string): void => {
      const location = usableLocation(headers['location']);
      if (location === undefined) return;
      const server = headers['server'];
      finish(() => resolve({ location, searchTarget: gatewayText(headers['st'] ?? ''), localAddress: address, server: server === undefined ? undefined : gatewayText(server) }));
    };
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(resend);
      options.signal?.removeEventListener('abort', onAbort);
      for (const pending of searches) pending?.emit('end');
      // HACK (nat-upnp 1.1.1): its sockets bind on the next tick; closing one before that would
      // make the pending bind throw. setImmediate runs after those ticks.
      setImmediate(() => {
        try {
          ssdp.close();
        } catch {
          // already closed
        }
      });
      outcome();
    };
    const onAbort = (): void => {
      const reason: unknown = options.signal?.reason;
      finish(() => reject(reason instanceof Error && reason.name !== 'AbortError' ? reason : new AbortError()));
    };
    const timer = setTimeout(() => {
      finish(() =>
        reject(
          new NatError('no-gateway', `No UPnP gateway answered an SSDP search within ${options.timeoutMs} ms`, {
            detail: { timeoutMs: options.timeoutMs, interfaces: ssdp.sockets.length },
          }),
        ),
      );
    }, options.timeoutMs);
    const resend = setInterval(search, SSDP_RESEND_INTERVAL_MS);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    search();
  });
}

/**
 * An answer's LOCATION as a URL spells it (percent-encoded, ASCII only), or undefined when it is not an
 * http: URL or is longer than MAX_SSDP_LOCATION_CHARS. Anyone on the LAN may answer, and the LOCATION is
 * quoted in every message naming the gateway (NAT warnings, which apps log): as sent, it carried
 * terminal escapes, a bidi override or 8 KiB of the answerer's text into each.
 */
function usableLocation(text: string | undefined): string | undefined {
  if (text === undefined || text.length > MAX_SSDP_LOCATION_CHARS) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The headers of an SSDP answer (`HTTP/1.1 200 OK` or `NOTIFY …` and `Name: value` lines), names in
 * lower case; undefined when it is too long, not an answer, or carries no ST (search target). With
 * `answeredFrom` (the datagram's source address), also undefined when its LOCATION names another host:
 * a gateway describes itself, and anyone on the LAN may answer a search, so a foreign LOCATION would
 * make us fetch, and then POST SOAP to, whatever URL the answerer chose (127.0.0.1 included).
 */
export function parseSsdpAnswer(text: string, answeredFrom?: string): Record<string, string> | undefined {
  if (text.length > MAX_SSDP_ANSWER_BYTES || !(text.startsWith('HTTP') || text.startsWith('NOTIFY'))) return undefined;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (headers['st'] === undefined || headers['st'] === '') return undefined;
  if (answeredFrom !== undefined && !sameHost(headers['location'], answeredFrom)) return undefined;
  return headers;
}

