/**
 * Every PEX and address book limit, with its unit in the name (CometBFT p2p/pex/params.go, Bitcoin
 * Core's addrman.h and net.h). The bucket geometry bounds memory and limits how much of the book one
 * source can poison:
 *
 *   capacity = (NEW_BUCKET_COUNT + OLD_BUCKET_COUNT) * BUCKET_SIZE = (1024 + 256) * 64 = 81 920 entries
 *   one source group reaches at most NEW_BUCKETS_PER_SOURCE_GROUP * BUCKET_SIZE = 64 * 64 = 4 096 slots,
 *   and holds at most MAX_ADDRESSES_PER_SOURCE_GROUP = 512 entries
 *
 * Buckets are allocated when first used, so an idle book costs nothing per bucket.
 */

// ── Address book geometry (addrman: 1024 new, 256 tried, 64 per bucket) ───────────────────────────

/** Buckets for addresses we have heard of but never connected to ("new"). addrman: 1024, CometBFT: 256. */
export const NEW_BUCKET_COUNT = 1024;
/** Buckets for addresses we have connected to at least once ("old", addrman's "tried"). addrman: 256. */
export const OLD_BUCKET_COUNT = 256;
/** Entries per bucket, new and old alike. addrman and CometBFT: 64. */
export const BUCKET_SIZE = 64;
/** New buckets one source group can ever reach: the cap on a flood from one network. addrman: 64. */
export const NEW_BUCKETS_PER_SOURCE_GROUP = 64;
/** Old buckets one address group can reach, so a /16 cannot take over the tried table. addrman: 8. */
export const OLD_BUCKETS_PER_GROUP = 8;
/** New buckets one address may sit in (several sources told us about it). CometBFT: 4, addrman: 8. */
export const MAX_NEW_BUCKETS_PER_ADDRESS = 4;
/**
 * Distinct addresses kept for one node id. A node may listen on tcp, ws, wss and webrtc at once (and on
 * IPv4 and IPv6), so more than one is legitimate; the cap stops a peer from pinning one id to thousands.
 */
export const MAX_ADDRESSES_PER_NODE_ID = 8;
/**
 * Entries one source group (the network a peer spoke to us from) may have put in the book, whatever
 * the buckets would still take: a Sybil answering from one /16 fills at most this many of our entries.
 */
export const MAX_ADDRESSES_PER_SOURCE_GROUP = 512;
/**
 * pickAddress draws up to this many entries, keeping one with probability 1 / (entries in its network
 * group), so that groups rather than addresses are picked uniformly; past it the last draw stands.
 */
export const GROUP_FAIR_PICK_DRAWS = 64;
/** Below this many entries the PEX agent should ask peers for more. CometBFT: 1000. */
export const NEED_ADDRESS_THRESHOLD = 1000;
/** Banned node ids remembered at once; past this the ban closest to expiry is forgotten first. */
export const MAX_BANNED_NODE_IDS = 1024;
/**
 * What the bans together keep of their nodes' entries (to put back when each ends), counted as
 * bannedEntryBytes does; past it a ban keeps none. Peers choose those entries (up to 8 addresses of a
 * kilobyte per node id, from one answer), and banned ones leave the tables and their per-source caps: a
 * liar's 1,024 nodes in another network, each dialled once, had a page store a 17 MB book (its tables
 * empty) and read it back at every start. An honest node's bans keep a few entries each.
 */
export const MAX_BANNED_ENTRY_BYTES = 256 * 1024;
/** What one stored entry costs besides its address and source: its other fields in the saved JSON. */
export const BANNED_ENTRY_OVERHEAD_BYTES = 160;
/** Longest ban accepted by markBad. */
export const MAX_BAN_MS = 365 * 24 * 60 * 60 * 1000;

// ── Test-before-evict (Heilman et al. 2015 §6, addrman's tried collisions) ────────────────────────

/** Tried-table collisions waiting for their test at once; more are dropped. addrman: 10. */
export const MAX_TRIED_COLLISIONS = 10;
/** A collision whose incumbent was not tested within this time evicts it anyway. addrman: 40 min. */
export const TRIED_COLLISION_TEST_WINDOW_MS = 40 * 60 * 1000;
/** An incumbent reached this recently is kept without a test. addrman ADDRMAN_REPLACEMENT: 4 h. */
export const TRIED_REPLACEMENT_PROTECTION_MS = 4 * 60 * 60 * 1000;

// ── Selection and staleness (CometBFT) ────────────────────────────────────────────────────────────

