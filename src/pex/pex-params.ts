import { ConfigError } from '../errors.js';
import { MAX_GET_SELECTION } from './params.js';

/**
 * Tunables of the PEX agent (CometBFT p2p/pex/pex_reactor.go). The address book's own tunables live
 * in params.ts; these are about talking to peers: how often, how much, and how hard to punish.
 */

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

/** How often a node tops up its outbound peers from the book. CometBFT ensurePeersPeriod: 30 s. */
export const DEFAULT_ENSURE_PEERS_INTERVAL_MS = 30 * 1000;
/** Ratio ensurePeers interval / minimum interval between two requests from one peer. CometBFT: 3. */
export const REQUEST_INTERVAL_DIVISOR = 3;
/**
 * We never ask one peer for addresses more often than this, whatever our own intervals: a peer on the
 * defaults refuses a second request within 10 s and bans the asker, and our config cannot know theirs.
 */
export const DEFAULT_MIN_REQUEST_GAP_MS = 2 * (DEFAULT_ENSURE_PEERS_INTERVAL_MS / REQUEST_INTERVAL_DIVISOR);
/** Random delay before each dial, so restarted nodes do not dial in lockstep. CometBFT: 3 s. */
export const DEFAULT_DIAL_JITTER_MS = 3 * 1000;
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
 * Outbound peers learned from one source group, at most, as a share of maxOutbound (rounded up).
 * A source that answers only with its friends' addresses can then fill at most this share of our
 * outbound slots: the eclipse defence on top of the book's source-keyed buckets.
 */
export const DEFAULT_MAX_OUTBOUND_SHARE_PER_SOURCE = 0.34;
/**
 * Outbound peers, as a share of maxOutbound (rounded up), that ensurePeers first fills with addresses
 * a seed gave us. A seed's answer is a sample of what it crawled, so colluding peers that answer only
 * with each other cannot skew these slots the way they skew addresses learned from peers.
 */
export const DEFAULT_TRUSTED_OUTBOUND_SHARE = 0.3;

/** Seed mode: how often the seed crawls (dials addresses from its book to collect theirs). CometBFT: 30 s. */
export const DEFAULT_CRAWL_INTERVAL_MS = 30 * 1000;
/** Seed mode: a peer that got its response is disconnected after this grace period. */
export const DEFAULT_SEED_DISCONNECT_GRACE_MS = 1000;
/** Seed mode: no peer stays connected to a seed longer than this, whether it asked or answered or not. */
export const DEFAULT_SEED_PEER_MAX_LIFETIME_MS = 10 * 1000;
/** Seed mode: an address crawled this recently is not crawled again. CometBFT minTimeBetweenCrawls: 2 min. */
export const DEFAULT_CRAWL_REVISIT_MS = 2 * 60 * 1000;

export interface PexConfig {
  /** Addresses of seed nodes, dialled when the book is empty or too small. @default [] */
  seeds: readonly string[];
  /** Crawl and hand out addresses, never keep peers (CometBFT seed mode). @default false */
  seedMode: boolean;
  /** @default 30000 */
  ensurePeersIntervalMs: number;
  /** Two requests from one peer closer than this cost it the connection. @default ensurePeersIntervalMs / 3 */
  minRequestIntervalMs: number;
  /**
   * The least time between two of our requests to one peer. Lower it only in a network whose every
   * node lowers `minRequestIntervalMs` too (tests, simulations). @default 20000
   */
  minRequestGapMs: number;
  /** @default 250 */
  maxAddressesPerResponse: number;
  /** @default 10 */
  maxConcurrentDials: number;
  /** Each dial waits a random 0..dialJitterMs first. @default 3000 */
  dialJitterMs: number;
  /** @default 1000 */
  dialBackoffBaseMs: number;
  /** @default 600000 */
  dialBackoffMaxMs: number;
  /** @default 16 */
  maxDialAttempts: number;
  /** @default 86400000 (24 h) */
  banMs: number;
  /** @default 32 */
  seedBootstrapBookSize: number;
  /** @default 60000 */
  seedRedialIntervalMs: number;
  /** Share (0..1] of maxOutbound that addresses from one source group may fill. @default 0.34 */
  maxOutboundSharePerSource: number;
  /** Share [0, 1] of maxOutbound filled first from seed-given addresses; 0 disables. @default 0.3 */
  trustedOutboundShare: number;
  /** @default 30000 */
  crawlIntervalMs: number;
  /** @default 1000 */
  seedDisconnectGraceMs: number;
  /** @default 10000 */
  seedPeerMaxLifetimeMs: number;
  /** @default 120000 */
  crawlRevisitMs: number;
  /** Address book auto-save period when the agent persists the book. @default 120000 */
  saveIntervalMs: number;
}

