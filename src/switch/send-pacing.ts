/**
 * How fast a connection sends to a peer that announced how much it reads a second (NodeInfo
 * `recvBytesPerSecond`). A receiver past its limit stops reading; over TCP that only slows the sender,
 * but a page cannot stop a WebSocket or data channel from reading: it holds what keeps arriving, and
 * past its bound it cuts the sender (ERR_RATE_LIMIT). So the sender paces itself to what the receiver
 * announced, charged as the receiver charges it (src/conn/work-charge.ts).
 */

/**
 * Of the announced rate, the share we send at. Both buckets hold 100 ms (RATE_LIMIT_BURST_MS) but are
 * not in step, and the network or a busy event loop delivers what was paced out as one clump: the rest
 * keeps the receiver's bucket ahead of us, so what it holds while paused stays small and shrinks.
 */
export const PACED_SHARE_OF_ANNOUNCED_RATE = 0.9;
/**
 * The least we pace a peer to, whatever it announced. The announcement is the peer's word: one of a
 * byte a second must not keep what we queue for it (bounded anyway: each channel's sendQueueCapacity and
 * sendQueueCapacityBytes, the waiting sends, the node-wide peer memory budget) in memory for hours. At
 * 64 KiB/s a full default queue of 1 MiB drains in 16 s; a peer that reads less than it pays for that
 * with its own connection (paused, or it cuts us), never with our memory.
 */
export const MIN_PACED_SEND_RATE_BYTES_PER_SEC = 64 * 1024;

/**
 * The send rate of a connection to a peer that announced `announcedRecvBytesPerSec` (undefined or 0:
 * no limit), given ours (`ownSendRateBytesPerSec`, 0 = unlimited): the lower of ours and the paced
 * share of theirs, never below MIN_PACED_SEND_RATE_BYTES_PER_SEC because of them.
 */
export function pacedSendRate(ownSendRateBytesPerSec: number, announcedRecvBytesPerSec: number | undefined): number {
  if (announcedRecvBytesPerSec === undefined || !(announcedRecvBytesPerSec > 0)) return ownSendRateBytesPerSec;
  const paced = Math.max(MIN_PACED_SEND_RATE_BYTES_PER_SEC, Math.floor(announcedRecvBytesPerSec * PACED_SHARE_OF_ANNOUNCED_RATE));
  return ownSendRateBytesPerSec > 0 && ownSendRateBytesPerSec < paced ? ownSendRateBytesPerSec : paced;
}
