import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { ProtocolError, decodeMessage, encodeMessage, resolveDecodeLimits } from '../../src/index.js';

/** The mempool's wire format (msgpack): one message, `{ tx: <1..MAX_TX_BYTES bytes> }`, on MempoolCh. */

/** The mempool's channel id, as in the original. */
export const MempoolCh = 0x30;
/** Largest transaction accepted or originated. */
export const MAX_TX_BYTES = 64 * 1024;
/** msgpack framing around the tx bytes: map header, the "tx" key and a bin32 header (~10 bytes), rounded up. */
export const TX_MESSAGE_OVERHEAD_BYTES = 64;

/** The only message on MempoolCh. */
export interface TxMessage {
  tx: Uint8Array;
}

/** Hex SHA-256 of the tx: its identity for de-duplication. */
export function txHash(tx: Uint8Array): string {
  return bytesToHex(sha256(tx));
}

export function encodeTxMessage(tx: Uint8Array): Uint8Array {
  return encodeMessage({ tx } satisfies TxMessage);
}

/** A TxMessage is `{ tx: <bytes> }`: one level, two elements. */
const TX_DECODE_LIMITS = resolveDecodeLimits({ maxBytes: MAX_TX_BYTES + TX_MESSAGE_OVERHEAD_BYTES, maxDepth: 1, maxElements: 2, maxStringBytes: 16, maxBinaryBytes: MAX_TX_BYTES });

/** Decodes and validates a TxMessage from a peer; anything else is a ProtocolError ERR_MALFORMED_MESSAGE. */
export function decodeTxMessage(bytes: Uint8Array, peerId?: string): TxMessage {
  const value = decodeMessage(bytes, TX_DECODE_LIMITS);
  const bad = (why: string): never => {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', `Malformed TxMessage: ${why}`, { peerId });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return bad('not a map');
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'tx') return bad('expected exactly one key, "tx"');
  const tx = (value as Record<string, unknown>)['tx'];
  if (!(tx instanceof Uint8Array)) return bad('tx is not bytes');
  if (tx.length === 0 || tx.length > MAX_TX_BYTES) return bad(`tx must be 1..${MAX_TX_BYTES} bytes, got ${tx.length}`);
  return { tx };
}
