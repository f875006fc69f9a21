import { ProtocolError } from '../errors.js';
import { parseAddress } from '../transport/address.js';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import { resolveDecodeLimits } from '../wire/config.js';
import { PEX_MAX_ADDRESS_CHARS, PEX_MAX_ADDRESSES_PER_RESPONSE, PEX_MAX_MESSAGE_BYTES } from './constants.js';

/** A PEX message is a map of two fields, one of them a flat array of address strings. */
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
  let value: unknown;
  try {
    value = decodeMessage(bytes, PEX_DECODE_LIMITS);
  } catch (error) {
    throw error instanceof ProtocolError && peerId !== undefined ? error.withPeer(peerId) : error;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) fail('not a map');
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  switch (record['type']) {
    case 'pexRequest':
      if (keys.length !== 1) fail('pexRequest has extra fields');
      return { type: 'pexRequest' };
    case 'pexResponse': {
      if (keys.length !== 2 || !('addresses' in record)) fail('pexResponse must have exactly type and addresses');
      const addresses = record['addresses'];
      if (!Array.isArray(addresses)) fail('addresses is not an array');
      for (const address of addresses as unknown[]) {
        if (typeof address !== 'string') fail('an address is not a string');
        if ((address as string).length === 0 || (address as string).length > PEX_MAX_ADDRESS_CHARS) {
          fail(`an address is empty or longer than ${PEX_MAX_ADDRESS_CHARS} characters`);
        }
      }
      return { type: 'pexResponse', addresses: addresses as string[] };
    }
    default:
      return fail(typeof record['type'] === 'string' ? `unknown type "${String(record['type']).slice(0, 40)}"` : 'missing type');
  }
}

/**
 * The first address in a response that no honest peer would send: one that does not parse, names no
 * node, or names us (honest peers leave the asker's own addresses out). Undefined when all are fine.
 */
export function findInvalidAddress(
  addresses: readonly string[],
  ourNodeId: string | undefined,
  /** Addresses known to be fine without a parse (the book's own entries, which passed these checks). */
  knownValid?: (address: string) => boolean,
): { address: string; why: string } | undefined {
  for (const address of addresses) {
    if (knownValid?.(address) === true && (ourNodeId === undefined || !address.includes(ourNodeId))) continue;
    let nodeId: string | undefined;
    try {
      nodeId = parseAddress(address).nodeId;
    } catch {
      return { address, why: 'a malformed address' };
    }
    if (nodeId === undefined) return { address, why: 'an address without a node id' };
    if (nodeId === ourNodeId) return { address, why: 'our own node id' };
  }
  return undefined;
}
