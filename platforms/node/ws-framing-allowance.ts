/**
 * What WebSocket framing may cost a peer's link beyond the bytes its messages carry: the wire bytes
 * read from the socket minus those. The receive rate limit and the receive turns see messages only,
 * and `ws` drops nothing a peer frames, so a message of 16,000 empty fragments, or a stream of empty
 * messages (which the link drops, as they carry no byte of the stream), cost parsing at line rate
 * outside every limit, also before the peer authenticates. An honest peer sends each message as one
 * frame of 2–14 header bytes (a browser may cut a large one into a few); never an empty one.
 */
/** Overhead any link may have: a socket read (64 KiB) of framing not yet handed on, and an HTTP head. */
export const WS_FRAMING_SLACK_BYTES = 64 * 1024;
/** Per non-empty message: a frame header several times over. */
export const WS_FRAMING_BYTES_PER_MESSAGE = 64;
/** Per byte carried: a browser cutting a message into fragments of 112 bytes or more stays within it. */
export const WS_FRAMING_SHARE_OF_PAYLOAD = 1 / 8;
/** Per second of the link's life: a proxy's heartbeats, the allowed pings' pongs. */
export const WS_FRAMING_BYTES_PER_SECOND = 1024;

export class FramingAllowance {
  private payloadBytes = 0;
  private messages = 0;
  private readonly wireBytesAtStart: number;
  private readonly startedAtMs = performance.now();

  constructor(private readonly wire: { readonly bytesRead: number }) {
    this.wireBytesAtStart = wire.bytesRead;
  }

  /**
   * A message of `bytes` arrived. Returns the framing read beyond the allowance (and that allowance),
   * or undefined while within it.
   */
  message(bytes: number): { overheadBytes: number; allowedBytes: number } | undefined {
    if (bytes > 0) {
      this.payloadBytes += bytes;
      this.messages++;
    }
    const overheadBytes = this.wire.bytesRead - this.wireBytesAtStart - this.payloadBytes;
    const untimed = WS_FRAMING_SLACK_BYTES + WS_FRAMING_BYTES_PER_MESSAGE * this.messages + this.payloadBytes * WS_FRAMING_SHARE_OF_PAYLOAD;
    // The clock is read only past the rest of the allowance: not once per message of an honest peer.
    if (overheadBytes <= untimed) return undefined;
    const allowedBytes = Math.floor(untimed + (WS_FRAMING_BYTES_PER_SECOND * (performance.now() - this.startedAtMs)) / 1000);
    return overheadBytes <= allowedBytes ? undefined : { overheadBytes, allowedBytes };
  }
}
