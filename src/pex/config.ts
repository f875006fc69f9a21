import { isIntegerIn, isPositiveFinite, resolveConfig } from '../util/config.js';
import * as C from './constants.js';

/** Bucket geometry and thresholds of the address book; scale them down for tests and simulations. */
export interface AddressBookConfig {
  /** @default 1024 */
  newBucketCount: number;
  /** @default 256 */
  oldBucketCount: number;
  /** Entries per bucket. @default 64 */
  bucketSize: number;
  /** @default 64 (at most newBucketCount) */
  newBucketsPerSourceGroup: number;
  /** @default 8 (at most oldBucketCount) */
  oldBucketsPerGroup: number;
  /** @default 4 (at most newBucketCount) */
  maxNewBucketsPerAddress: number;
  /** @default 8 */
  maxAddressesPerNodeId: number;
  /** Entries one source group may have in the book. @default 512 */
  maxAddressesPerSourceGroup: number;
  /** needMoreAddresses() is true below this size. @default 1000 */
  needAddressThreshold: number;
  /** @default 1024 */
  maxBannedNodeIds: number;
  /** A first-hand address neither reached nor heard from itself for this long is left out of answers (hasLapsed). @default 86400000 (24 h) */
  firstHandLapseMs: number;
  /**
   * Test-before-evict: a newly good address whose tried bucket is full waits (up to 10 at once) until a
   * test of the entry it would evict fails. false: evict the worst entry at once (CometBFT). @default true
   */
  testBeforeEvict: boolean;
}

export const DEFAULT_ADDRESS_BOOK_CONFIG: Readonly<AddressBookConfig> = Object.freeze({
  newBucketCount: C.NEW_BUCKET_COUNT,
  oldBucketCount: C.OLD_BUCKET_COUNT,
  bucketSize: C.BUCKET_SIZE,
  newBucketsPerSourceGroup: C.NEW_BUCKETS_PER_SOURCE_GROUP,
  oldBucketsPerGroup: C.OLD_BUCKETS_PER_GROUP,
  maxNewBucketsPerAddress: C.MAX_NEW_BUCKETS_PER_ADDRESS,
  maxAddressesPerNodeId: C.MAX_ADDRESSES_PER_NODE_ID,
  maxAddressesPerSourceGroup: C.MAX_ADDRESSES_PER_SOURCE_GROUP,
  needAddressThreshold: C.NEED_ADDRESS_THRESHOLD,
  maxBannedNodeIds: C.MAX_BANNED_NODE_IDS,
  firstHandLapseMs: C.FIRST_HAND_LAPSE_MS,
  testBeforeEvict: true,
});

// Upper limits keep a typo from allocating millions of buckets.
const MAX_BUCKET_COUNT = 4096;
const MAX_BUCKET_SIZE = 1024;

/** Only the fields a config knows: option objects also carry storage, clocks and callbacks. */
function known<Config extends object>(defaults: Readonly<Config>, options: object): Partial<Config> {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(defaults)) picked[key] = (options as Record<string, unknown>)[key];
  return picked as Partial<Config>;
}

