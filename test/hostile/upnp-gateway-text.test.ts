/**
 * A hostile UPnP gateway (anyone on the LAN can answer our SSDP search with a LOCATION of its own)
 * sending XML built to make a backtracking parser go quadratic. Every answer is capped at
 * MAX_UPNP_RESPONSE_BYTES; these fill it. A real HTTP server on 127.0.0.1; the event loop's longest
 * stall while the mapper reads each answer is measured with a timer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_UPNP_RESPONSE_BYTES, xmlChildren, xmlElements, xmlText } from '../../platforms/node/upnp/soap.js';
import { UpnpPortMapper } from '../../platforms/node/upnp/index.js';

/**
 * Longest stall we accept from reading one answer. The backtracking parser took 0.9–7 s per answer
 * here; a linear one takes a few ms, so this is far from both.
 */
const STALL_LIMIT_MS = 500;

const SERVICE = 'urn:schemas-upnp-org:service:WANIPConnection:1';
const GOOD_DESCRIPTION =
  '<?xml version="1.0"?><root><device><friendlyName>hostile</friendlyName><serviceList><service>' +
  `<serviceType>${SERVICE}</serviceType><controlURL>/ctl</controlURL></service></serviceList></device></root>`;

/** `piece` repeated to fill the answer cap around `prefix` and `suffix`. */
function filled(prefix: string, piece: string, suffix: string): string {
  const room = MAX_UPNP_RESPONSE_BYTES - prefix.length - suffix.length - 64;
  return prefix + piece.repeat(Math.floor(room / piece.length)) + suffix;
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Serves `description` at /rootDesc.xml and `soapAnswer` (status 200) to every POST. */
async function hostileGateway(description: string, soapAnswer = ''): Promise<string> {
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'Content-Type': 'text/xml' }).end(request.method === 'GET' ? description : soapAnswer));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/rootDesc.xml`;
}

/**
 * Asks a mapper pointed at `location` for the external address (whatever the outcome) and reports
 * the longest gap between ticks of a 5 ms timer meanwhile.
 */
async function stallAskingExternalIp(location: string): Promise<number> {
  const mapper = new UpnpPortMapper({ location, requestTimeoutMs: 20_000 });
  let last = performance.now();
  let stallMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 5);
  try {
    await mapper.externalIp().catch(() => undefined);
    return Math.max(stallMs, performance.now() - last);
  } finally {
    clearInterval(ticker);
    await mapper.close();
  }
}

describe('a hostile UPnP gateway cannot stall the event loop with its XML', () => {
  const descriptions: Array<[string, string]> = [
    ['opening <service> tags that never close', filled('<root>', '<service>', '</root>')],
    ['<service tags whose attributes never end', filled('<root>', '<service ', '</root>')],
    ['a <friendlyName> of unterminated CDATA sections', filled('<root><friendlyName>', '<![CDATA[', '</friendlyName></root>')],
  ];
  for (const [what, description] of descriptions) {
    it(`description of ${what}: read in linear time`, async () => {
      expect(await stallAskingExternalIp(await hostileGateway(description)), 'longest event-loop stall (ms)').toBeLessThan(STALL_LIMIT_MS);
    });
  }

  it('SOAP answer of child tags whose attributes never end: read in linear time', async () => {
    const answer = filled('<s:Envelope><s:Body><u:GetExternalIPAddressResponse>', '<a ', '</u:GetExternalIPAddressResponse></s:Body></s:Envelope>');
    expect(await stallAskingExternalIp(await hostileGateway(GOOD_DESCRIPTION, answer)), 'longest event-loop stall (ms)').toBeLessThan(STALL_LIMIT_MS);
  });
});

describe('the XML helpers keep their meaning', () => {
  it('elements by local name, any prefix, attributes, self-closing, first closing tag, CDATA and entities', () => {
    const xml = '<r><a:svc x="1">one</b:svc ><svc/><svcType>no</svcType><svc >t<![CDATA[w&amp;]]>o &amp; &#x41;</svc><svc>open';
    expect(xmlElements(xml, 'svc')).toEqual(['one', '', 't<![CDATA[w&amp;]]>o &amp; &#x41;']);
    expect(xmlText(xml, 'svcType')).toBe('no');
    expect(xmlText('<x><svc> <![CDATA[a<b]]> &lt;&#66; </svc></x>', 'svc')).toBe('a<b <B');
    expect(xmlText('<x><svc>1</svc>', 'missing')).toBeUndefined();
  });

  it('children: text-only elements by local name; nested, mismatched or unclosed ones are skipped', () => {
    expect(xmlChildren('<u:A>1</u:A><B x="y">two &amp;</v:B><C/><D><E>5</E></D><F>6</G><H>7')).toEqual({ A: '1', B: 'two &', C: '', E: '5' });
  });
});
