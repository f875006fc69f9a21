/**
 * The UPnP mapper's protocol handling against a scripted gateway on loopback (no root needed):
 * SOAP faults and their codes, IGDv1/IGDv2 service choice, fallbacks (725, 401), bounded waits,
 * close(). The real-gateway behaviour is in upnp-gateway.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError } from '../../src/errors.js';
import { NatError, UpnpError } from '../../src/nat/index.js';
import { MAX_UPNP_RESPONSE_BYTES, parseDeviceDescription, parseSoapAnswer, soapEnvelope, xmlChildren } from '../../platforms/node/upnp/soap.js';
import { UpnpPortMapper } from '../../platforms/node/upnp/index.js';
import { heapUsedBytes } from '../hostile/harness.js';
import { FakeGateway, fault, type Answer } from './helpers/fake-gateway.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(igd: 1 | 2, options: { requestTimeoutMs?: number } = {}): Promise<{ gateway: FakeGateway; mapper: UpnpPortMapper }> {
  const gateway = new FakeGateway(igd);
  const location = await gateway.listen();
  const mapper = new UpnpPortMapper({ location, requestTimeoutMs: options.requestTimeoutMs ?? 2000 });
  cleanups.push(() => gateway.close(), () => mapper.close());
  return { gateway, mapper };
}

const request = { protocol: 'TCP' as const, internalPort: 26656, ttlSeconds: 3600, description: 'meshlink' };

describe('UPnP SOAP and description parsing', () => {
  it('reads the UPnP error code and description from a SOAP fault (which nat-upnp reports as "Request failed: 500")', () => {
    const error = (() => {
      try {
        parseSoapAnswer('AddPortMapping', 500, fault(718, 'ConflictInMappingEntry'));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UpnpError);
    expect(error).toMatchObject({ code: 'ERR_NAT', reason: 'refused', action: 'AddPortMapping', upnpCode: 718, upnpDescription: 'ConflictInMappingEntry', httpStatus: 500 });
  });

  it("keeps a hostile gateway's description printable and short: no terminal escapes or forged lines in warnings", () => {
    const told = `\u001b[2J\u001b]0;pwned\u0007\nnat: mapped 1.2.3.4${'x'.repeat(1000)}`;
    expect(() => parseSoapAnswer('AddPortMapping', 500, fault(718, told))).toThrow(UpnpError);
    try {
      parseSoapAnswer('AddPortMapping', 500, fault(718, told));
    } catch (error) {
      const { message, upnpDescription } = error as UpnpError & { upnpDescription: string };
      for (const text of [message, upnpDescription]) {
        expect(text).not.toMatch(/\p{Cc}/u);
        expect(text).toContain('nat: mapped 1.2.3.4');
        expect(text.length).toBeLessThan(300);
      }
    }
  });

  it('names a known code when the gateway sends no description, and reports an HTTP error without a fault as gateway-error', () => {
    expect(() => parseSoapAnswer('AddPortMapping', 500, fault(606, ''))).toThrow(/606 \(ActionNotAuthorized\)/);
    try {
      parseSoapAnswer('DeletePortMapping', 503, '<html>busy</html>');
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ reason: 'gateway-error', upnpCode: undefined, httpStatus: 503 });
    }
    expect(() => parseSoapAnswer('GetExternalIPAddress', 200, '<nonsense/>')).toThrow(/no GetExternalIPAddressResponse/);
  });

  it('prefers WANIPConnection:2, then :1, then WANPPPConnection:1, resolving control URLs against URLBase', () => {
    const xml = `<root><URLBase>http://10.0.0.1:49152/</URLBase><device><serviceList>
      <service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>/ppp</controlURL></service>
      <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>ip1</controlURL></service>
      <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>http://10.0.0.1:5555/ip2</controlURL></service>
      <service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><controlURL>/l3f</controlURL></service>
    </serviceList></device></root>`;
    expect(parseDeviceDescription(xml, 'http://10.0.0.1:1900/desc.xml').services).toEqual([
      { serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:2', controlUrl: 'http://10.0.0.1:5555/ip2' },
      { serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:1', controlUrl: 'http://10.0.0.1:49152/ip1' },
      { serviceType: 'urn:schemas-upnp-org:service:WANPPPConnection:1', controlUrl: 'http://10.0.0.1:49152/ppp' },
    ]);
  });

  it('keeps one service of each type, and no control URL longer than MAX_CONTROL_URL_CHARS, from a description full of them', () => {
    const service = (path: string): string =>
      `<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>${path}</controlURL></service>`;
    // What a LAN device can fit in one description (256 KiB): a 100,000-char control URL first, then 1,200 services.
    const xml = `<root><device><serviceList>${service(`/${'a'.repeat(100_000)}`)}${Array.from({ length: 1200 }, (_, i) => service(`/ip${i}`)).join('')}</serviceList></device></root>`;
    expect(xml.length).toBeLessThan(MAX_UPNP_RESPONSE_BYTES);
    const { services } = parseDeviceDescription(xml, 'http://10.0.0.1:1900/desc.xml');
    expect(services).toEqual([{ serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:1', controlUrl: 'http://10.0.0.1:1900/ip0' }]);
  });

  it('escapes arguments in the envelope and decodes entities and empty elements in answers', () => {
    const envelope = soapEnvelope('urn:x', 'AddPortMapping', [['NewPortMappingDescription', `a<b>&"c'`]]);
    expect(envelope).toContain('<NewPortMappingDescription>a&lt;b&gt;&amp;&quot;c&apos;</NewPortMappingDescription>');
    expect(xmlChildren('<NewRemoteHost/><NewPortMappingDescription>x &amp; y &#65;</NewPortMappingDescription>')).toEqual({
      NewRemoteHost: '',
      NewPortMappingDescription: 'x & y A',
    });
  });
});

describe('UpnpPortMapper against a scripted gateway on loopback', () => {
  it('IGDv1: maps with AddPortMapping, forwarding to our address on the connection to the gateway', async () => {
    const { gateway, mapper } = await setup(1);
    expect(await mapper.gateway()).toMatchObject({ igdVersion: 1, serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:1', localAddress: '127.0.0.1', friendlyName: 'fake & gateway' });
    expect(await mapper.externalIp()).toBe('8.8.4.7');
    const mapping = await mapper.map({ ...request, description: 'mesh <link>' });
    expect(mapping).toMatchObject({ externalPort: 26656, internalHost: '127.0.0.1', internalPort: 26656, ttlSeconds: 3600 });
    const add = gateway.calls.find((c) => c.action === 'AddPortMapping')!;
    expect(add.args).toMatchObject({ NewExternalPort: '26656', NewInternalClient: '127.0.0.1', NewLeaseDuration: '3600', NewPortMappingDescription: 'mesh <link>' });
    expect(add.body).toContain('mesh &lt;link&gt;');
    expect(gateway.descriptionFetches).toBe(1); // discovered once, then cached
  });

  it('IGDv1: on 718 for the wanted port, maps a random unprivileged port instead', async () => {
    const { gateway, mapper } = await setup(1);
    gateway.override['GetSpecificPortMappingEntry'] = () => ({ fault: 714 }); // the lookup can't see the conflict
    gateway.override['AddPortMapping'] = (args) => (args['NewExternalPort'] === '26656' ? { fault: 718, description: 'ConflictInMappingEntry' } : undefined);
    const mapping = await mapper.map(request);
    expect(mapping.externalPort).not.toBe(26656);
    expect(mapping.externalPort).toBeGreaterThanOrEqual(1024);
  });

  it('IGDv2: lets the gateway choose a free port with AddAnyPortMapping', async () => {
    const { gateway, mapper } = await setup(2);
    gateway.entries.set('26656/TCP', { externalPort: 26656, protocol: 'TCP', internalClient: '10.9.9.9', internalPort: 1, description: 'other', lease: 0 });
    gateway.override['GetSpecificPortMappingEntry'] = () => ({ fault: 714 });
    const mapping = await mapper.map(request);
    expect(mapping.externalPort).toBe(26657);
    expect(gateway.calls.filter((c) => c.action.startsWith('Add')).map((c) => c.action)).toEqual(['AddAnyPortMapping']);
  });

  it('IGDv2 without AddAnyPortMapping (401): falls back to AddPortMapping and remembers', async () => {
    const { gateway, mapper } = await setup(2);
    gateway.override['AddAnyPortMapping'] = () => ({ fault: 401, description: 'Invalid Action' });
    await mapper.map(request);
    await mapper.map({ ...request, internalPort: 4000 });
    expect(gateway.calls.filter((c) => c.action.startsWith('Add')).map((c) => c.action)).toEqual(['AddAnyPortMapping', 'AddPortMapping', 'AddPortMapping']);
  });

  it('725 OnlyPermanentLeasesSupported: asks again for a permanent mapping', async () => {
    const { gateway, mapper } = await setup(1);
    gateway.override['AddPortMapping'] = (args) => (args['NewLeaseDuration'] !== '0' ? { fault: 725, description: 'OnlyPermanentLeasesSupported' } : undefined);
    expect(await mapper.map(request)).toMatchObject({ externalPort: 26656, ttlSeconds: 0 });
  });

  it('never asks for a port held by another mapping: refuses with 718 itself (miniupnpd would re-point it)', async () => {
    const { gateway, mapper } = await setup(1);
    gateway.entries.set('26656/TCP', { externalPort: 26656, protocol: 'TCP', internalClient: '127.0.0.1', internalPort: 7000, description: 'other program', lease: 0 });
    const error = await mapper.map({ ...request, exactExternalPort: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ upnpCode: 718, detail: { heldBy: '127.0.0.1:7000', checkedBeforeAsking: true } });
    const granted = await mapper.map(request);
    expect(granted.externalPort).not.toBe(26656);
    expect(gateway.calls.filter((c) => c.action === 'AddPortMapping').map((c) => c.args['NewExternalPort'])).toEqual([String(granted.externalPort)]);
    expect(gateway.entries.get('26656/TCP')).toMatchObject({ internalPort: 7000 });
  });

  it('exactExternalPort: reports the refusal instead of trying other ports', async () => {
    const { gateway, mapper } = await setup(1);
    gateway.override['AddPortMapping'] = () => ({ fault: 718, description: 'ConflictInMappingEntry' });
    await expect(mapper.map({ ...request, exactExternalPort: true })).rejects.toMatchObject({ upnpCode: 718 });
    expect(gateway.calls.filter((c) => c.action === 'AddPortMapping')).toHaveLength(1);
  });

  it('unmap() with the internal port removes only an entry that still forwards to us', async () => {
    const { gateway, mapper } = await setup(1);
    gateway.entries.set('5000/TCP', { externalPort: 5000, protocol: 'TCP', internalClient: '10.9.9.9', internalPort: 5000, description: 'other', lease: 0 });
    expect(await mapper.unmap({ protocol: 'TCP', externalPort: 5000, internalPort: 5000 })).toBe(false);
    expect(gateway.entries.has('5000/TCP')).toBe(true);
    await mapper.map(request);
    expect(await mapper.unmap({ protocol: 'TCP', externalPort: 26656, internalPort: 26656 })).toBe(true);
    expect(await mapper.unmap({ protocol: 'TCP', externalPort: 26656 })).toBe(false); // 714: already gone
  });

  it('list() returns the table, and rejects on a gateway error instead of returning [] like nat-upnp', async () => {
    const { gateway, mapper } = await setup(1);
    await mapper.map(request);
    expect(await mapper.list()).toEqual([expect.objectContaining({ externalPort: 26656, internalHost: '127.0.0.1', description: 'meshlink' })]);
    gateway.override['GetGenericPortMappingEntry'] = () => ({ fault: 501, description: 'Action Failed' });
    await expect(mapper.list()).rejects.toMatchObject({ upnpCode: 501 });
  });

  it("list() of a gateway whose entries carry 80 KiB texts keeps 200 printable characters of each, not the answers", { timeout: 30_000 }, async () => {
    const { gateway, mapper } = await setup(1);
    const ENTRIES = 256;
    const long = `\u001b[2J${'x'.repeat(80 * 1024)}`;
    gateway.override['GetGenericPortMappingEntry'] = (args): Answer => {
      const index = Number(args['NewPortMappingIndex']);
      if (index >= ENTRIES) return { fault: 713, description: 'SpecifiedArrayIndexInvalid' };
      return { NewRemoteHost: long, NewExternalPort: String(2000 + index), NewProtocol: 'TCP', NewInternalPort: '26656', NewInternalClient: long, NewEnabled: '1', NewPortMappingDescription: long, NewLeaseDuration: '0' };
    };
    const before = heapUsedBytes();
    const list = await mapper.list!();
    const retainedMiB = (heapUsedBytes() - before) / 2 ** 20;
    expect(list).toHaveLength(ENTRIES);
    for (const text of [list[0]!.description, list[0]!.internalHost, list[0]!.remoteHost]) expect(text).toBe(`\ufffd[2J${'x'.repeat(196)}`);
    // Before: each entry's texts whole (3 × 80 KiB, control characters and all), 60 MiB for the list.
    expect(retainedMiB, 'heap the list holds (MiB)').toBeLessThan(8);
  });

  it('a gateway that never answers: rejects with a gateway-error after requestTimeoutMs, then discovers again', async () => {
    const { gateway, mapper } = await setup(1, { requestTimeoutMs: 300 });
    gateway.override['GetExternalIPAddress'] = () => 'hang';
    const t0 = Date.now();
    const error = await mapper.externalIp().catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(error).toBeInstanceOf(UpnpError);
    expect(error).toMatchObject({ reason: 'gateway-error', upnpCode: undefined, message: expect.stringMatching(/timed out after 300 ms/) });
    delete gateway.override['GetExternalIPAddress'];
    expect(await mapper.externalIp()).toBe('8.8.4.7');
    expect(gateway.descriptionFetches).toBe(2);
  });

  it('close() cancels a request in flight and refuses later calls', async () => {
    const { gateway, mapper } = await setup(1);
    gateway.override['GetExternalIPAddress'] = () => 'hang';
    const pending = mapper.externalIp();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await mapper.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    await expect(mapper.map(request)).rejects.toBeInstanceOf(ClosedError);
  });

  it('an unreachable description is "no-gateway"', async () => {
    const gateway = new FakeGateway(1);
    const location = await gateway.listen();
    await gateway.close();
    const mapper = new UpnpPortMapper({ location, requestTimeoutMs: 1000 });
    const error = await mapper.externalIp().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NatError);
    expect(error).toMatchObject({ code: 'ERR_NAT', reason: 'no-gateway' });
    await mapper.close();
  });
});
