import type { Aead } from '../crypto/aead.js';
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, FRAME_HEADER_BYTES } from '../crypto/constants.js';
import { ProtocolError } from '../errors.js';
import { FRAME_SLAB_BYTES, FRAME_SLAB_MAX_FRAME_BYTES } from './constants.js';
import { takePooledFrame } from './frame-pool.js';

/**
 * Sealed frames, pure and I/O-free so they can be tested byte by byte:
 *
 * ```
 *  ┌──────────────────────┬───────────────────────────────────────────────┐
 *  │ u32be sealed length  │ ChaCha20-Poly1305(plaintext) = ciphertext|tag │
 *  └──────────────────────┴───────────────────────────────────────────────┘
 *  nonce = 00 00 00 00 | u64le frame counter (one counter per direction, from 0)
 * ```
 * Because each direction's nonce is implicit, a replayed, dropped, reordered or altered frame fails
 * to open: the stream is authenticated as a whole, not only frame by frame.
 */

// Beyond 2^53 the counter would stop being exact; reusing a nonce is the one unforgivable AEAD sin.
const MAX_FRAME_COUNTER = Number.MAX_SAFE_INTEGER;
const TWO_POW_32 = 2 ** 32;

/**
 * The nonce of the seal or open in progress, shared by every encoder and decoder of the process: it is
 * written right before one synchronous AEAD call and read by nothing else, so one buffer serves all
 * connections instead of a buffer and a view per direction per connection.
 */
const nonce = new Uint8Array(AEAD_NONCE_BYTES);
const nonceView = new DataView(nonce.buffer);

/** Returns the shared nonce for frame number `counter`. */
function nonceFor(counter: number): Uint8Array {
  nonceView.setUint32(4, counter >>> 0, true);
  nonceView.setUint32(8, Math.floor(counter / TWO_POW_32), true);
  return nonce;
}

/**
 * The shared slab's memory. Its views are made as `new Uint8Array(memory, start, length)`: ~40% fewer
 * instructions than `subarray()` on this V8, per frame sent.
 */
let frameSlab = new ArrayBuffer(0);
let frameSlabOffset = 0;
let frameSlabEnd = 0;

/** A frame's view of the slab: a Uint8Array, or its subclass the platform prefers (see `useFrameViews`). */
export type FrameViewConstructor = new (memory: ArrayBuffer, byteOffset: number, length: number) => Uint8Array;
let FrameView: FrameViewConstructor = Uint8Array;

/**
 * Small frames are made as `FrameView`s from now on, process-wide. Node's sockets take a Buffer as it is
 * and wrap any other Uint8Array in a new Buffer for every write: platforms/node makes them Buffers.
 */
export function useFrameViews(view: FrameViewConstructor): void {
  FrameView = view;
}

/** Where `bytes` (≤ FRAME_SLAB_MAX_FRAME_BYTES) of `frameSlab` are reserved for one frame. */
function reserveInSlab(bytes: number): number {
  if (frameSlabOffset + bytes > frameSlabEnd) {
    frameSlab = new ArrayBuffer(FRAME_SLAB_BYTES);
    frameSlabOffset = 0;
    frameSlabEnd = FRAME_SLAB_BYTES;
  }
  const start = frameSlabOffset;
  frameSlabOffset += bytes;
  return start;
}

function counterExhausted(): ProtocolError {
  return new ProtocolError('ERR_PROTOCOL', 'Frame counter exhausted: the connection must be re-established');
}

/** Seals plaintexts into frames for one direction. Not re-entrant; one per SecureLink. */
export class FrameEncoder {
  private counter = 0;

  constructor(
    private readonly aead: Aead,
    readonly maxPayloadBytes: number,
  ) {}

  /** Frames sealed so far; the next frame uses this as its nonce counter. */
  get framesSealed(): number {
    return this.counter;
  }

  /**
   * Returns `[length][sealed]`, ready for a single `link.write`; a small frame is a view into a buffer
   * shared with other frames, which nothing ever writes to again. Throws RangeError if
   * `plaintext` exceeds `maxPayloadBytes` (callers split first) and ProtocolError ERR_PROTOCOL when
   * the nonce space is used up.
   */
  encode(plaintext: Uint8Array): Uint8Array {
    if (plaintext.length > this.maxPayloadBytes) {
      throw new RangeError(`Frame payload of ${plaintext.length} bytes exceeds ${this.maxPayloadBytes}`);
    }
    if (this.counter >= MAX_FRAME_COUNTER) throw counterExhausted();
    const nonce = nonceFor(this.counter);
    this.counter++;
    const length = plaintext.length + AEAD_TAG_BYTES;
    const frameBytes = FRAME_HEADER_BYTES + length;
    const frame = frameBytes <= FRAME_SLAB_MAX_FRAME_BYTES ? this.sealSmall(nonce, plaintext, frameBytes) : this.sealLarge(nonce, plaintext, frameBytes);
    frame[0] = length >>> 24;
    frame[1] = (length >>> 16) & 0xff;
    frame[2] = (length >>> 8) & 0xff;
    frame[3] = length & 0xff;
    return frame;
  }

