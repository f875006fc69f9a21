import { useFrameViews, type FrameViewConstructor } from '../../src/conn/secure-link-frame.js';

/**
 * A Buffer made as cheaply as a plain view: a Uint8Array subclass whose prototype is Buffer's, so that it
 * is a Buffer in every respect (`Buffer.isBuffer`, `instanceof Buffer`, Buffer's methods).
 * `Buffer.from(memory, offset, length)` would make one too, but first checks its arguments with a call
 * into C++: it cost about as much as the wrapping it saves.
 *
 * The class is made nameless on purpose. A build that keeps names (esbuild's `keepNames`, which tsx
 * and many bundlers turn on) redefines a named class's `name`, which puts the constructor's properties
 * in dictionary mode; V8 (11.3, Node 20) then aborts every optimization of a function that constructs
 * a typed-array subclass whose constructor is in that mode ("dependency change"), recompiles it
 * again and again, and runs the seal path unoptimized: +25 µs of CPU per ws round trip across
 * processes (test/conn/frame-buffer-optimizes.test.ts).
 */
const FrameBuffer = ((): FrameViewConstructor => class extends Uint8Array {})();
Object.setPrototypeOf(FrameBuffer.prototype, Buffer.prototype);

/**
 * Sealed frames as Buffers: Node's sockets (`net`'s write, and `ws`'s send over it) take a Buffer as it
 * is, but wrap any other Uint8Array in a new Buffer for every write (a view, plus calls into the runtime
 * for its `buffer` and `byteOffset`).
 */
export function useBufferFrames(): void {
  useFrameViews(FrameBuffer);
}
