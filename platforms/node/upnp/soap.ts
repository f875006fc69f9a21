/**
 * The UPnP control protocol, hand-written on node:http: fetching a gateway's device description and
 * calling WANIPConnection actions (SOAP over HTTP POST). It exists because nat-upnp 1.1.1's own HTTP
 * layer (on the deprecated `request` package) has no timeout or cancellation, drops the SOAP fault
 * (so UPnP error codes such as 718 become "Request failed: 500"), does not escape XML arguments and
 * only knows the IGDv1 service types. See docs/upnp.md.
 *
 * The XML handled here is the small, flat, machine-written kind gateways send; the helpers (xml.ts,
 * linear scanners: a gateway is anyone on the LAN) extract elements by local name (any namespace
 * prefix) and decode the five XML entities and character references. Every response is capped at
 * MAX_UPNP_RESPONSE_BYTES.
 */
import http from 'node:http';
import { AbortError, ClosedError, TimeoutError, toError } from '../../../src/errors.js';
import { UpnpError, NatError, upnpErrorName, type NatCallOptions } from '../../../src/nat/port-mapper.js';
import { printable } from '../../../src/util/printable.js';
import { withDeadline } from '../../../src/util/abort.js';
import { escapeXml, xmlChildren, xmlElements, xmlText } from './xml.js';
import { detachedCopy } from '../detached-copy.js';

/** A gateway's description or SOAP answer larger than this is refused. */
export const MAX_UPNP_RESPONSE_BYTES = 256 * 1024;
/** Characters of the gateway's own words (a fault's description, a mapping's) that reach the app. */
export const MAX_GATEWAY_TEXT_CHARS = 200;
/**
 * A control URL we keep (we POST to it for the gateway's life). Real ones are a short path; a LAN
 * device's description may hold 256 KiB of them, so longer ones are skipped rather than kept.
 */
export const MAX_CONTROL_URL_CHARS = 2048;

/**
 * Text the gateway chose, for apps that keep or print it: anyone on the LAN may answer as the gateway,
 * so it is cut to MAX_GATEWAY_TEXT_CHARS and made printable. Copied: V8 keeps a slice as a view of the
 * whole string, so 200 characters of a 120 KiB description held all of it.
 */
export function gatewayText(text: string): string {
  return printable(detachedCopy(text.slice(0, MAX_GATEWAY_TEXT_CHARS)));
}

/** WAN connection services, best first: IGDv2's WANIPConnection:2 offers AddAnyPortMapping. */
export const WAN_CONNECTION_SERVICE_TYPES = Object.freeze([
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1',
] as const);

export interface HttpAnswer {
  status: number;
  body: string;
  /** Our address on the connection, as the gateway sees it (IPv4-mapped prefix removed). */
  localAddress: string | undefined;
}

export interface RequestBounds {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** One HTTP exchange, bounded by `timeoutMs`, cancelled by `signal`, body capped; no connection reuse. */
export function httpExchange(
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; what: string } & RequestBounds,
): Promise<HttpAnswer> {
  const target = new URL(url);
  if (target.protocol !== 'http:') {
    return Promise.reject(new NatError('gateway-error', `${init.what}: only http: URLs are supported, got ${target.protocol}`));
  }
  return withDeadline(
    (signal) =>
      new Promise<HttpAnswer>((resolve, reject) => {
        const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
        const request = http.request(
          target,
          {
            method: init.method,
            // no keep-alive pool: nothing lingers to hold the process open after a call
            agent: false,
            signal,
            headers: {
              ...init.headers,
              Connection: 'close',
              ...(body !== undefined ? { 'Content-Length': String(body.length) } : {}),
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            let size = 0;
            const localAddress = normalizeLocalAddress(response.socket.localAddress);
            response.on('data', (chunk: Buffer) => {
              size += chunk.length;
              if (size > MAX_UPNP_RESPONSE_BYTES) {
                response.destroy();
                reject(new NatError('gateway-error', `${init.what}: answer larger than ${MAX_UPNP_RESPONSE_BYTES} bytes`));
                return;
              }
              chunks.push(chunk);
            });
            response.on('end', () => {
              resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), localAddress });
            });
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end(body);
      }),
    { timeoutMs: init.timeoutMs, signal: init.signal, what: init.what },
  );
}

/** Whether `url` names `host` (a host name or IP address; IPv6 brackets and zone ignored). */
export function sameHost(url: string | undefined, host: string): boolean {
  if (url === undefined) return false;
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return false;
  }
  const bare = (name: string): string => name.replace(/^\[|\]$/g, '').replace(/%.*$/, '').toLowerCase();
  return bare(hostname) === bare(host);
}

function normalizeLocalAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

// ---------------------------------------------------------------------------------------- XML helpers

export { decodeXmlText, escapeXml, xmlChildren, xmlElements, xmlText } from './xml.js';

// ----------------------------------------------------------------------------- device description

export interface WanConnectionService {
  serviceType: string;
  /** Absolute control URL. */
  controlUrl: string;
}

export interface DeviceDescription {
  friendlyName: string | undefined;
  /** Every WAN connection service found, best first (see WAN_CONNECTION_SERVICE_TYPES). */
  services: WanConnectionService[];
}

