import { ProtocolError } from '../errors.js';
import {
  CONTROL_PACKET_BYTES,
  MAX_CLOSE_REASON_BYTES,
  MSG_PACKET_HEADER_BYTES,
  PacketKind,
} from './constants.js';

/**
 * MConnection packets, written back to back inside the secure stream:
 *
 *   Msg / MsgEnd:  [kind u8][channel u8][length u16 BE][payload: length bytes]
 *   Ping / Pong:   [kind u8]
 *   Close:         [kind u8][0 u8][length u16 BE][reason: length ≤ MAX_CLOSE_REASON_BYTES bytes]
 *
 * Encoding is a pure function over a caller-owned buffer so that many packets can share one write.
 */

/** Writes a message packet at `offset`; returns the offset after it. The caller checks room. */
export function writeMsgPacket(
  target: Uint8Array,
  offset: number,
  channelId: number,
  payload: Uint8Array,
  payloadStart: number,
  payloadLength: number,
  isLast: boolean,
): number {
  target[offset] = isLast ? PacketKind.MsgEnd : PacketKind.Msg;
  target[offset + 1] = channelId;
  target[offset + 2] = payloadLength >>> 8;
  target[offset + 3] = payloadLength & 0xff;
  // The whole payload (the common case) is copied without creating a subarray view first.
  if (payloadStart === 0 && payloadLength === payload.length) target.set(payload, offset + MSG_PACKET_HEADER_BYTES);
  else target.set(payload.subarray(payloadStart, payloadStart + payloadLength), offset + MSG_PACKET_HEADER_BYTES);
  return offset + MSG_PACKET_HEADER_BYTES + payloadLength;
}

export function writeControlPacket(target: Uint8Array, offset: number, kind: typeof PacketKind.Ping | typeof PacketKind.Pong): number {
  target[offset] = kind;
  return offset + CONTROL_PACKET_BYTES;
}

/** Writes a close packet carrying `reason` (≤ MAX_CLOSE_REASON_BYTES, the caller checks). */
export function encodeClosePacket(reason: Uint8Array): Uint8Array {
  const out = new Uint8Array(MSG_PACKET_HEADER_BYTES + reason.length);
  out[0] = PacketKind.Close;
  out[2] = reason.length >>> 8;
  out[3] = reason.length & 0xff;
  out.set(reason, MSG_PACKET_HEADER_BYTES);
  return out;
}

export interface PacketHandler {
  /** A message fragment. `payload` is a view valid only during the call. */
  onMsgPacket(channelId: number, payload: Uint8Array, isLast: boolean): void;
  onPing(): void;
  onPong(): void;
  /** The peer is closing and says why; nothing after this packet is decoded. */
  onClosePacket?(reason: Uint8Array): void;
}

const enum DecoderState {
  Kind,
  Header,
  Payload,
  Failed,
}

/**
 * Streaming packet decoder: an explicit state machine in the manner of ws's Receiver. Packets may be
 * split across chunks at any byte. At most one partial packet is held (≤ 64 KiB + header), so memory is
 * bounded whatever the peer sends. A violation returns a ProtocolError and the decoder stays failed;
 * the decoder never throws on input.
 */
export class PacketDecoder {
  private state = DecoderState.Kind;
  // A header split across chunks is gathered into these numbers, not a buffer: an idle connection
  // then holds no buffer here at all.
  private headerKind = 0;
  private headerChannel = 0;
  private headerLength = 0;
  private headerFilled = 0;
  /** Allocated at its exact size only while a packet straddles chunks. */
  private payload: Uint8Array | undefined;
  private payloadFilled = 0;
  /** `suspend()` was called: no packet is handed on until `resume()`. */
  private suspended = false;
  /**
   * Input that arrived, or was left in its chunk, while suspended: a copy (the chunk is not ours), live
   * from `parkedStart` to `parkedEnd`. Suspended again while handing it on, the decoder only moves the
   * start, and input arriving while suspended is appended into room that grows by doubling: copying
   * the rest at each suspension cost O(n²) for a chunk of n tiny messages read one at a time.
   */
  private parked: Uint8Array | undefined;
  private parkedStart = 0;
  private parkedEnd = 0;

  constructor(private readonly handler: PacketHandler) {}

  /**
   * Stops handing packets on at once, also in the middle of the chunk being decoded: the owner's
   * reader paused (a full inbox), and a chunk can hold thousands of packets. The rest is kept.
   */
  suspend(): void {
    this.suspended = true;
  }

  /** Hands on what was kept since `suspend()` (which may suspend again). Returns push()'s result. */
  resume(): ProtocolError | undefined {
    this.suspended = false;
    const parked = this.parked;
    if (parked === undefined) return undefined;
    this.parked = undefined;
    return this.decode(parked.subarray(0, this.parkedEnd), this.parkedStart, true);
  }

  /** Input kept since `suspend()` that no packet handler has seen yet. */
  get hasParked(): boolean {
    return this.parked !== undefined;
  }

  /** Bytes held for an incomplete packet. */
  get bufferedBytes(): number {
    return this.state === DecoderState.Payload ? this.payloadFilled : this.headerFilled;
  }

  /**
   * Feeds bytes; calls the handler for each complete packet. Returns an error on a malformed packet
   * (and ignores all later input), or undefined. Errors thrown by the handler propagate unchanged.
   */
  push(chunk: Uint8Array): ProtocolError | undefined {
    return this.decode(chunk, 0, false);
  }

