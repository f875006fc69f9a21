import type { Socket } from 'node:net';
import { ProtocolError } from '../../src/errors.js';
import { WebSocketLink, type WebSocketLike } from '../../src/transport/websocket-link.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../../src/util/token-bucket.js';
import { FramingAllowance } from './ws-framing-allowance.js';

/**
 * Messages up to this size are sent as one buffer of their own (see NodeWebSocketLink); larger ones go
 * through `ws` as they are, without a copy. Buffer's pool serves allocations up to this size.
 */
export const WS_WHOLE_FRAME_MAX_BYTES = 4 * 1024;
const FIN_BINARY = 0x82;
const MASK_BIT = 0x80;
const MAX_7_BIT_LENGTH = 125;
const LENGTH_16_BIT = 126;

/**
 * WebSocket pings and pongs a peer may send at once, and then a second. Nothing of meshlink sends
 * either (the keep-alive is MConnection's, inside the sealed stream; a page's WebSocket cannot ping,
 * and we never ping, so an honest pong never comes): this leaves room for a proxy's or another
 * client's heartbeat. Unbounded, a peer (also one that never authenticates) had us answer pings
 * in bursts just under `ws`'s pending-pong cap, a write to the socket each, or parse pongs by the
 * million, outside the receive rate limit and the receive turns, which see only messages.
 */
export const WS_CONTROL_FRAMES_BURST = 16;
export const WS_CONTROL_FRAMES_PER_SECOND = 2;

/** The `ws` socket's own events for control frames, which a browser's WebSocket hides. */
export type NodeWebSocket = WebSocketLike & {
  on(event: 'ping' | 'pong', listener: () => void): unknown;
  on(event: 'message', listener: (data: Uint8Array) => void): unknown;
};

/**
 * A WebSocketLink over a `ws` socket that writes each small message to the TCP (or TLS) socket as one
 * whole WebSocket frame: the header and a copy of the message in one buffer, one write. `ws` sends an
 * unmasked (or zero-masked) message as two buffers, its header and ours, which Node's stream turns into
 * a corked, buffered `writev`: about 3k more instructions and 1 KiB more garbage a round trip than the
 * copy of a sealed frame of a few hundred bytes. Our frames are whole writes and `ws`'s own (pongs, its
 * close) are too, all synchronous on one socket, so they never interleave; we send no text and no
 * compressed messages, the only ones `ws` would hold back in a queue of its own.
 */
export class NodeWebSocketLink extends WebSocketLink {
  private readonly controlFrames: TokenBucketState = fullBucket(WS_CONTROL_FRAMES_BURST, performance.now());
  private readonly framing: FramingAllowance;

  constructor(
    socket: NodeWebSocket,
    remoteAddress: string,
    /** The socket `ws` writes its frames to. */
    private readonly wire: Socket,
    /** A client's frames carry the mask bit and a zero key (see the dialer's `zeroMask`); a server's none. */
    private readonly masked: boolean,
  ) {
    super(socket, remoteAddress);
    this.framing = new FramingAllowance(wire);
    socket.on('ping', this.onControlFrame);
    socket.on('pong', this.onControlFrame);
    // After the link's own listener: an empty message has been dropped, any other taken.
    socket.on('message', this.onMessageFramed);
  }

  /** A message arrived (empty ones too): its framing within the allowance, or the peer is cut. */
  private readonly onMessageFramed = (data: Uint8Array): void => {
    const over = this.framing.message(data.length);
    if (over === undefined || this.closed) return;
    this.destroy(
      new ProtocolError('ERR_RATE_LIMIT', `WebSocket ${this.remoteAddress} sent ${over.overheadBytes} bytes of framing beyond what its messages carry (allowed: ${over.allowedBytes})`, {
        detail: over,
      }),
    );
  };

  /** A ping (which `ws` has answered) or a pong: within the allowance, or the peer is cut. */
  private readonly onControlFrame = (): void => {
    if (refillBucket(this.controlFrames, WS_CONTROL_FRAMES_BURST, WS_CONTROL_FRAMES_PER_SECOND / 1000, performance.now())) {
      this.controlFrames.tokens -= 1;
      return;
    }
    this.destroy(
      new ProtocolError('ERR_RATE_LIMIT', `WebSocket ${this.remoteAddress} sent pings or pongs past ${WS_CONTROL_FRAMES_BURST} at once and ${WS_CONTROL_FRAMES_PER_SECOND} a second`, {
        detail: { burst: WS_CONTROL_FRAMES_BURST, perSecond: WS_CONTROL_FRAMES_PER_SECOND },
      }),
    );
  };

  protected override send(chunk: Uint8Array, onReleased: (() => void) | undefined): void {
    const length = chunk.length;
    if (length > WS_WHOLE_FRAME_MAX_BYTES) return super.send(chunk, onReleased);
    const keyBytes = this.masked ? 4 : 0;
    const header = (length > MAX_7_BIT_LENGTH ? 4 : 2) + keyBytes;
    const frame = Buffer.allocUnsafe(header + length);
    const maskBit = this.masked ? MASK_BIT : 0;
    frame[0] = FIN_BINARY;
    if (length > MAX_7_BIT_LENGTH) {
      frame[1] = LENGTH_16_BIT | maskBit;
      frame[2] = length >>> 8;
      frame[3] = length & 0xff;
    } else {
      frame[1] = length | maskBit;
    }
    if (keyBytes !== 0) frame.fill(0, header - keyBytes, header);
    frame.set(chunk, header);
    this.wire.write(frame);
    // Copied: the link holds nothing of the caller's chunk.
    onReleased?.();
  }
}
