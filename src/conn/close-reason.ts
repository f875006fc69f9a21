import {
  AbortError,
  ClosedError,
  MeshlinkError,
  RemoteCloseError,
  SendError,
  TimeoutError,
  TransportError,
  type ErrorCode,
} from '../errors.js';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import { resolveDecodeLimits } from '../wire/config.js';
import { MAX_CLOSE_REASON_BYTES } from '../wire/constants.js';
import { encodeClosePacket } from '../wire/packet.js';
import { printable } from '../util/printable.js';

/**
 * Why we cut a peer, told to it in a close packet before the link ends, so that it sees
 * `ERR_UNKNOWN_CHANNEL` (or whatever it did) instead of a bare reset. Only codes that describe the
 * peer's own conduct travel; a peer that names another code is reported as ERR_PROTOCOL.
 */
const TELLABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_MALFORMED_PACKET',
  'ERR_MALFORMED_MESSAGE',
  'ERR_UNKNOWN_CHANNEL',
  'ERR_MESSAGE_TOO_LARGE',
  'ERR_RATE_LIMIT',
  'ERR_SPOOFED_SENDER',
  'ERR_PROTOCOL',
  'ERR_PEX_REQUEST_TOO_SOON',
  'ERR_PEX_UNSOLICITED_RESPONSE',
  'ERR_PEX_TOO_MANY_ADDRESSES',
  'ERR_PEX_INVALID_ADDRESS',
  'ERR_BANNED',
  'ERR_PEER_LIMIT',
  'ERR_DUPLICATE_PEER',
  // We gave up waiting for our readers to take what the peer sent before it closed (see
  // MConnection.endHeldBack): its close would otherwise have looked clean to it.
  'ERR_TIMEOUT',
]);

/** Longest message text we send; the rest of the reason's bytes are msgpack framing and the code. */
const MAX_CLOSE_MESSAGE_CHARS = 200;
const CLOSE_REASON_DECODE_LIMITS = resolveDecodeLimits({
  maxBytes: MAX_CLOSE_REASON_BYTES,
  maxDepth: 1,
  maxElements: 4,
  maxStringBytes: MAX_CLOSE_REASON_BYTES,
  maxBinaryBytes: 0,
});

/**
 * The close packet to send before destroying a connection for `error`, or undefined when there is
 * nobody to tell or nothing to say: the link failed or timed out, we are stopping, or the remote told
 * us first. Anything else that is not a verdict on the peer's conduct (an agent's own exception, a
 * local usage error such as a SendError from a send inside `receive`) means only that we refused its
 * message: the peer learns that, not our internals.
 */
export function closePacketFor(error: Error | undefined): Uint8Array | undefined {
  if (error === undefined || error instanceof RemoteCloseError) return undefined;
  if (error instanceof ClosedError || error instanceof AbortError || error instanceof TimeoutError || error instanceof TransportError) return undefined;
  const verdict = error instanceof MeshlinkError && !(error instanceof SendError) && TELLABLE_CODES.has(error.code);
  const reason = verdict
    ? { code: error.code, message: error.message.slice(0, MAX_CLOSE_MESSAGE_CHARS) }
    : { code: 'ERR_PROTOCOL', message: 'a message was refused by the remote application' };
  return encodeClosePacket(encodeMessage(reason));
}

/**
 * A close packet telling a peer that ended its side that what it sent before was dropped (we are cut
 * off, or gave up waiting for our readers to take it): its close completes when we end ours, and told
 * nothing it would take that for delivery. Sent whatever `error` is, even one closePacketFor keeps to us.
 */
export function undeliveredClosePacket(error: Error | undefined): Uint8Array {
  const why = error?.message ?? 'closed';
  return encodeClosePacket(
    encodeMessage({
      code: error instanceof TimeoutError ? 'ERR_TIMEOUT' : 'ERR_PROTOCOL',
      message: `What you sent before closing was dropped: ${why}`.slice(0, MAX_CLOSE_MESSAGE_CHARS),
    }),
  );
}

/** The error our side reports when the peer closed with `reason` (hostile input: bounded, checked). */
export function remoteCloseError(reason: Uint8Array): RemoteCloseError {
  let code: unknown;
  let message: unknown;
  try {
    ({ code, message } = decodeMessage(reason, CLOSE_REASON_DECODE_LIMITS) as { code?: unknown; message?: unknown });
  } catch {
    // A garbled reason is still a close: report it without the peer's words.
  }
  const text = typeof message === 'string' ? printable(message.slice(0, MAX_CLOSE_MESSAGE_CHARS)) : '';
  const tellable = typeof code === 'string' && TELLABLE_CODES.has(code as ErrorCode);
  return new RemoteCloseError(tellable ? (code as ErrorCode) : 'ERR_PROTOCOL', `Peer closed the connection: ${text || 'no reason given'}`, {
    detail: { remoteMessage: text, ...(tellable ? {} : { remoteCode: typeof code === 'string' ? printable(code.slice(0, 64)) : undefined }) },
  });
}