  /**
   * A frame cut from the shared slab (nobody else ever writes there); the sealed part gets a view of its
   * own, cheaper than the AEAD cutting one from the frame with subarray().
   */
  private sealSmall(nonce: Uint8Array, plaintext: Uint8Array, frameBytes: number): Uint8Array {
    const start = reserveInSlab(frameBytes);
    const frame = new FrameView(frameSlab, start, frameBytes);
    const sealed = new Uint8Array(frameSlab, start + FRAME_HEADER_BYTES, frameBytes - FRAME_HEADER_BYTES);
    if (this.aead.sealInto !== undefined) this.aead.sealInto(nonce, plaintext, sealed, 0);
    else sealed.set(this.aead.seal(nonce, plaintext));
    return frame;
  }

  /** A frame of its own: a reused buffer of the frame pool when its size suits one (see the constants). */
  private sealLarge(nonce: Uint8Array, plaintext: Uint8Array, frameBytes: number): Uint8Array {
    const frame = takePooledFrame(frameBytes) ?? new Uint8Array(frameBytes);
    if (this.aead.sealInto !== undefined) this.aead.sealInto(nonce, plaintext, frame, FRAME_HEADER_BYTES);
    else frame.set(this.aead.seal(nonce, plaintext), FRAME_HEADER_BYTES);
    return frame;
  }
}

export const FrameDecoderState = {
  /** Collecting the 4-byte length. */
  Header: 0,
  /** Collecting `sealedLength` bytes of ciphertext and tag. */
  Payload: 1,
  /** A protocol error was returned; every later push returns it again. */
  Failed: 2,
  /** `halt()` was called; input is ignored. */
  Halted: 3,
} as const;
export type FrameDecoderState = (typeof FrameDecoderState)[keyof typeof FrameDecoderState];

/** Receives one opened plaintext; the receiver owns it. */
export type FrameSink = (plaintext: Uint8Array) => void;

/**
 * Incremental decoder for one direction, in the manner of ws's Receiver: a state, a count of bytes
 * held, and "park until enough bytes". The declared length is checked against the cap as soon as
 * the 4 header bytes are in, so a peer can never make it hold more than
 * `FRAME_HEADER_BYTES + maxPayloadBytes + AEAD_TAG_BYTES` bytes. Frames that lie whole within one
 * chunk are opened where they lie, without copying; one that straddles chunks is gathered into one
 * buffer of its exact size and opened there. With an Aead that has `openInPlace` no other buffer is
 * made: `push` takes ownership of its chunk (as a Link's receiver does) and may overwrite it.
 *
 * `push` returns errors rather than throwing them. If `onFrame` throws, the decoder halts (the rest
 * of that chunk is lost, so the stream could not be trusted anyway) and the exception propagates.
 */
export class FrameDecoder {
  readonly maxSealedBytes: number;
  private stateValue: FrameDecoderState = FrameDecoderState.Header;
  /** The length header's bytes so far, big-endian, while it straddles chunks (no buffer per decoder). */
  private headerValue = 0;
  private headerFilled = 0;
  private sealedLength = 0;
  /** Allocated (exactly `sealedLength`) only when a frame straddles chunks. */
  private partial: Uint8Array | undefined;
  private partialFilled = 0;
  private counter = 0;
  private error: ProtocolError | undefined;

  constructor(
    private readonly aead: Aead,
    readonly maxPayloadBytes: number,
  ) {
    this.maxSealedBytes = maxPayloadBytes + AEAD_TAG_BYTES;
  }

  get state(): FrameDecoderState {
    return this.stateValue;
  }

  /** Bytes held for an incomplete frame; never above FRAME_HEADER_BYTES + maxSealedBytes. */
  get bufferedBytes(): number {
    return this.headerFilled + this.partialFilled;
  }

  /** Frames opened so far. */
  get framesOpened(): number {
    return this.counter;
  }

  /** Stops decoding, also in the middle of the current `push`. Later input is ignored. */
  halt(): void {
    if (this.stateValue === FrameDecoderState.Failed) return;
    this.stateValue = FrameDecoderState.Halted;
    this.release();
  }

