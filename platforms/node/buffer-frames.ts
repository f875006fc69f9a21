import { useFrameViews } from '../../src/conn/secure-link-frame.js';

/**
 * A Buffer made as cheaply as a plain view: a Uint8Array subclass whose prototype is Buffer's, so that it
 * is a Buffer in every respect (`Buffer.isBuffer`, `instanceof Buffer`, Buffer's methods).
 * `Buffer.from(memory, offset, length)` would make one too, but first checks its arguments with a call
 * into C++: it cost about as much as the wrapping it saves.
 */
class FrameBuffer extends Uint8Array {}
Object.setPrototypeOf(FrameBuffer.prototype, Buffer.prototype);

/**
 * Sealed frames as Buffers: Node's sockets (`net`'s write, and `ws`'s send over it) take a Buffer as it
 * is, but wrap any other Uint8Array in a new Buffer for every write (a view, plus calls into the runtime
 * for its `buffer` and `byteOffset`).
 */
export function useBufferFrames(): void {
  useFrameViews(FrameBuffer);
}