/** A pexResponse never carries more than this many addresses. CometBFT: 250. */
export const MAX_GET_SELECTION = 250;
/** …nor fewer than this many when the book has them. CometBFT: 32. */
export const MIN_GET_SELECTION = 32;
/** …and otherwise this share of the book, so one response never reveals the whole book. CometBFT: 23. */
export const GET_SELECTION_PERCENT = 23;
/**
 * A sample for an answer visits at most this many entries per address wanted: past it, the addresses
 * held back because their group had its share make up the rest (see sampleGood).
 */
export const ANSWER_VISITS_PER_ADDRESS = 8;
/** An address tried this recently is never judged bad: the dial may still be in flight. */
export const RECENT_ATTEMPT_GRACE_MS = 60 * 1000;
/** A never-connected address nobody has advertised for this long is stale. CometBFT numMissingDays: 7. */
export const STALE_AFTER_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * A first-hand address (we reached it, or the node told us of itself) unconfirmed for this long is no
 * longer handed out in answers (AddressBookConfig.firstHandLapseMs), as addrman's GetAddr leaves out what IsTerrible judges.
 */
export const FIRST_HAND_LAPSE_MS = 24 * 60 * 60 * 1000;
/** Failed attempts after which a never-connected address is bad. CometBFT numRetries: 3. */
export const MAX_ATTEMPTS_WITHOUT_SUCCESS = 3;
/** Failed attempts after which a once-good address is bad, if its last success is old. CometBFT maxFailures: 10. */
export const MAX_FAILURES_SINCE_SUCCESS = 10;
/** …where "old" means this long ago. CometBFT minBadDays: 7. */
export const FAILURE_WINDOW_AFTER_SUCCESS_MS = 7 * 24 * 60 * 60 * 1000;

// ── Persistence ───────────────────────────────────────────────────────────────────────────────────

/** Length of the secret key that salts bucket placement (per book, persisted). */
export const BUCKET_KEY_BYTES = 32;
/**
 * Most (group, source group) → new bucket results a book memoises (~7 KiB when full): enough for a
 * flood from a few source groups, small beside the book when thousands of books share a process (sim).
 */
export const BUCKET_HASH_MEMO_ENTRIES = 256;
/** Source groups whose outer new-bucket hashes a book memoises (NEW_BUCKETS_PER_SOURCE_GROUP × 4 bytes each). */
export const BUCKET_HASH_MEMO_SOURCE_GROUPS = 64;
/** Storage key the book is saved under. */
export const ADDRESS_BOOK_STORAGE_KEY = 'address-book';
/** Version written now: 2 adds anchors and pending tried collisions. Version 1 still loads. */
export const ADDRESS_BOOK_FORMAT_VERSION = 2;
/** A stored book larger than this is not parsed (a full book is ~25 MB of JSON). */
export const MAX_ADDRESS_BOOK_BYTES = 48 * 1024 * 1024;
/**
 * Bytes of a save's JSON encoded between two turns of the event loop (a few ms of work): a book peers
 * filled with long addresses encodes to ~50 MB, which in one go held the event loop for seconds.
 */
export const ADDRESS_BOOK_SAVE_SLICE_BYTES = 256 * 1024;
/** Default period of startAutoSave. CometBFT dumpAddressInterval: 2 minutes. */
export const AUTO_SAVE_INTERVAL_MS = 2 * 60 * 1000;
/**
 * …and auto-saves average at most this many bytes a second: after a save of n bytes the next waits
 * n / this seconds. A small book (a page's few KB) is saved at every interval; one that peers made
 * large (long addresses, each dial changing it) is encoded and written less often, not whole every tick.
 */
export const AUTO_SAVE_MAX_BYTES_PER_SECOND = 16 * 1024;
/** Anchors kept in the book at most, whatever the config asks. */
export const MAX_STORED_ANCHORS = 64;
/**
 * Our own places (host and port of an address of ours) the book remembers, the most recently declared.
 * A node has a few; a gateway chooses the external ones (NAT-PMP grants any lease, down to 1 s, and a new
 * port or external address at each renewal), and every one declared was kept for the book's life.
 */
export const MAX_OUR_PLACES = 64;
/**
 * Sweeps of the book for entries at places that became ours (each parses every entry): this many at
 * once (a node's listeners and a NAT mapping at start), then one per OUR_PLACE_SWEEP_INTERVAL_MS.
 */
export const OUR_PLACE_SWEEP_BURST = 8;
export const OUR_PLACE_SWEEP_INTERVAL_MS = 60 * 1000;

// ── The wire (channel 0x00) ───────────────────────────────────────────────────────────────────────