/** Merges `partial` over the defaults; rejects impossible values with ConfigError. */
export function resolvePexConfig(partial: Partial<PexConfig>, autoSaveDefaultMs: number): PexConfig {
  const ensurePeersIntervalMs = partial.ensurePeersIntervalMs ?? DEFAULT_ENSURE_PEERS_INTERVAL_MS;
  const config: PexConfig = {
    seeds: partial.seeds ?? [],
    seedMode: partial.seedMode ?? false,
    ensurePeersIntervalMs,
    minRequestIntervalMs: partial.minRequestIntervalMs ?? ensurePeersIntervalMs / REQUEST_INTERVAL_DIVISOR,
    minRequestGapMs: partial.minRequestGapMs ?? DEFAULT_MIN_REQUEST_GAP_MS,
    maxAddressesPerResponse: partial.maxAddressesPerResponse ?? PEX_MAX_ADDRESSES_PER_RESPONSE,
    maxConcurrentDials: partial.maxConcurrentDials ?? DEFAULT_MAX_CONCURRENT_DIALS,
    dialJitterMs: partial.dialJitterMs ?? DEFAULT_DIAL_JITTER_MS,
    dialBackoffBaseMs: partial.dialBackoffBaseMs ?? DEFAULT_DIAL_BACKOFF_BASE_MS,
    dialBackoffMaxMs: partial.dialBackoffMaxMs ?? DEFAULT_DIAL_BACKOFF_MAX_MS,
    maxDialAttempts: partial.maxDialAttempts ?? DEFAULT_MAX_DIAL_ATTEMPTS,
    banMs: partial.banMs ?? DEFAULT_MISBEHAVIOUR_BAN_MS,
    seedBootstrapBookSize: partial.seedBootstrapBookSize ?? DEFAULT_SEED_BOOTSTRAP_BOOK_SIZE,
    seedRedialIntervalMs: partial.seedRedialIntervalMs ?? DEFAULT_SEED_REDIAL_INTERVAL_MS,
    maxOutboundSharePerSource: partial.maxOutboundSharePerSource ?? DEFAULT_MAX_OUTBOUND_SHARE_PER_SOURCE,
    trustedOutboundShare: partial.trustedOutboundShare ?? DEFAULT_TRUSTED_OUTBOUND_SHARE,
    crawlIntervalMs: partial.crawlIntervalMs ?? partial.ensurePeersIntervalMs ?? DEFAULT_CRAWL_INTERVAL_MS,
    seedDisconnectGraceMs: partial.seedDisconnectGraceMs ?? DEFAULT_SEED_DISCONNECT_GRACE_MS,
    seedPeerMaxLifetimeMs: partial.seedPeerMaxLifetimeMs ?? DEFAULT_SEED_PEER_MAX_LIFETIME_MS,
    crawlRevisitMs: partial.crawlRevisitMs ?? DEFAULT_CRAWL_REVISIT_MS,
    saveIntervalMs: partial.saveIntervalMs ?? autoSaveDefaultMs,
  };
  const bad = (why: string): never => {
    throw new ConfigError('ERR_INVALID_CONFIG', `PEX options: ${why}`);
  };
  if (!Array.isArray(config.seeds)) bad('seeds must be an array of addresses');
  for (const key of ['ensurePeersIntervalMs', 'crawlIntervalMs', 'saveIntervalMs', 'seedPeerMaxLifetimeMs'] as const) {
    if (!(config[key] > 0) || !Number.isFinite(config[key])) bad(`${key} must be a positive number of ms`);
  }
  for (const key of [
    'minRequestIntervalMs',
    'minRequestGapMs',
    'dialJitterMs',
    'dialBackoffBaseMs',
    'dialBackoffMaxMs',
    'banMs',
    'seedRedialIntervalMs',
    'seedDisconnectGraceMs',
    'crawlRevisitMs',
  ] as const) {
    if (!(config[key] >= 0) || !Number.isFinite(config[key])) bad(`${key} must be a finite number of ms ≥ 0`);
  }
  for (const key of ['maxConcurrentDials', 'maxDialAttempts'] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 1) bad(`${key} must be an integer ≥ 1`);
  }
  if (!Number.isInteger(config.seedBootstrapBookSize) || config.seedBootstrapBookSize < 0) bad('seedBootstrapBookSize must be an integer ≥ 0');
  const max = config.maxAddressesPerResponse;
  if (!Number.isInteger(max) || max < 1 || max > PEX_MAX_ADDRESSES_PER_RESPONSE) {
    bad(`maxAddressesPerResponse must be an integer in 1..${PEX_MAX_ADDRESSES_PER_RESPONSE}`);
  }
  if (!(config.maxOutboundSharePerSource > 0 && config.maxOutboundSharePerSource <= 1)) bad('maxOutboundSharePerSource must be in (0, 1]');
  if (!(config.trustedOutboundShare >= 0 && config.trustedOutboundShare <= 1)) bad('trustedOutboundShare must be in [0, 1]');
  if (config.dialBackoffMaxMs < config.dialBackoffBaseMs) bad('dialBackoffMaxMs must be ≥ dialBackoffBaseMs');
  return config;
}
