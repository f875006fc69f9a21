import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseAddress } from '../../src/transport/address.js';
import {
  addressGroup,
  canonicalHost,
  classifyAddress,
  classifyHost,
  isLocalScope,
  isRoutable,
  parseIPv4,
  parseIPv6,
} from '../../src/transport/ip.js';

const ID = 'ab'.repeat(20);

describe('parseIPv4', () => {
  it('parses strict dotted quads', () => {
    expect(parseIPv4('1.2.3.4')).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(parseIPv4('255.255.255.255')).toEqual(new Uint8Array([255, 255, 255, 255]));
    expect(parseIPv4('0.0.0.0')).toEqual(new Uint8Array([0, 0, 0, 0]));
  });

  it('rejects inet_aton shorthands and leading zeros, which resolvers would still turn into IPs', () => {
    for (const text of ['127.1', '127.0.1', '0x7f.0.0.1', '0177.0.0.1', '010.0.0.1', '2130706433', '1.2.3.256', '1.2.3.4.5', '', '1..2.3']) {
      expect(parseIPv4(text), text).toBeUndefined();
    }
  });

  it('accepts exactly what the dotted-quad grammar accepts (four octets 0-255, decimal, no leading zero)', () => {
    const grammar = /^(?:(?:0|[1-9]\d{0,2})\.){3}(?:0|[1-9]\d{0,2})$/;
    const byGrammar = (text: string): boolean => grammar.test(text) && text.split('.').every((part) => Number(part) <= 255);
    const nearlyIPv4 = fc.stringMatching(/^[0-9.x +-]{0,20}$/);
    fc.assert(
      fc.property(fc.oneof(nearlyIPv4, fc.ipV4(), fc.string()), (text) => {
        expect(parseIPv4(text) !== undefined, text).toBe(byGrammar(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('round-trips every IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        expect(Array.from(parseIPv4(text)!).join('.')).toBe(text);
      }),
    );
  });
});

describe('parseIPv6', () => {
  it('parses compressed, full and dotted-tail forms', () => {
    expect(parseIPv6('::1')).toEqual(new Uint8Array([...new Array(15).fill(0), 1]));
    expect(parseIPv6('::')).toEqual(new Uint8Array(16));
    expect(parseIPv6('2001:db8::8:800:200c:417a')?.[15]).toBe(0x7a);
    expect(parseIPv6('0:0:0:0:0:ffff:1.2.3.4')?.slice(10)).toEqual(new Uint8Array([0xff, 0xff, 1, 2, 3, 4]));
    expect(parseIPv6('::ffff:1.2.3.4')?.slice(12)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(parseIPv6('fe80::1%eth0')?.[0]).toBe(0xfe);
  });

  it('rejects malformed forms', () => {
    for (const text of ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':::', '12345::', 'g::1', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', 'fe80::1%']) {
      expect(parseIPv6(text), text).toBeUndefined();
    }
  });

  it('agrees with canonicalHost on every IPv6 address fast-check can write', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = parseIPv6(text);
        expect(bytes).toBeDefined();
        expect(parseIPv6(canonicalHost(text))).toEqual(bytes);
      }),
    );
  });
  it('agrees with the WHATWG URL parser on what is an IPv6 address and on its RFC 5952 form', () => {
    // parseIPv6 is written by hand (one pass: a peer's answer holds hundreds): checked against Node's
    // URL parser on strings of IPv6 characters, which are mostly almost-addresses.
    const ipv6ish = fc.oneof(
      fc.ipV6(),
      fc.string({ unit: fc.constantFrom('0', '1', 'f', 'F', 'a', '9', ':', ':', ':', '.', '2', '5'), maxLength: 45 }),
      fc.ipV6().chain((text) => fc.nat(text.length).map((cut) => text.slice(0, cut) + text.slice(cut + 1))),
    );
    fc.assert(
      fc.property(ipv6ish, (text) => {
        let expected: string | undefined;
        try {
          expected = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        } catch {
          expected = undefined;
        }
        const bytes = parseIPv6(text);
        expect(bytes === undefined ? undefined : canonicalHost(text), text).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('canonicalHost', () => {
  it('writes IPv6 in RFC 5952 form', () => {
    expect(canonicalHost('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalHost('2001:0DB8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalHost('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalHost('fe80:0::1%eth0')).toBe('fe80::1%eth0');
  });

  it('leaves IPv4 and names alone', () => {
    expect(canonicalHost('1.2.3.4')).toBe('1.2.3.4');
    expect(canonicalHost('seed.example.org')).toBe('seed.example.org');
  });
});

describe('classifyHost', () => {
  const cases: [string, string, string][] = [
    ['8.8.8.8', 'public', 'ipv4:8.8'],
    ['127.0.0.1', 'loopback', 'ipv4:127.0'],
    ['10.1.2.3', 'private', 'ipv4:10.1'],
    ['172.16.0.1', 'private', 'ipv4:172.16'],
    ['172.32.0.1', 'public', 'ipv4:172.32'],
    ['192.168.1.1', 'private', 'ipv4:192.168'],
    ['100.64.0.1', 'private', 'ipv4:100.64'],
    ['169.254.1.1', 'link-local', 'ipv4:169.254'],
    ['0.0.0.0', 'unspecified', 'ipv4:0.0'],
    ['224.0.0.1', 'multicast', 'ipv4:224.0'],
    ['255.255.255.255', 'reserved', 'ipv4:255.255'],
    ['192.0.2.1', 'reserved', 'ipv4:192.0'],
    ['198.18.0.1', 'reserved', 'ipv4:198.18'],
    ['2606:4700::1111', 'public', 'ipv6:26064700'],
    ['::1', 'loopback', 'ipv6:00000000'],
    ['::', 'unspecified', 'ipv6:00000000'],
    ['fe80::1', 'link-local', 'ipv6:fe800000'],
    ['fd00::1', 'private', 'ipv6:fd000000'],
    ['ff02::1', 'multicast', 'ipv6:ff020000'],
    ['2001:db8::1', 'reserved', 'ipv6:20010db8'],
    ['::ffff:127.0.0.1', 'loopback', 'ipv4:127.0'],
    ['::ffff:8.8.4.4', 'public', 'ipv4:8.8'],
    ['64:ff9b::10.0.0.1', 'private', 'ipv4:10.0'],
    ['2002:0808:0808::1', 'public', 'ipv4:8.8'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved', 'ipv4:192.0'], // RFC 4380's example: 192.0.2.45,
    ['seed.example.org', 'public', 'dns:example.org'],
    ['a.b.seed.example.org', 'public', 'dns:example.org'],
    ['localhost', 'loopback', 'dns:localhost'],
    ['app.localhost', 'loopback', 'dns:app.localhost'],
    ['relay', 'private', 'dns:relay'],
    ['printer.local', 'private', 'dns:printer.local'],
    ['node.test', 'reserved', 'dns:node.test'],
    ['127.1', 'invalid', 'dns:127.1'],
    ['0x7f000001', 'invalid', 'dns:0x7f000001'],
    ['2130706433', 'invalid', 'dns:2130706433'],
    ['bad_-.', 'invalid', 'dns:bad_-'],
    ['1::2::3', 'invalid', 'ipv6:1::2::3'],
  ];
  it.each(cases)('%s is %s in group %s', (host, scope, group) => {
    const result = classifyHost(host);
    expect(result.scope).toBe(scope);
    expect(result.group).toBe(group);
  });

  it('puts two IPv4 hosts in one group exactly when they share a /16', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV4(), (a, b) => {
        const same = a.split('.').slice(0, 2).join('.') === b.split('.').slice(0, 2).join('.');
        expect(classifyHost(a).group === classifyHost(b).group).toBe(same);
      }),
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        classifyHost(text);
      }),
    );
  });
});

describe('classifyAddress', () => {
  it('treats memory:// as loopback, one group per name', () => {
    const result = classifyAddress(parseAddress(`memory://${ID}@node-7`));
    expect(result).toMatchObject({ scope: 'loopback', group: 'memory:node-7' });
  });

  it('groups webrtc:// addresses by their relay', () => {
    const relay = 'cd'.repeat(20);
    expect(classifyAddress(parseAddress(`webrtc://${ID}?via=${relay}`))).toMatchObject({ scope: 'public', group: `webrtc:${relay}` });
    expect(addressGroup(parseAddress(`webrtc://${ID}`))).toBe('webrtc:-');
  });

  it('isRoutable is true only for public scope', () => {
    expect(isRoutable(parseAddress(`tcp://${ID}@8.8.8.8:26656`))).toBe(true);
    expect(isRoutable(parseAddress(`ws://${ID}@[2606:4700::1]:80/p`))).toBe(true);
    expect(isRoutable(parseAddress(`tcp://${ID}@127.0.0.1:26656`))).toBe(false);
    expect(isRoutable(parseAddress(`tcp://${ID}@192.168.0.9:26656`))).toBe(false);
  });

  it('isLocalScope admits only dialable non-public scopes', () => {
    expect(['private', 'loopback', 'link-local', 'reserved'].every((s) => isLocalScope(s as never))).toBe(true);
    expect(['public', 'unspecified', 'multicast', 'invalid'].some((s) => isLocalScope(s as never))).toBe(false);
  });
});
