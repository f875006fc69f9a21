/** NAT-PMP (RFC 6886) encode/decode against hand-written hex vectors, and the default-route parser. */
import { describe, expect, it } from 'vitest';
import {
  NatPmpDecodeError,
  decodeResponse,
  encodeExternalAddressRequest,
  encodeMappingRequest,
  parseDefaultGateway,
} from '../../platforms/node/nat-pmp/codec.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

describe('NAT-PMP codec', () => {
  it('encodes the external address request', () => {
    expect(hex(encodeExternalAddressRequest())).toBe('0000');
  });

  it('encodes mapping requests: TCP opcode 2, UDP opcode 1, big-endian ports and lifetime', () => {
    expect(hex(encodeMappingRequest({ protocol: 'TCP', internalPort: 26656, suggestedExternalPort: 26656, lifetimeSeconds: 3600 })))
      .toBe('0002' + '0000' + '6820' + '6820' + '00000e10');
    expect(hex(encodeMappingRequest({ protocol: 'UDP', internalPort: 1, suggestedExternalPort: 65535, lifetimeSeconds: 0xffffffff })))
      .toBe('0001' + '0000' + '0001' + 'ffff' + 'ffffffff');
    // deletion: lifetime 0, suggested external port 0
    expect(hex(encodeMappingRequest({ protocol: 'TCP', internalPort: 30001, suggestedExternalPort: 0, lifetimeSeconds: 0 })))
      .toBe('0002000075310000' + '00000000');
  });

  it('refuses out-of-range fields instead of truncating them', () => {
    expect(() => encodeMappingRequest({ protocol: 'TCP', internalPort: 65536, suggestedExternalPort: 0, lifetimeSeconds: 1 })).toThrow(RangeError);
    expect(() => encodeMappingRequest({ protocol: 'TCP', internalPort: 1, suggestedExternalPort: -1, lifetimeSeconds: 1 })).toThrow(RangeError);
    expect(() => encodeMappingRequest({ protocol: 'TCP', internalPort: 1, suggestedExternalPort: 0, lifetimeSeconds: 2 ** 32 })).toThrow(RangeError);
  });

  it('decodes an external address response', () => {
    expect(decodeResponse(bytes('00 80 0000 0000012c 0b000001'))).toEqual({
      version: 0, opcode: 0, resultCode: 0, epochSeconds: 300, externalIp: '11.0.0.1',
    });
    // result 3 (network failure) with the address zeroed
    expect(decodeResponse(bytes('00 80 0003 00000001 00000000'))).toMatchObject({ resultCode: 3, externalIp: '0.0.0.0' });
  });

  it('decodes mapping responses, TCP and UDP', () => {
    expect(decodeResponse(bytes('00 82 0000 00000010 7531 7532 00000e10'))).toEqual({
      version: 0, opcode: 2, resultCode: 0, epochSeconds: 16, protocol: 'TCP', internalPort: 30001, externalPort: 30002, lifetimeSeconds: 3600,
    });
    expect(decodeResponse(bytes('00 81 0000 00000010 0035 0035 00000000'))).toMatchObject({ opcode: 1, protocol: 'UDP', internalPort: 53, externalPort: 53, lifetimeSeconds: 0 });
  });

  it('decodes every RFC result code, even from a header-only error answer', () => {
    for (const code of [1, 2, 3, 4, 5]) {
      expect(decodeResponse(bytes(`00 82 000${code} 00000010 7531 0000 00000000`))).toMatchObject({ resultCode: code, opcode: 2 });
      expect(decodeResponse(bytes(`00 82 000${code} 00000010`))).toMatchObject({ resultCode: code, opcode: 2, externalPort: 0 });
    }
    // a gateway speaking another version answers with its own version and result 1
    expect(decodeResponse(bytes('02 80 0001 00000010'))).toMatchObject({ version: 2, resultCode: 1 });
    // unsupported opcode: the header echoes our opcode + 128
    expect(decodeResponse(bytes('00 85 0005 00000010'))).toMatchObject({ opcode: 5, resultCode: 5 });
  });

  it('rejects what is not a NAT-PMP response', () => {
    expect(() => decodeResponse(bytes('0080'))).toThrow(NatPmpDecodeError);
    expect(() => decodeResponse(bytes('0002 0000 6820 6820 00000e10'))).toThrow(/request, not a response/);
    expect(() => decodeResponse(bytes('00 80 0000 0000012c 0b00'))).toThrow(/12 bytes/);
    expect(() => decodeResponse(bytes('00 82 0000 00000010 7531 7532'))).toThrow(/16 bytes/);
    expect(() => decodeResponse(bytes('01 80 0000 0000012c 0b000001'))).toThrow(/version 1/);
  });
});

describe('parseDefaultGateway (/proc/net/route)', () => {
  const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
  it('picks the up gateway route to 0.0.0.0/0 with the lowest metric; addresses are little-endian hex', () => {
    const table = [
      HEADER,
      'eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
      'eth0\t00000000\t014DA8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
      '',
    ].join('\n');
    expect(parseDefaultGateway(table)).toBe('192.168.77.1');
  });

  it('finds none without a default route, or when it is down or has no gateway', () => {
    expect(parseDefaultGateway(HEADER)).toBeUndefined();
    expect(parseDefaultGateway(`${HEADER}\neth0\t00000000\t014DA8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0`)).toBeUndefined();
    expect(parseDefaultGateway(`${HEADER}\neth0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0`)).toBeUndefined();
  });
});