/** Extracts the WAN connection services of a root device description; URLs made absolute. */
export function parseDeviceDescription(xml: string, location: string): DeviceDescription {
  const base = xmlText(xml, 'URLBase') || location;
  const gatewayHost = URL.canParse(location) ? new URL(location).hostname : undefined;
  const services: WanConnectionService[] = [];
  for (const block of xmlElements(xml, 'service')) {
    const serviceType = xmlText(block, 'serviceType');
    const controlURL = xmlText(block, 'controlURL');
    if (serviceType === undefined || controlURL === undefined || controlURL === '' || controlURL.length > MAX_CONTROL_URL_CHARS) continue;
    if (!(WAN_CONNECTION_SERVICE_TYPES as readonly string[]).includes(serviceType)) continue;
    // The first of each type: a description repeating one service thousands of times is kept as one.
    if (services.some((known) => known.serviceType === serviceType)) continue;
    let controlUrl: string;
    try {
      controlUrl = new URL(controlURL, base).href;
    } catch {
      continue;
    }
    // The control URL (or URLBase) is the gateway's word: one on another host would make us POST
    // SOAP wherever it says, 127.0.0.1 included.
    if (gatewayHost === undefined || controlUrl.length > MAX_CONTROL_URL_CHARS || !sameHost(controlUrl, gatewayHost)) continue;
    services.push({ serviceType, controlUrl });
  }
  const rank = (s: WanConnectionService): number => (WAN_CONNECTION_SERVICE_TYPES as readonly string[]).indexOf(s.serviceType);
  services.sort((a, b) => rank(a) - rank(b));
  const friendlyName = xmlText(xml, 'friendlyName');
  return { friendlyName: friendlyName === undefined ? undefined : gatewayText(friendlyName), services };
}

// -------------------------------------------------------------------------------------------- SOAP

export type SoapArgument = readonly [name: string, value: string | number];

/**
 * Calls `action` on the gateway currently in use (resolving it first if need be): soapCall with the
 * mapper's bounds. The mapping operations take one, so they need not know how the gateway is found.
 */
export type GatewayCall = (action: string, args: readonly SoapArgument[], options: NatCallOptions) => Promise<Record<string, string>>;

/** The SOAP envelope for `action` of `serviceType`, arguments escaped. */
export function soapEnvelope(serviceType: string, action: string, args: readonly SoapArgument[]): string {
  const argXml = args.map(([name, value]) => `<${name}>${escapeXml(String(value))}</${name}>`).join('');
  return (
    '<?xml version="1.0"?>' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${escapeXml(serviceType)}">${argXml}</u:${action}></s:Body></s:Envelope>`
  );
}

/**
 * Reads a gateway's answer to `action`: the output arguments on success; a UpnpError with the UPnP
 * error code and description from the SOAP fault (`<UPnPError><errorCode>718</errorCode>...`), or
 * without a code when the answer is not a UPnP fault.
 */
export function parseSoapAnswer(action: string, status: number, body: string): Record<string, string> {
  if (status >= 200 && status < 300) {
    const response = xmlElements(body, `${action}Response`)[0];
    if (response === undefined) {
      throw new UpnpError(`${action}: the gateway's answer has no ${action}Response`, { action, httpStatus: status });
    }
    return xmlChildren(response);
  }
  const fault = xmlElements(body, 'UPnPError')[0];
  const codeText = fault === undefined ? undefined : xmlText(fault, 'errorCode');
  const code = codeText !== undefined && /^\d{1,6}$/.test(codeText) ? Number(codeText) : undefined;
  if (code !== undefined) {
    const told = fault === undefined ? undefined : xmlText(fault, 'errorDescription');
    // Its words go into warnings apps print.
    const description = (told === undefined ? undefined : gatewayText(told)) || upnpErrorName(code) || undefined;
    throw new UpnpError(`${action} refused by the gateway: UPnP error ${code}${description ? ` (${description})` : ''}`, {
      action,
      upnpCode: code,
      upnpDescription: description,
      httpStatus: status,
    });
  }
  throw new UpnpError(`${action} failed: HTTP ${status} without a UPnP error`, { action, httpStatus: status });
}

export interface SoapTarget {
  serviceType: string;
  controlUrl: string;
}

/**
 * Calls `action` on a gateway's service. Resolves with the output arguments; rejects with UpnpError
 * (a refusal with its code, or a gateway error: network, HTTP, timeout), or with AbortError/ClosedError
 * when `signal` fired.
 */
export async function soapCall(
  target: SoapTarget,
  action: string,
  args: readonly SoapArgument[],
  bounds: RequestBounds,
): Promise<Record<string, string>> {
  let answer: HttpAnswer;
  try {
    answer = await httpExchange(target.controlUrl, {
      method: 'POST',
      what: `UPnP ${action}`,
      headers: {
        'Content-Type': 'text/xml; charset="utf-8"',
        SOAPAction: `"${target.serviceType}#${action}"`,
      },
      body: soapEnvelope(target.serviceType, action, args),
      ...bounds,
    });
  } catch (error) {
    throw asGatewayError(error, action);
  }
  return parseSoapAnswer(action, answer.status, answer.body);
}

/** Cancellation passes through; anything else (timeout, socket error) becomes a UpnpError without code. */
export function asGatewayError(error: unknown, action: string): unknown {
  if (error instanceof AbortError || error instanceof ClosedError || error instanceof NatError) return error;
  if (error instanceof TimeoutError) {
    return new UpnpError(error.message, { action }, { cause: error, detail: error.detail });
  }
  return new UpnpError(`UPnP ${action}: ${toError(error).message}`, { action }, { cause: error });
}