/** Merges `partial` over the defaults; scaled-down geometry scales the per-group limits it was not given. */
export function resolveAddressBookConfig(partial: Partial<AddressBookConfig> = {}): AddressBookConfig {
  const given = known(DEFAULT_ADDRESS_BOOK_CONFIG, partial);
  const newBucketCount = given.newBucketCount ?? C.NEW_BUCKET_COUNT;
  const oldBucketCount = given.oldBucketCount ?? C.OLD_BUCKET_COUNT;
  const scaled: AddressBookConfig = {
    ...DEFAULT_ADDRESS_BOOK_CONFIG,
    newBucketsPerSourceGroup: Math.min(C.NEW_BUCKETS_PER_SOURCE_GROUP, newBucketCount),
    oldBucketsPerGroup: Math.min(C.OLD_BUCKETS_PER_GROUP, oldBucketCount),
    maxNewBucketsPerAddress: Math.min(C.MAX_NEW_BUCKETS_PER_ADDRESS, newBucketCount),
  };
  return resolveConfig('address book', scaled, given, (config, reject) => {
    const integer = (name: keyof AddressBookConfig, min: number, max: number): void => {
      if (!isIntegerIn(config[name], min, max)) reject(`${name} must be an integer in ${min}..${max}, got ${String(config[name])}`);
    };
    integer('newBucketCount', 1, MAX_BUCKET_COUNT);
    integer('oldBucketCount', 1, MAX_BUCKET_COUNT);
    integer('bucketSize', 1, MAX_BUCKET_SIZE);
    integer('newBucketsPerSourceGroup', 1, config.newBucketCount);
    integer('oldBucketsPerGroup', 1, config.oldBucketCount);
    integer('maxNewBucketsPerAddress', 1, config.newBucketCount);
    integer('maxAddressesPerNodeId', 1, 1024);
    integer('maxAddressesPerSourceGroup', 1, Number.MAX_SAFE_INTEGER);
    integer('needAddressThreshold', 0, Number.MAX_SAFE_INTEGER);
    integer('maxBannedNodeIds', 0, 1_000_000);
    integer('firstHandLapseMs', 0, Number.MAX_SAFE_INTEGER);
    if (typeof config.testBeforeEvict !== 'boolean') reject('testBeforeEvict must be a boolean');
  });
}

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
  /**
   * How long a node (not a seed) answers the first pexRequest of every connection from one network with
   * the same sample of its book, so that asking again on new connections does not reveal the rest of it.
   * 0 samples afresh each time. @default 600000
   */
  answerReuseMs: number;
  /** @default 250 */
  maxAddressesPerResponse: number;
  /** New book entries one received response may add; the rest is ignored. @default 100 */
  maxNewAddressesPerResponse: number;
  /**
   * New book entries the answers from one network (IPv4 /16, IPv6 /32) may add at once; a WebRTC peer's
   * its own, within WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK times this for its relay's network; seeds'
   * answers are not counted. See AnswerAllowance. @default 100
   */
  newAddressBurstPerNetwork: number;
  /** New book entries the answers from one network earn back a minute, up to the burst. @default 1 */
  newAddressesPerNetworkPerMinute: number;
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
  /**
   * Share [0, 1] of maxOutbound filled from seed-given addresses; while a seed still answers, addresses
   * learned from peers get only the rest, and slots left waiting send us back to a seed. 0 disables. @default 0.9
   */
  trustedOutboundShare: number;
  /**
   * Outbound peers (and dials) in one network group: IPv4 /16, IPv6 /32, DNS registered domain,
   * WebRTC relay, memory host. Raise it on a LAN where every node shares one /16. @default 1
   */
  maxOutboundPerGroup: number;
  /** Period of feeler connections (short outbound probes moving addresses new → tried); 0 disables. @default 120000 */
  feelerIntervalMs: number;
  /** Outbound peers saved at stop and dialled first at the next start; 0 disables. @default 2 */
  maxAnchors: number;
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

export const DEFAULT_PEX_CONFIG: Readonly<PexConfig> = Object.freeze({
  seeds: Object.freeze([]) as readonly string[],
  seedMode: false,
  ensurePeersIntervalMs: C.DEFAULT_ENSURE_PEERS_INTERVAL_MS,
  minRequestIntervalMs: C.DEFAULT_ENSURE_PEERS_INTERVAL_MS / C.REQUEST_INTERVAL_DIVISOR,
  minRequestGapMs: C.DEFAULT_MIN_REQUEST_GAP_MS,
  answerReuseMs: C.DEFAULT_ANSWER_REUSE_MS,
  maxAddressesPerResponse: C.PEX_MAX_ADDRESSES_PER_RESPONSE,
  maxNewAddressesPerResponse: C.DEFAULT_MAX_NEW_ADDRESSES_PER_RESPONSE,
  newAddressBurstPerNetwork: C.DEFAULT_NEW_ADDRESS_BURST_PER_NETWORK,
  newAddressesPerNetworkPerMinute: C.DEFAULT_NEW_ADDRESSES_PER_NETWORK_PER_MINUTE,
  maxConcurrentDials: C.DEFAULT_MAX_CONCURRENT_DIALS,
  dialJitterMs: C.DEFAULT_DIAL_JITTER_MS,
  dialBackoffBaseMs: C.DEFAULT_DIAL_BACKOFF_BASE_MS,
  dialBackoffMaxMs: C.DEFAULT_DIAL_BACKOFF_MAX_MS,
  maxDialAttempts: C.DEFAULT_MAX_DIAL_ATTEMPTS,
  banMs: C.DEFAULT_MISBEHAVIOUR_BAN_MS,
  seedBootstrapBookSize: C.DEFAULT_SEED_BOOTSTRAP_BOOK_SIZE,
  seedRedialIntervalMs: C.DEFAULT_SEED_REDIAL_INTERVAL_MS,
  maxOutboundSharePerSource: C.DEFAULT_MAX_OUTBOUND_SHARE_PER_SOURCE,
  trustedOutboundShare: C.DEFAULT_TRUSTED_OUTBOUND_SHARE,
  maxOutboundPerGroup: C.DEFAULT_MAX_OUTBOUND_PER_GROUP,
  feelerIntervalMs: C.DEFAULT_FEELER_INTERVAL_MS,
  maxAnchors: C.DEFAULT_MAX_ANCHORS,
  crawlIntervalMs: C.DEFAULT_CRAWL_INTERVAL_MS,
  seedDisconnectGraceMs: C.DEFAULT_SEED_DISCONNECT_GRACE_MS,
  seedPeerMaxLifetimeMs: C.DEFAULT_SEED_PEER_MAX_LIFETIME_MS,
  crawlRevisitMs: C.DEFAULT_CRAWL_REVISIT_MS,
  saveIntervalMs: C.AUTO_SAVE_INTERVAL_MS,
});