  /** Feeds bytes; opened frames go to `onFrame` in order. Returns a ProtocolError once the stream is bad. */
  push(chunk: Uint8Array, onFrame: FrameSink): ProtocolError | undefined {
    const end = chunk.length;
    let offset = 0;
    // The chunk's memory, read once a push and only when a frame lies whole in it: its views are made
    // from it (a Node Buffer's subarray() builds another Buffer through its species, and `buffer` and
    // `byteOffset` are calls into the runtime).
    let memory: ArrayBufferLike | undefined;
    let memoryOffset = 0;
    while (offset < end) {
      const state = this.stateValue;
      if (state === FrameDecoderState.Header) {
        if (this.headerFilled === 0 && end - offset >= FRAME_HEADER_BYTES) {
          this.sealedLength = readUint32BE(chunk, offset);
          offset += FRAME_HEADER_BYTES;
        } else {
          while (this.headerFilled < FRAME_HEADER_BYTES && offset < end) {
            this.headerValue = this.headerValue * 256 + chunk[offset++]!;
            this.headerFilled++;
          }
          if (this.headerFilled < FRAME_HEADER_BYTES) return undefined;
          this.sealedLength = this.headerValue;
          this.headerFilled = 0;
          this.headerValue = 0;
        }
        const lengthError = this.checkLength(this.sealedLength);
        if (lengthError !== undefined) return this.fail(lengthError);
        this.stateValue = FrameDecoderState.Payload;
      } else if (state === FrameDecoderState.Payload) {
        let sealed: Uint8Array;
        let plaintext: Uint8Array | undefined;
        if (this.partial === undefined && end - offset >= this.sealedLength) {
          if (memory === undefined) {
            memory = chunk.buffer;
            memoryOffset = chunk.byteOffset;
          }
          sealed = new Uint8Array(memory, memoryOffset + offset, this.sealedLength);
          if (this.aead.openInPlace !== undefined) plaintext = new Uint8Array(memory, memoryOffset + offset, this.sealedLength - AEAD_TAG_BYTES);
          offset += this.sealedLength;
        } else {
          this.partial ??= new Uint8Array(this.sealedLength);
          const take = Math.min(this.sealedLength - this.partialFilled, end - offset);
          this.partial.set(chunk.subarray(offset, offset + take), this.partialFilled);
          this.partialFilled += take;
          offset += take;
          if (this.partialFilled < this.sealedLength) return undefined;
          sealed = this.partial;
          this.release();
        }
        this.stateValue = FrameDecoderState.Header;
        const openError = this.openAndEmit(sealed, plaintext, onFrame);
        if (openError !== undefined) return openError;
      } else {
        return this.error;
      }
    }
    return this.stateValue === FrameDecoderState.Failed ? this.error : undefined;
  }

  private checkLength(sealedLength: number): ProtocolError | undefined {
    if (sealedLength > this.maxSealedBytes) {
      return new ProtocolError('ERR_FRAME_TOO_LARGE', `Frame of ${sealedLength} sealed bytes exceeds the ${this.maxSealedBytes}-byte limit`, {
        detail: { sealedLength, maxSealedBytes: this.maxSealedBytes, frameIndex: this.counter },
      });
    }
    if (sealedLength < AEAD_TAG_BYTES) {
      return new ProtocolError('ERR_DECRYPT', `Frame of ${sealedLength} bytes is shorter than its ${AEAD_TAG_BYTES}-byte tag`, {
        detail: { sealedLength, frameIndex: this.counter },
      });
    }
    return undefined;
  }

  /** `into`: a view of the start of `sealed` for the plaintext, when the caller made one. */
  private openAndEmit(sealed: Uint8Array, into: Uint8Array | undefined, onFrame: FrameSink): ProtocolError | undefined {
    if (this.counter >= MAX_FRAME_COUNTER) return this.fail(counterExhausted());
    const nonce = nonceFor(this.counter);
    const aead = this.aead;
    const plaintext = aead.openInPlace === undefined ? aead.open(nonce, sealed) : aead.openInPlace(nonce, sealed, into);
    if (plaintext === undefined) {
      return this.fail(
        new ProtocolError('ERR_DECRYPT', 'Frame failed authentication (tampered, replayed or reordered)', {
          detail: { frameIndex: this.counter, sealedLength: sealed.length },
        }),
      );
    }
    this.counter++;
    try {
      onFrame(plaintext);
    } catch (error) {
      this.halt();
      throw error;
    }
    return undefined;
  }

  private fail(error: ProtocolError): ProtocolError {
    this.stateValue = FrameDecoderState.Failed;
    this.error = error;
    this.release();
    return error;
  }

  private release(): void {
    this.partial = undefined;
    this.partialFilled = 0;
    this.headerFilled = 0;
    this.headerValue = 0;
  }
}

function readUint32BE(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}
