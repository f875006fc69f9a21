/** Packet kinds on the wire. One byte, first in every packet. */
export const PacketKind = {
  /** A message fragment; more fragments of the same message follow on this channel. */
  Msg: 0x01,
  /** The last (or only) fragment of a message. */
  MsgEnd: 0x02,
  Ping: 0x03,
  Pong: 0x04,
  /** The sender is closing the connection because of us, and says why (protocol 2). */
  Close: 0x05,
} as const;
export type PacketKind = (typeof PacketKind)[keyof typeof PacketKind];

/** kind(1) + channel(1) + payload length(2, big-endian). */
export const MSG_PACKET_HEADER_BYTES = 4;
/** Ping and pong are the kind byte alone. */
export const CONTROL_PACKET_BYTES = 1;
/** The length field is 16 bits. */
export const MAX_PACKET_PAYLOAD_BYTES_LIMIT = 0xffff;
export const MAX_CHANNEL_ID = 0xff;
/**
 * Close packet: kind(1) + reserved(1, zero) + reason length(2, big-endian) + reason. Same header shape
 * as a message packet; the reason (msgpack `{ code, message }`) is capped far below the 16-bit length.
 */
export const MAX_CLOSE_REASON_BYTES = 512;

/** Largest message `decodeMessage` accepts by default: the default channel recvMessageCapacity. */
export const DEFAULT_MAX_DECODE_BYTES = 1024 * 1024;
/** Deepest nesting accepted by default; no meshlink message nests deeper than 3. */
export const DEFAULT_MAX_DECODE_DEPTH = 16;
/** Array items plus map keys and values per message by default. */
export const DEFAULT_MAX_DECODE_ELEMENTS = 64 * 1024;
/** Upper bound for any decode limit a caller sets (the largest channel recvMessageCapacity). */
export const MAX_DECODE_BYTES_LIMIT = 64 * 1024 * 1024;