/**
 * Merges `partial` over DEFAULT_PEX_CONFIG and rejects impossible values with ConfigError. Two
 * defaults follow ensurePeersIntervalMs when it is given: minRequestIntervalMs (a third of it) and
 * crawlIntervalMs (equal to it).
 */
export function resolvePexConfig(partial: Partial<PexConfig> = {}): PexConfig {
  const given = known(DEFAULT_PEX_CONFIG, partial);
  const interval = given.ensurePeersIntervalMs;
  const defaults: PexConfig =
    interval === undefined
      ? { ...DEFAULT_PEX_CONFIG }
      : { ...DEFAULT_PEX_CONFIG, minRequestIntervalMs: interval / C.REQUEST_INTERVAL_DIVISOR, crawlIntervalMs: interval };
  return resolveConfig('PEX', defaults, given, (config, reject) => {
    if (!Array.isArray(config.seeds)) reject('seeds must be an array of addresses');
    for (const key of ['ensurePeersIntervalMs', 'crawlIntervalMs', 'saveIntervalMs', 'seedPeerMaxLifetimeMs'] as const) {
      if (!isPositiveFinite(config[key])) reject(`${key} must be a positive number of ms`);
    }
    for (const key of [
      'minRequestIntervalMs',
      'minRequestGapMs',
      'answerReuseMs',
      'dialJitterMs',
      'dialBackoffBaseMs',
      'dialBackoffMaxMs',
      'banMs',
      'seedRedialIntervalMs',
      'seedDisconnectGraceMs',
      'crawlRevisitMs',
      'feelerIntervalMs',
    ] as const) {
      if (!(config[key] >= 0) || !Number.isFinite(config[key])) reject(`${key} must be a finite number of ms ≥ 0`);
    }
    for (const key of ['maxConcurrentDials', 'maxDialAttempts', 'maxOutboundPerGroup', 'maxNewAddressesPerResponse'] as const) {
      if (!isIntegerIn(config[key], 1, Number.MAX_SAFE_INTEGER)) reject(`${key} must be an integer ≥ 1`);
    }
    if (!isIntegerIn(config.newAddressBurstPerNetwork, 0, Number.MAX_SAFE_INTEGER)) reject('newAddressBurstPerNetwork must be an integer ≥ 0');
    if (!(config.newAddressesPerNetworkPerMinute >= 0) || !Number.isFinite(config.newAddressesPerNetworkPerMinute)) reject('newAddressesPerNetworkPerMinute must be a finite number ≥ 0');
    if (!isIntegerIn(config.seedBootstrapBookSize, 0, Number.MAX_SAFE_INTEGER)) reject('seedBootstrapBookSize must be an integer ≥ 0');
    if (!isIntegerIn(config.maxAnchors, 0, C.MAX_STORED_ANCHORS)) reject(`maxAnchors must be an integer in 0..${C.MAX_STORED_ANCHORS}`);
    if (!isIntegerIn(config.maxAddressesPerResponse, 1, C.PEX_MAX_ADDRESSES_PER_RESPONSE)) {
      reject(`maxAddressesPerResponse must be an integer in 1..${C.PEX_MAX_ADDRESSES_PER_RESPONSE}`);
    }
    if (!(config.maxOutboundSharePerSource > 0 && config.maxOutboundSharePerSource <= 1)) reject('maxOutboundSharePerSource must be in (0, 1]');
    if (!(config.trustedOutboundShare >= 0 && config.trustedOutboundShare <= 1)) reject('trustedOutboundShare must be in [0, 1]');
    if (config.dialBackoffMaxMs < config.dialBackoffBaseMs) reject('dialBackoffMaxMs must be ≥ dialBackoffBaseMs');
  });
}
