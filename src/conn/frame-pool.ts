import { AEAD_TAG_BYTES, FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD_BYTES } from '../crypto/constants.js';
import { BufferPool } from './buffer-pool.js';
import { FRAME_POOL_MAX_FREE_BUFFERS, FRAME_POOL_MIN_FRAME_BYTES } from './constants.js';

/**
 * Buffers for large sealed frames, reused once the link that wrote one says it let go of it (`write`'s
 * `onReleased`). A fresh 64 KiB buffer per frame costs more than its allocation: it is memory the cache
 * has not seen, and garbage the collector must find (docs/benchmarks.md has what reuse saved).
 * Process-wide, like the frame slab: a buffer is in the pool or held by one link's write, never both.
 */

/** Every pooled buffer holds a whole frame of the default (and usual) largest payload. */
export const POOLED_FRAME_BYTES = FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD_BYTES + AEAD_TAG_BYTES;

const framePool = new BufferPool(POOLED_FRAME_BYTES, FRAME_POOL_MAX_FREE_BUFFERS);

/**
 * A buffer for a frame of `bytes` from the pool when the size suits one (at least half a pooled buffer,
 * so a frame held by a socket never pins more than twice its size); undefined otherwise.
 */
export function takePooledFrame(bytes: number): Uint8Array | undefined {
  if (bytes < FRAME_POOL_MIN_FRAME_BYTES || bytes > POOLED_FRAME_BYTES) return undefined;
  return framePool.acquire().subarray(0, bytes);
}

/**
 * The `onReleased` to give the link that writes `frame` when its buffer can go back to the pool: any
 * buffer of the pooled size, wherever it came from, is one nobody holds once the link lets go of it.
 */
export function releaserOf(frame: Uint8Array): (() => void) | undefined {
  // byteOffset first: small frames lie inside the shared slab, and reading `buffer` is a runtime call.
  if (frame.byteOffset !== 0) return undefined;
  const { buffer } = frame;
  if (buffer.byteLength !== POOLED_FRAME_BYTES) return undefined;
  return () => framePool.release(new Uint8Array(buffer));
}

/** Buffers waiting in the pool now (tests). */
export function pooledFramesFree(): number {
  return framePool.freeCount;
}