/** Channel 0x00 is PEX (DESIGN.md). */
export const PEX_CHANNEL_ID = 0x00;
/** Low: address gossip must never delay application traffic. CometBFT: 1. */
export const PEX_CHANNEL_PRIORITY = 1;
/** A peer is owed at most one response at a time, so a short queue is plenty. CometBFT: 10. */
export const PEX_SEND_QUEUE_CAPACITY_MESSAGES = 10;
/** Longest address text we accept (the same cap as parseAddress). */
export const PEX_MAX_ADDRESS_CHARS = 1024;
/** A pexResponse never carries more than this many addresses. CometBFT maxGetSelection: 250. */
export const PEX_MAX_ADDRESSES_PER_RESPONSE = MAX_GET_SELECTION;
/**
 * Largest PEX message: a full response of the longest addresses plus msgpack overhead, so that a
 * response with too many addresses reaches the agent (and its typed error) before it reaches this cap:
 * 250 * (1024 + 3) + 64 = 256 814 bytes.
 */
export const PEX_MAX_MESSAGE_BYTES = PEX_MAX_ADDRESSES_PER_RESPONSE * (PEX_MAX_ADDRESS_CHARS + 3) + 64;
/**
 * Our own pexResponse is at most this many bytes, whatever the asker takes: an honest answer of 250
 * addresses is 15–25 KB. Liars can fill the book with addresses of ~1 KiB, and a full answer of those made
 * each 17-byte request (one per connection) cost 1.4 ms of encoding and 250 KB sent.
 */
export const PEX_MAX_ANSWER_BYTES = 64 * 1024;
/** Live relayed WebRTC addresses put into one pexResponse, at most. */
export const MAX_LIVE_WEBRTC_ADDRESSES = 64;
/** Hang-ups remembered at once. */
export const MAX_REMEMBERED_HANG_UPS = 1024;
/** Failed dials in a row into one public network (nothing reached there since) before it waits (FailingNetworks). */
export const FAILING_NETWORK_STREAK = 2;
/** Failing networks remembered at once. */
export const MAX_FAILING_NETWORKS = 1024;

// ── The agent's schedule (CometBFT pex_reactor.go, Bitcoin net.cpp) ──────────────────────────────

/** How often a node tops up its outbound peers from the book. CometBFT ensurePeersPeriod: 30 s. */
export const DEFAULT_ENSURE_PEERS_INTERVAL_MS = 30 * 1000;
/** Ratio ensurePeers interval / minimum interval between two requests from one peer. CometBFT: 3. */
export const REQUEST_INTERVAL_DIVISOR = 3;
/**
 * We never ask one peer for addresses more often than this, whatever our own intervals: a peer on the
 * defaults refuses a second request within 10 s and bans the asker, and our config cannot know theirs.
 */
export const DEFAULT_MIN_REQUEST_GAP_MS = 2 * (DEFAULT_ENSURE_PEERS_INTERVAL_MS / REQUEST_INTERVAL_DIVISOR);
/**
 * A node (not a seed) hands every asker from one network the same sample of its book for this long
 * (Bitcoin Core keeps its getaddr answer about a day): fresh keys cost nothing, and a stranger asking once
 * per new connection learned a different 23% of the book each time, the whole of it in ~16 connections.
 */
export const DEFAULT_ANSWER_REUSE_MS = 10 * 60 * 1000;
/** Askers' networks whose answer sample is remembered (see AnswerCache): ≤ 256 samples of ≤ 250 addresses. */
export const MAX_ANSWER_REUSE_NETWORKS = 256;
/** Random delay before each dial, so restarted nodes do not dial in lockstep. CometBFT: 3 s. */
export const DEFAULT_DIAL_JITTER_MS = 3 * 1000;
/**
 * A node with no outbound peer waits at most this long before a dial: the full jitter spreads the load of
 * nodes that restart together, but an isolated node (just restarted, or cut off) needs a peer first.
 */
export const ISOLATED_DIAL_JITTER_MS = 500;
/**
 * A dial failed while we have no outbound peer: the next round comes this soon rather than a whole
 * ensurePeers interval later (the addresses that failed back off, so the rounds stop when nothing is left).
 */
