/** Switch defaults, as CometBFT's where it has one. */
export const DEFAULT_MAX_INBOUND_PEERS = 40;
export const DEFAULT_MAX_OUTBOUND_PEERS = 10;
/** Raw links still handshaking at once; more are dropped on arrival (handshake floods cost little). */
export const DEFAULT_MAX_PENDING_INBOUND = 64;
/** Of those, from one IPv4 address or IPv6 /64: a single host cannot starve everyone else's handshakes. */
export const DEFAULT_MAX_PENDING_INBOUND_PER_HOST = 8;
export const DEFAULT_DIAL_TIMEOUT_MS = 10 * 1000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 20 * 1000;
/** How long `stop()` gives peers to flush before their links are destroyed. */
export const DEFAULT_STOP_TIMEOUT_MS = 5 * 1000;

/** Persistent peers are redialled after base·2^attempt ms, ±jitter, capped: 0.5 s, 1 s, 2 s … 60 s. */
export const RECONNECT_BASE_DELAY_MS = 500;
export const RECONNECT_MAX_DELAY_MS = 60 * 1000;
/**
 * A persistent peer's connection that lasted less than this counts as a failed attempt for the backoff
 * (the next redial waits twice as long); one that lasted longer starts the backoff over. Resetting it
 * on every successful handshake let a peer that accepts and hangs up at once have us redial, a key
 * exchange and two signatures each, every base delay for as long as it liked.
 */
export const RECONNECT_STABLE_AFTER_MS = 10 * 1000;
/**
 * A persistent peer that refuses us as a duplicate (ERR_DUPLICATE_PEER: it still holds an old connection of
 * ours, one it has not seen die yet) answered, so the refusal does not grow the backoff; its old connection
 * ends within the peer's keep-alive, and we want to be back soon after. Each such redial still waits at
 * least the backoff of this attempt (base·2³: 4 s by default), since every refusal costs both ends a
 * handshake and the peer's keep-alive may take 105 s.
 */
export const RECONNECT_DUPLICATE_MIN_ATTEMPT = 3;
/**
 * A key we are connected to connects again: the holder of that key thinks our connection is gone (a
 * page whose network changed, a node that restarted or timed it out), while ours may still look alive
 * for up to its keep-alive (105 s by default) and refused every redial as a duplicate meanwhile. We ping
 * the old connection; with no pong within this long (or the connection's pongTimeoutMs if shorter) it is
 * cut and the new one admitted. An old connection that answers keeps its place (two processes sharing
 * one key cannot push each other out).
 */
export const DUPLICATE_PROBE_TIMEOUT_MS = 3 * 1000;
/** Each delay is scaled by a random factor in [1 − jitter, 1 + jitter] so restarted nodes don't stampede. */
export const RECONNECT_JITTER_RATIO = 0.25;

/** Messages waiting per pull-style channel before the senders are paused. */
export const DEFAULT_INBOX_CAPACITY_MESSAGES = 1024;
/**
 * …and bytes: 1,024 messages of a channel's default 1 MiB would be a gigabyte. A channel whose
 * recvMessageCapacity is larger holds at least one message of that size.
 */
export const DEFAULT_INBOX_CAPACITY_BYTES = 16 * 1024 * 1024;
/**
 * Receives of one peer's messages an agent may have in flight (an async `receive` not settled yet);
 * at this many the peer's connection is paused until half have settled, so a flood of messages to a
 * slow async agent waits in the peer's socket instead of in our memory.
 */
export const MAX_ASYNC_RECEIVES_PER_PEER = 64;
/** …or when the messages of those receives reach this many bytes (64 messages of 1 MiB would be 64 MiB a peer). */
export const MAX_ASYNC_RECEIVE_BYTES_PER_PEER = 4 * 1024 * 1024;
/**
 * Bytes every connection of a node may hold on its peers' behalf, all together: chunks a page's
 * WebSocket or data channel held while paused (4 MiB a link), async receives in flight (4 MiB a peer)
 * and send queues (1 MiB a channel a peer; a message of 16 KiB or more queued for many peers counted
 * once). Each of those bounds multiplied by every peer and pending link (58 + 64 by default): peers
 * filling theirs made a node hold 58 × 4 MiB in each. Past this total the connection holding the most
 * that is not moving (weighed by how slowly it drains: MemoryBudget) is cut (ERR_RATE_LIMIT). The
 * default grows to twice one connection's bounds (see peerMemoryBudgetBytes).
 */
export const DEFAULT_PEER_MEMORY_BUDGET_BYTES = 64 * 1024 * 1024;
/**
 * 'agent:error' reports of a SendError about another peer (a message passed on to a peer that refuses
 * it) per agent per window; the rest are counted, and the window's first report after them says how
 * many (`suppressed`). The sending peer stays connected, so without a cap each message it sends could
 * make one report: a peer and an accomplice declaring a 1-byte capacity set the rate of an app's
 * error log.
 */
export const MAX_RELAY_REFUSALS_REPORTED_PER_WINDOW = 10;
export const RELAY_REFUSAL_REPORT_WINDOW_MS = 10 * 1000;
export const DEFAULT_BAN_DURATION_MS = 10 * 60 * 1000;
/**
 * Bans held at once. PEX bans every misbehaving key, and keys are free: past this, expired bans are
 * swept and then the ban closest to expiry gives way.
 */
export const MAX_BAN_ENTRIES = 10_000;
/** Stop hooks a Switch holds (`addStopHook`): a few resources tied to the node's life, not a queue. */
export const MAX_STOP_HOOKS = 32;
/**
 * Inbound eviction: when inbound slots are full, the oldest inbound peers, at most one per host group,
 * are kept whatever arrives; this fraction of `maxInbound` of them (at least one).
 */
export const INBOUND_EVICTION_PROTECTED_FRACTION = 0.25;
/**
 * Evicted peers still reading their close reason (≤ CLOSE_REASON_LINGER_MS each) that a full node may
 * stand beside its limit; past this, a newcomer is refused instead of evicting another.
 */
export const MAX_EVICTED_LINGERING = 8;
