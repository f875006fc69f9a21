import { ProtocolError } from '../errors.js';
import { parseAddress } from '../transport/address.js';
import { printable } from '../util/printable.js';
import { decodeMessageRawStrings, encodeMessage, utf8Text } from '../wire/codec.js';
import { resolveDecodeLimits } from '../wire/config.js';
import { PEX_MAX_ADDRESS_CHARS, PEX_MAX_ADDRESSES_PER_RESPONSE, PEX_MAX_MESSAGE_BYTES } from './constants.js';

/** A PEX message is a map of two fields, one of them a flat array of address strings; no binary. */
const PEX_DECODE_LIMITS = resolveDecodeLimits({
  maxBytes: PEX_MAX_MESSAGE_BYTES,
  maxDepth: 2,
  maxElements: 2 * 4 + PEX_MAX_ADDRESSES_PER_RESPONSE,
  maxStringBytes: 4 * PEX_MAX_ADDRESS_CHARS,
  maxBinaryBytes: 0,
});

/**
 * The PEX wire format: one msgpack map per message, tagged by `type`.
 *
 *   { type: 'pexRequest' }                              "send me some addresses"
 *   { type: 'pexResponse', addresses: string[] }        the answer (only to a request)
 *
 * Decoding is strict because the bytes come from an untrusted peer: any other key, type or shape is
 * a ProtocolError ERR_MALFORMED_MESSAGE. How many addresses, and which, is the agent's business (it
 * has the typed errors for those); the decoder only checks that each is a string of sane length.
 */
export type PexMessage = PexRequest | PexResponse;

export interface PexRequest {
  readonly type: 'pexRequest';
}

export interface PexResponse {
  readonly type: 'pexResponse';
  readonly addresses: readonly string[];
}

export function encodePexMessage(message: PexMessage): Uint8Array {
  if (message.type === 'pexRequest') return encodeMessage({ type: 'pexRequest' });
  return encodeMessage({ type: 'pexResponse', addresses: [...message.addresses] });
}

/** Throws ProtocolError ERR_MALFORMED_MESSAGE on anything but a well-formed PexMessage. */
export function decodePexMessage(bytes: Uint8Array, peerId?: string): PexMessage {
  const fail = (why: string): never => {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', `Malformed PEX message: ${why}`, { peerId });
  };
  try {
    // String values arrive as their bytes (the limits allow no binary, so every Uint8Array was a string).
    const value = decodeMessageRawStrings(bytes, PEX_DECODE_LIMITS);
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) fail('not a map');
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    const type = record['type'] instanceof Uint8Array ? utf8Text(record['type']) : undefined;
    switch (type) {
      case 'pexRequest':
        if (keys.length !== 1) fail('pexRequest has extra fields');
        return { type: 'pexRequest' };
      case 'pexResponse': {
        if (keys.length !== 2 || !('addresses' in record)) fail('pexResponse must have exactly type and addresses');
        const raw = record['addresses'];
        if (!Array.isArray(raw)) fail('addresses is not an array');
        const addresses = (raw as unknown[]).map((item) => {
          if (!(item instanceof Uint8Array)) return fail('an address is not a string');
          const address = utf8Text(item);
          if (address.length === 0 || address.length > PEX_MAX_ADDRESS_CHARS) fail(`an address is empty or longer than ${PEX_MAX_ADDRESS_CHARS} characters`);
          return address;
        });
        return { type: 'pexResponse', addresses };
      }
      default:
        // The peer's words reach reason.message, which apps print: printable, as a close reason's are.
        return fail(type === undefined ? 'missing type' : `unknown type "${printable(type.slice(0, 40))}"`);
    }
  } catch (error) {
    throw error instanceof ProtocolError && peerId !== undefined ? error.withPeer(peerId) : error;
  }
}

/**
 * Whether `address` names the node `nodeId` (40 lowercase hex characters). Only addresses that contain
 * the id, in any case, are parsed: a response of 250 addresses costs 250 substring checks.
 */
export function namesNode(address: string, nodeId: string): boolean {
  if (!address.includes(nodeId) && !(/[A-F]/.test(address) && address.toLowerCase().includes(nodeId))) return false;
  try {
    return parseAddress(address).nodeId === nodeId;
  } catch {
    return false;
  }
}
