/** MConnection defaults. Units are in the names; arithmetic shows where a number comes from. */

/** Largest payload of one packet; a message is split into packets of this size. */
export const DEFAULT_MAX_PACKET_PAYLOAD_BYTES = 16 * 1024;
/**
 * Most bytes packed into one write to the link (one sealed frame). Large batches make the AEAD and
 * the socket efficient; the flush happens as soon as the queues drain, so a lone message is not held.
 */
export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024;
/**
 * Batch buffers kept for reuse, process-wide, when the link seals each batch into a frame of its own
 * before `write` returns (a SecureLink): one per flush in progress, and flushes do not overlap unless
 * a link calls back synchronously, so a couple are enough.
 */
export const BATCH_POOL_MAX_FREE_BUFFERS = 4;
/**
 * Sealed frames up to this size are carved from a shared slab instead of each getting an ArrayBuffer
 * of its own (a backing store costs about a microsecond, and garbage); a slab is never rewritten, only
 * replaced when full, so a frame the socket still holds stays intact.
 */
export const FRAME_SLAB_MAX_FRAME_BYTES = 2 * 1024;
/** A small frame still held by a socket keeps at most this much memory alive. */
export const FRAME_SLAB_BYTES = 32 * 1024;
/**
 * Sealed frames from this size up to a whole 64 KiB frame are written from reused buffers when the link
 * tells when it lets go of one (Node's TCP and `ws`); half a buffer, so a frame held by a socket pins at
 * most twice its size.
 */
export const FRAME_POOL_MIN_FRAME_BYTES = 32 * 1024;
/** Pooled frame buffers kept idle, process-wide (≤ 8 × 64 KiB). */
export const FRAME_POOL_MAX_FREE_BUFFERS = 8;
/**
 * Batches one flush writes before the rest waits for the next turn of the event loop (≤ 256 KiB at the
 * default batch size). A deep queue then cannot hold the loop for all of it (64 MiB would take a few
 * hundred ms) while other peers, timers and reads wait, and the links' write callbacks, which Node runs
 * between turns, hand the frame pool's buffers back while they are still in the cache. Measured in
 * docs/benchmarks.md: the ws bulk sender's CPU per 64 KiB message fell by about a fifth.
 */
export const MAX_BATCHES_PER_FLUSH = 4;
/** Stop packing new batches while the link holds this many unsent bytes; resume on drain. */
export const DEFAULT_LINK_HIGH_WATER_BYTES = 128 * 1024;

export const DEFAULT_PING_INTERVAL_MS = 60 * 1000;
/** Must be shorter than the ping interval. */
export const DEFAULT_PONG_TIMEOUT_MS = 45 * 1000;
/** How long `send()` waits for room in a full channel queue before resolving false. */
export const DEFAULT_SEND_TIMEOUT_MS = 10 * 1000;
/** How long a graceful close may spend flushing before the link is destroyed. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5 * 1000;
/** After a close packet telling a peer why we cut it: how long it may take to read it and hang up. */
export const CLOSE_REASON_LINGER_MS = 2 * 1000;

/** 0 = unlimited. */
export const DEFAULT_SEND_RATE_BYTES_PER_SEC = 0;
export const DEFAULT_RECV_RATE_BYTES_PER_SEC = 0;
/** Token-bucket depth: how much a rate-limited link may burst, as time at the configured rate. */
export const RATE_LIMIT_BURST_MS = 100;
/**
 * The least the receive rate limit charges for each chunk a connection reads (one sealed frame over a
 * SecureLink), whatever its size. A chunk costs a read, an AEAD open and a decoder pass before its first
 * byte: ~1 µs packed behind others in one TCP read, ~8 µs alone in its read (bench/cpu-per-byte.ts),
 * what ~1 KiB of honest 1 KiB messages costs (3–6 µs per KiB). At wire size, a peer sending one-byte
 * messages in frames of their own (25 bytes each) made us spend 40–120 times the CPU per byte that
 * `recvRateBytesPerSec` was set for.
 */
export const RECV_CHUNK_MIN_CHARGE_BYTES = 1024;
/**
 * The least the receive rate limit charges for each whole message delivered: a handler call, an inbox
 * slot or a promise per message (0.13 µs to a push agent, 0.4 µs through a pull inbox, 0.8 µs to an
 * async receive), ~128 bytes of honest traffic. An empty message is 4 bytes on the wire, so 16,000 of
 * them fit in one 64 KiB frame.
 */
export const RECV_MESSAGE_MIN_CHARGE_BYTES = 128;

/**
 * Work the connections that take turns (ReceiveTurns) hand on in one round of the event loop together,
 * counted as the receive rate limit counts it: ~2,000 tiny messages or 256 KiB of large ones, 2–6 ms of
 * CPU with the app's decoding. Each gets an equal part of it, so a light peer, and the app's own timers
 * and readers, wait about this long behind a round however many keys flood.
 */
export const RECV_ROUND_BYTES = 256 * 1024;
/**
 * The least a connection hands on in its turn: each turn costs a pause and a resume of its link (a few
 * µs), ~8 tiny messages' worth; at this size, ~64 tiny messages or one 8 KiB message a turn.
 */
export const RECV_TURN_MIN_BYTES = 8 * 1024;
/**
 * A turn ends at its quantum only once the round has lasted this long (ReceiveTurns): the most a light
 * peer waits before the turns begin, and about the CPU a busy connection uses between pauses.
 */
export const RECV_ROUND_MS = 2;
/** Chunks from another connection within this long count as contention: turns end at their quantum. */
export const RECV_TURN_CONTENTION_MS = 100;

/** Priority decay, as CometBFT: every interval, recently-sent counters are multiplied by the factor. */
export const PRIORITY_DECAY_INTERVAL_MS = 2 * 1000;
export const PRIORITY_DECAY_FACTOR = 0.8;

/** Channel descriptor defaults. */
export const DEFAULT_CHANNEL_PRIORITY = 1;
export const DEFAULT_SEND_QUEUE_CAPACITY_MESSAGES = 1024;
/**
 * …and bytes of queued messages per channel per peer (a message is taken into an empty queue whatever
 * its size). Counted in messages only, an agent that passes on what peers send (the demo mempool's
 * gossip) let each peer that does not read pin 1,024 of them: 64 MiB of 64 KiB txs per peer, 2.5 GiB
 * across the relay program's 40 inbound slots (bench/memory-worst-case.ts). 16 times the link's high
 * water mark keeps a bulk sender's link busy; `send()` waits for room as it does for a slot.
 */
export const DEFAULT_SEND_QUEUE_CAPACITY_BYTES = 1024 * 1024;
/**
 * Senders that may wait for room on one channel of one connection, at least: past the queue's own
 * capacities (messages, at least this many; bytes) `send()` resolves false at once, as on a timeout.
 * Each waiting send holds its message, a promise and a timer (~1.7 KB besides the message): unbounded,
 * an agent that passes what one peer floods on to a slow one with `void peer.send(…)` held 250,000
 * of them (420 MB of heap) within 8 s. The floor lets a broadcast's or an app's few sends wait behind
 * a queue configured tiny.
 */
export const MIN_WAITING_SENDS_PER_CHANNEL = 64;
export const DEFAULT_RECV_MESSAGE_CAPACITY_BYTES = 1024 * 1024;
/** Hard ceiling on any channel's message size: bounds reassembly memory per channel. */
export const MAX_RECV_MESSAGE_CAPACITY_BYTES = 64 * 1024 * 1024;
