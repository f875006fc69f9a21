import { ProtocolError } from '../errors.js';
import { isNodeId } from '../transport/address.js';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import { resolveDecodeLimits } from '../wire/config.js';
import { SIGNAL_MAX_CANDIDATE_CHARS, SIGNAL_MAX_MESSAGE_BYTES, SIGNAL_MAX_SDP_CHARS } from './constants.js';

/**
 * simple-peer's signal object, narrowed to what a data-channel-only connection needs:
 * an offer/answer with its SDP, or one trickled ICE candidate. Anything else (renegotiation,
 * transceiver requests) is refused.
 */
export type SignalData =
  | { type: 'offer' | 'answer'; sdp: string }
  | { type: 'candidate'; candidate: { candidate: string; sdpMLineIndex?: number | null; sdpMid?: string | null } };

/**
 * `signal`: one step of a WebRTC negotiation, from `from` to `to`. A relay overwrites `from` with the
 * id of the peer it got the message from (authenticated by the secure handshake), never trusting it.
 * `unreachable`: a relay's reply when it is not connected to `to`.
 */
export type SignalMessage =
  | { type: 'signal'; from: string; to: string; data: SignalData }
  | { type: 'unreachable'; to: string };

/** A signal is a map holding a map holding a map (the ICE candidate): three levels, a dozen fields. */
const SIGNAL_DECODE_LIMITS = resolveDecodeLimits({
  maxBytes: SIGNAL_MAX_MESSAGE_BYTES,
  maxDepth: 3,
  maxElements: 64,
  maxStringBytes: SIGNAL_MAX_MESSAGE_BYTES,
  maxBinaryBytes: 0,
});

export function encodeSignalMessage(message: SignalMessage): Uint8Array {
  return encodeMessage(message);
}

/** Decodes and validates; any deviation is a ProtocolError (which costs the sender its connection). */
export function decodeSignalMessage(bytes: Uint8Array): SignalMessage {
  const fail = (why: string): never => {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', `Invalid signalling message: ${why}`);
  };
  if (bytes.length > SIGNAL_MAX_MESSAGE_BYTES) {
    throw new ProtocolError('ERR_MESSAGE_TOO_LARGE', `Signalling message of ${bytes.length} bytes exceeds ${SIGNAL_MAX_MESSAGE_BYTES}`, {
      detail: { length: bytes.length, max: SIGNAL_MAX_MESSAGE_BYTES },
    });
  }
  const value = decodeMessage(bytes, SIGNAL_DECODE_LIMITS);
  if (!isPlainObject(value)) return fail('not a map');
  if (value['type'] === 'unreachable') {
    if (!isNodeId(value['to'])) fail('bad "to"');
    return { type: 'unreachable', to: value['to'] as string };
  }
  if (value['type'] !== 'signal') return fail('unknown type');
  const { from, to, data } = value;
  if (!isNodeId(from)) fail('bad "from"');
  if (!isNodeId(to)) fail('bad "to"');
  return { type: 'signal', from: from as string, to: to as string, data: validateSignalData(data) };
}

function validateSignalData(data: unknown): SignalData {
  const fail = (why: string): never => {
    throw new ProtocolError('ERR_MALFORMED_MESSAGE', `Invalid signal data: ${why}`);
  };
  if (!isPlainObject(data)) return fail('not a map');
  if (data['type'] === 'offer' || data['type'] === 'answer') {
    const sdp = data['sdp'];
    if (typeof sdp !== 'string' || sdp.length === 0 || sdp.length > SIGNAL_MAX_SDP_CHARS) fail(`sdp must be 1..${SIGNAL_MAX_SDP_CHARS} characters`);
    return { type: data['type'], sdp: sdp as string };
  }
  if (data['type'] === 'candidate') {
    const candidate = data['candidate'];
    if (!isPlainObject(candidate)) return fail('candidate is not a map');
    const line = candidate['candidate'];
    if (typeof line !== 'string' || line.length > SIGNAL_MAX_CANDIDATE_CHARS) fail(`candidate line must be ≤ ${SIGNAL_MAX_CANDIDATE_CHARS} characters`);
    const index = candidate['sdpMLineIndex'];
    const mid = candidate['sdpMid'];
    if (index !== undefined && index !== null && (!Number.isInteger(index) || (index as number) < 0 || (index as number) > 64)) fail('bad sdpMLineIndex');
    if (mid !== undefined && mid !== null && (typeof mid !== 'string' || mid.length > 64)) fail('bad sdpMid');
    const out: { candidate: string; sdpMLineIndex?: number | null; sdpMid?: string | null } = { candidate: line as string };
    if (index !== undefined) out.sdpMLineIndex = index as number | null;
    if (mid !== undefined) out.sdpMid = mid as string | null;
    return { type: 'candidate', candidate: out };
  }
  return fail('type must be offer, answer or candidate');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
