/**
 * NAT-PMP (RFC 6886) messages: pure encode/decode, no I/O. All integers are big-endian.
 *
 *   external address request   version(0) opcode(0)                                                   2 bytes
 *   external address response  version(0) opcode(128) result(u16) epoch(u32) address(4)             12 bytes
 *   mapping request            version(0) opcode(1 UDP|2 TCP) reserved(u16) internal(u16)
 *                              suggested external(u16) lifetime(u32)                                12 bytes
 *   mapping response           version(0) opcode(128+op) result(u16) epoch(u32) internal(u16)
 *                              mapped external(u16) lifetime(u32)                                   16 bytes
 *
 * A mapping request with lifetime 0 (and suggested external port 0) deletes the mapping of that
 * internal port (section 3.4).
 */
import type { MappingProtocol } from '../../../src/nat/port-mapper.js';

/** UDP port the gateway listens on (section 3.1). */
export const NAT_PMP_PORT = 5351;
export const NAT_PMP_VERSION = 0;
export const OPCODE_EXTERNAL_ADDRESS = 0;
export const OPCODE_MAP_UDP = 1;
export const OPCODE_MAP_TCP = 2;
/** A response's opcode is the request's plus 128. */
export const RESPONSE_OPCODE_OFFSET = 128;
export const MAX_LIFETIME_SECONDS = 0xffffffff;

export function opcodeFor(protocol: MappingProtocol): number {
  return protocol === 'UDP' ? OPCODE_MAP_UDP : OPCODE_MAP_TCP;
}

export function encodeExternalAddressRequest(): Uint8Array {
  return Uint8Array.of(NAT_PMP_VERSION, OPCODE_EXTERNAL_ADDRESS);
}

export interface MappingRequestFields {
  protocol: MappingProtocol;
  internalPort: number;
  /** 0 = no preference (and the required value for a deletion). */
  suggestedExternalPort: number;
  /** 0 deletes. */
  lifetimeSeconds: number;
}

export function encodeMappingRequest(fields: MappingRequestFields): Uint8Array {
  checkUint(fields.internalPort, 0xffff, 'internalPort');
  checkUint(fields.suggestedExternalPort, 0xffff, 'suggestedExternalPort');
  checkUint(fields.lifetimeSeconds, MAX_LIFETIME_SECONDS, 'lifetimeSeconds');
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, NAT_PMP_VERSION);
  view.setUint8(1, opcodeFor(fields.protocol));
  view.setUint16(2, 0); // reserved
  view.setUint16(4, fields.internalPort);
  view.setUint16(6, fields.suggestedExternalPort);
  view.setUint32(8, fields.lifetimeSeconds);
  return bytes;
}

/** What every response starts with. */
export interface ResponseHeader {
  version: number;
  /** The request's opcode (the response's minus 128). */
  opcode: number;
  resultCode: number;
  /** Seconds since the gateway's port-mapping table was (re)initialized. */
  epochSeconds: number;
}

export interface ExternalAddressResponse extends ResponseHeader {
  /** Dotted quad; '0.0.0.0' when the gateway has none. */
  externalIp: string;
}

export interface MappingResponse extends ResponseHeader {
  protocol: MappingProtocol;
  internalPort: number;
  externalPort: number;
  lifetimeSeconds: number;
}

export type Response = ExternalAddressResponse | MappingResponse;

/** Why a datagram is not a NAT-PMP response: the caller ignores it (or reports it as a gateway error). */
export class NatPmpDecodeError extends Error {
  override readonly name = 'NatPmpDecodeError';
}

/**
 * Decodes a response. A non-zero result code still decodes (with whatever fields the datagram
 * has: section 3.5 lets a gateway send only the header with an error), so the caller can report it.
 * Throws NatPmpDecodeError for anything that is not a NAT-PMP version 0 response.
 */
export function decodeResponse(datagram: Uint8Array): Response {
  if (datagram.length < 8) throw new NatPmpDecodeError(`A NAT-PMP response has at least 8 bytes, got ${datagram.length}`);
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const version = view.getUint8(0);
  const rawOpcode = view.getUint8(1);
  if (rawOpcode < RESPONSE_OPCODE_OFFSET) throw new NatPmpDecodeError(`Opcode ${rawOpcode} is a request, not a response`);
  const opcode = rawOpcode - RESPONSE_OPCODE_OFFSET;
  const header: ResponseHeader = { version, opcode, resultCode: view.getUint16(2), epochSeconds: view.getUint32(4) };
  // A gateway that doesn't speak version 0 answers with its own version and result 1: keep it decodable.
  if (version !== NAT_PMP_VERSION && header.resultCode === 0) throw new NatPmpDecodeError(`NAT-PMP version ${version} is not 0`);
  if (opcode === OPCODE_EXTERNAL_ADDRESS) {
    if (datagram.length < 12) {
      if (header.resultCode !== 0) return { ...header, externalIp: '' };
      throw new NatPmpDecodeError(`An external address response has 12 bytes, got ${datagram.length}`);
    }
    const externalIp = `${view.getUint8(8)}.${view.getUint8(9)}.${view.getUint8(10)}.${view.getUint8(11)}`;
    return { ...header, externalIp };
  }
  if (opcode === OPCODE_MAP_UDP || opcode === OPCODE_MAP_TCP) {
    const protocol: MappingProtocol = opcode === OPCODE_MAP_UDP ? 'UDP' : 'TCP';
    if (datagram.length < 16) {
      if (header.resultCode !== 0) return { ...header, protocol, internalPort: 0, externalPort: 0, lifetimeSeconds: 0 };
      throw new NatPmpDecodeError(`A mapping response has 16 bytes, got ${datagram.length}`);
    }
    return { ...header, protocol, internalPort: view.getUint16(8), externalPort: view.getUint16(10), lifetimeSeconds: view.getUint32(12) };
  }
  // Unknown opcodes (e.g. an "unsupported opcode" echo) keep only the header.
  return { ...header, externalIp: '' };
}

function checkUint(value: number, max: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${name} must be an integer in 0..${max}, got ${String(value)}`);
}

/**
 * The IPv4 default gateway from Linux's /proc/net/route text: the lowest-metric up route to
 * 0.0.0.0/0 with RTF_GATEWAY. Addresses there are hex in host (little-endian) byte order.
 */
export function parseDefaultGateway(routeTable: string): string | undefined {
  let best: { gateway: string; metric: number } | undefined;
  for (const line of routeTable.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) continue;
    const [, destination, gatewayHex, flagsHex, , , metricText, mask] = cols as [string, string, string, string, string, string, string, string];
    const flags = Number.parseInt(flagsHex, 16);
    const RTF_UP = 0x1;
    const RTF_GATEWAY = 0x2;
    if (destination !== '00000000' || mask !== '00000000' || (flags & RTF_UP) === 0 || (flags & RTF_GATEWAY) === 0) continue;
    if (!/^[0-9A-Fa-f]{8}$/.test(gatewayHex)) continue;
    const value = Number.parseInt(gatewayHex, 16);
    const gateway = [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff].join('.');
    const metric = Number(metricText);
    if (best === undefined || metric < best.metric) best = { gateway, metric };
  }
  return best?.gateway;
}