export const ISOLATED_RETRY_ROUND_DELAY_MS = 2000;
/** Dials in flight at once from ensurePeers. */
export const DEFAULT_MAX_CONCURRENT_DIALS = 10;
/** First retry of a failed address waits this long, doubling per failure. CometBFT: 1 s · 2^attempts. */
export const DEFAULT_DIAL_BACKOFF_BASE_MS = 1000;
/** Cap of the per-address backoff. */
export const DEFAULT_DIAL_BACKOFF_MAX_MS = 10 * 60 * 1000;
/** Failed dials after which an address is dropped from the book. CometBFT maxAttemptsToDial: 16. */
export const DEFAULT_MAX_DIAL_ATTEMPTS = 16;
/** How long a misbehaving peer is banned (switch and book). CometBFT defaultBanTime: 24 h. */
export const DEFAULT_MISBEHAVIOUR_BAN_MS = 24 * 60 * 60 * 1000;
/** Below this many known addresses a node with free outbound slots asks a seed. */
export const DEFAULT_SEED_BOOTSTRAP_BOOK_SIZE = 32;
/** A seed is dialled again at most this often (it hangs up on us anyway). */
export const DEFAULT_SEED_REDIAL_INTERVAL_MS = 60 * 1000;
/** Picks from the book per free outbound slot before ensurePeers gives up for this round. CometBFT: 3. */
export const PICK_ATTEMPTS_PER_SLOT = 3;
/**
 * A local (loopback, LAN) address whose group already has an outbound peer is dialled anyway when
 * nothing else is dialable, unless an address in a group with room is only waiting: being dialled, or
 * backing off after at most this many failed dials. A slow or refused dial under load must not hand
 * its slot to the crowded group; an address that keeps failing must not strand a LAN node either.
 */
export const YIELD_WAITS_FOR_FAILED_DIALS = 2;
/**
 * Outbound peers learned from one source group, at most, as a share of maxOutbound (rounded up).
 * A source that answers only with its friends' addresses can then fill at most this share of our
 * outbound slots: the eclipse defence on top of the book's source-keyed buckets.
 */
export const DEFAULT_MAX_OUTBOUND_SHARE_PER_SOURCE = 0.34;
/**
 * Outbound peers, as a share of maxOutbound (rounded up), that ensurePeers fills with addresses a seed
 * gave us; while a seed still answers, the others (learned from peers) are held to the rest. A seed's
 * answer is a sample of the nodes it reached while crawling, so it holds attackers in about their share
 * of the network, whereas what peers tell us is skewed by every coalition that names only its own
 * (the simulator: 45–67 % of honest outbound slots at 30 % attackers with 0.3, 26–28 % with 0.9).
 */
export const DEFAULT_TRUSTED_OUTBOUND_SHARE = 0.9;
/** Outbound peers in one network group (IPv4 /16, IPv6 /32, …). Bitcoin: 1. */
export const DEFAULT_MAX_OUTBOUND_PER_GROUP = 1;
/** New entries one pexResponse may add to the book; the rest of it is ignored (not punished). */
export const DEFAULT_MAX_NEW_ADDRESSES_PER_RESPONSE = 100;
/** New book entries the answers from one network may add at once (PexConfig.newAddressBurstPerNetwork). */
export const DEFAULT_NEW_ADDRESS_BURST_PER_NETWORK = 100;
/** New book entries the answers from one network earn a minute after their burst (PexConfig.newAddressesPerNetworkPerMinute). */
export const DEFAULT_NEW_ADDRESSES_PER_NETWORK_PER_MINUTE = 1;
/**
 * WebRTC peers of one relay network that may each spend a network's address allowance (AnswerAllowance):
 * their total is this many times a network's, so that liars reached through an honest relay leave the
 * honest pages behind it their own while fewer than this many of them have spent theirs, and keys minted
 * past it add nothing more.
 */
export const WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK = 4;
/** Networks whose address allowance (AddressAllowance) is remembered. */
export const MAX_ADDRESS_ALLOWANCE_NETWORKS = 1024;
/** A short outbound "feeler" connection every this often moves an address new → tried. Bitcoin: 2 min. */
export const DEFAULT_FEELER_INTERVAL_MS = 2 * 60 * 1000;
/** Outbound peers saved at stop and dialled first at the next start. Bitcoin MAX_BLOCK_RELAY_ONLY_ANCHORS: 2. */
export const DEFAULT_MAX_ANCHORS = 2;

// ── Seed mode ─────────────────────────────────────────────────────────────────────────────────────

/** How often the seed crawls (dials addresses from its book to collect theirs). CometBFT: 30 s. */
export const DEFAULT_CRAWL_INTERVAL_MS = 30 * 1000;
/** A peer that got its response is disconnected after this grace period. */
export const DEFAULT_SEED_DISCONNECT_GRACE_MS = 1000;
/** No peer stays connected to a seed longer than this, whether it asked or answered or not. */
export const DEFAULT_SEED_PEER_MAX_LIFETIME_MS = 10 * 1000;
/** An address crawled this recently is not crawled again. CometBFT minTimeBetweenCrawls: 2 min. */
export const DEFAULT_CRAWL_REVISIT_MS = 2 * 60 * 1000;
