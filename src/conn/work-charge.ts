import { RECV_CHUNK_MIN_CHARGE_BYTES, RECV_MESSAGE_MIN_CHARGE_BYTES } from './constants.js';

/**
 * How a receive rate limit charges what it reads, in one place for both ends: the Receiver charges its
 * own bucket by it, and a Sender paced to the rate its peer announced charges its bucket the same way.
 * Paced by bytes alone, a sender of small messages at the announced rate was charged several times that
 * by the receiver (each message at least 128 B), which then held what kept arriving until it cut the
 * sender.
 */

/**
 * What `bytes` read in `frames` sealed frames (or chunks, on a link that does not count frames) cost:
 * their size, and at least RECV_CHUNK_MIN_CHARGE_BYTES per frame.
 */
export function framesCharge(bytes: number, frames: number): number {
  const floor = frames * RECV_CHUNK_MIN_CHARGE_BYTES;
  return bytes > floor ? bytes : floor;
}

/**
 * What one whole message of `bytes` adds to the charge of the frame it came in: what it falls short of
 * RECV_MESSAGE_MIN_CHARGE_BYTES.
 */
export function messageSurcharge(bytes: number): number {
  return bytes < RECV_MESSAGE_MIN_CHARGE_BYTES ? RECV_MESSAGE_MIN_CHARGE_BYTES - bytes : 0;
}