  /** `owned`: `chunk` is the parked copy being handed on, which may be parked again as it is. */
  private decode(chunk: Uint8Array, start: number, owned: boolean): ProtocolError | undefined {
    if (this.suspended) {
      this.park(chunk, start, owned);
      return undefined;
    }
    let offset = start;
    const length = chunk.length;
    while (offset < length) {
      // One flag test per packet, no allocation: set from inside a handler call of this loop.
      if (this.suspended) {
        this.park(chunk, offset, owned);
        return undefined;
      }
      switch (this.state) {
        case DecoderState.Kind: {
          const kind = chunk[offset]!;
          if (kind === PacketKind.Ping) {
            offset += 1;
            this.handler.onPing();
          } else if (kind === PacketKind.Pong) {
            offset += 1;
            this.handler.onPong();
          } else if (kind === PacketKind.Close) {
            this.beginHeader(kind);
            offset += 1;
          } else if (kind === PacketKind.Msg || kind === PacketKind.MsgEnd) {
            // Fast path: a whole packet inside this chunk is handed over without copying.
            if (length - offset >= MSG_PACKET_HEADER_BYTES) {
              const payloadLength = (chunk[offset + 2]! << 8) | chunk[offset + 3]!;
              if (payloadLength === 0 && kind === PacketKind.Msg) return this.failEmptyFragment();
              const start = offset + MSG_PACKET_HEADER_BYTES;
              if (length - start >= payloadLength) {
                offset = start + payloadLength;
                this.handler.onMsgPacket(chunk[start - 3]!, chunk.subarray(start, start + payloadLength), kind === PacketKind.MsgEnd);
                continue;
              }
            }
            this.beginHeader(kind);
            offset += 1;
          } else {
            this.state = DecoderState.Failed;
            return new ProtocolError('ERR_MALFORMED_PACKET', `Unknown packet kind 0x${kind.toString(16).padStart(2, '0')}`, {
              detail: { kind },
            });
          }
          break;
        }
        case DecoderState.Header: {
          const byte = chunk[offset++]!;
          const filled = ++this.headerFilled;
          if (filled === 2) this.headerChannel = byte;
          else if (filled === 3) this.headerLength = byte << 8;
          else if (filled === MSG_PACKET_HEADER_BYTES) {
            const payloadLength = this.headerLength | byte;
            this.headerLength = payloadLength;
            if (this.headerKind === PacketKind.Close && payloadLength > MAX_CLOSE_REASON_BYTES) {
              this.state = DecoderState.Failed;
              return new ProtocolError('ERR_MALFORMED_PACKET', `Close reason of ${payloadLength} bytes exceeds ${MAX_CLOSE_REASON_BYTES}`, {
                detail: { length: payloadLength, limit: MAX_CLOSE_REASON_BYTES },
              });
            }
            if (payloadLength === 0 && this.headerKind === PacketKind.Msg) return this.failEmptyFragment();
            // 16-bit length: the cap is structural, so no separate size check is needed here.
            this.payload = new Uint8Array(payloadLength);
            this.payloadFilled = 0;
            this.state = DecoderState.Payload;
            if (payloadLength === 0) this.completePayload();
          }
          break;
        }
        case DecoderState.Payload: {
          const payload = this.payload!;
          const take = Math.min(payload.length - this.payloadFilled, length - offset);
          payload.set(chunk.subarray(offset, offset + take), this.payloadFilled);
          this.payloadFilled += take;
          offset += take;
          if (this.payloadFilled === payload.length) this.completePayload();
          break;
        }
        case DecoderState.Failed:
          return undefined;
      }
    }
    return undefined;
  }

  private park(chunk: Uint8Array, offset: number, owned: boolean): void {
    if (this.state === DecoderState.Failed || offset >= chunk.length) return;
    const parked = this.parked;
    if (parked === undefined && owned) {
      this.parked = chunk;
      this.parkedStart = offset;
      this.parkedEnd = chunk.length;
      return;
    }
    const length = chunk.length - offset;
    if (parked === undefined || this.parkedEnd + length > parked.length) {
      const live = parked === undefined ? 0 : this.parkedEnd - this.parkedStart;
      const grown = new Uint8Array(Math.max(live + length, 2 * live));
      if (parked !== undefined) grown.set(parked.subarray(this.parkedStart, this.parkedEnd));
      this.parked = grown;
      this.parkedStart = 0;
      this.parkedEnd = live;
    }
    // A copy (a Buffer's slice() is a view, and the chunk is the caller's to reuse).
    this.parked!.set(chunk.subarray(offset), this.parkedEnd);
    this.parkedEnd += length;
  }

  /**
   * A fragment that is not a message's last carries at least a byte (a sender splits only what is
   * left): an empty one moves no message forward, is counted by no byte limit, and a peer could send
   * them without end at a handler call per 4 bytes.
   */
  private failEmptyFragment(): ProtocolError {
    this.state = DecoderState.Failed;
    return new ProtocolError('ERR_MALFORMED_PACKET', 'Empty message fragment that is not the last of its message');
  }

  private beginHeader(kind: number): void {
    this.state = DecoderState.Header;
    this.headerKind = kind;
    this.headerFilled = 1;
  }

  private completePayload(): void {
    const payload = this.payload!;
    this.payload = undefined;
    this.payloadFilled = 0;
    this.headerFilled = 0;
    if (this.headerKind === PacketKind.Close) {
      this.state = DecoderState.Failed; // the last packet a peer sends: ignore anything after it
      this.handler.onClosePacket?.(payload);
      return;
    }
    this.state = DecoderState.Kind;
    this.handler.onMsgPacket(this.headerChannel, payload, this.headerKind === PacketKind.MsgEnd);
  }
}
