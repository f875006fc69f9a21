import { ConfigError } from '../errors.js';

/**
 * Tunables of the address book, after CometBFT's p2p/pex/params.go and Bitcoin's addrman. The bucket
 * geometry is what bounds memory and what limits how much of the book one source can poison:
 *
 *   capacity = NEW_BUCKET_COUNT * BUCKET_SIZE + OLD_BUCKET_COUNT * BUCKET_SIZE
 *            = 256 * 64 + 64 * 64 = 20 480 entries
 *   one source group reaches at most NEW_BUCKETS_PER_SOURCE_GROUP * BUCKET_SIZE = 32 * 64 = 2 048 of them
 */

/** Buckets for addresses we have heard of but never connected to. CometBFT: 256. */
export const NEW_BUCKET_COUNT = 256;
/** Buckets for addresses we have connected to at least once. CometBFT: 64. */
export const OLD_BUCKET_COUNT = 64;
/** Entries per bucket, new and old alike. CometBFT: 64. */
export const BUCKET_SIZE = 64;
/** New buckets one source group can ever reach: the cap on a flood from one network. addrman: 64, CometBFT: 32. */
export const NEW_BUCKETS_PER_SOURCE_GROUP = 32;
/** Old buckets one address group can reach, so a /16 cannot take over the tried table. CometBFT: 4. */
export const OLD_BUCKETS_PER_GROUP = 4;
/** New buckets one address may sit in (several sources told us about it). CometBFT: 4. */
export const MAX_NEW_BUCKETS_PER_ADDRESS = 4;
/**
 * Distinct addresses kept for one node id. A node may listen on tcp, ws, wss and webrtc at once (and on
 * IPv4 and IPv6), so more than one is legitimate; the cap stops a peer from pinning one id to thousands.
 */
export const MAX_ADDRESSES_PER_NODE_ID = 8;
/** Below this many entries the PEX agent should ask peers for more. CometBFT: 1000. */
export const NEED_ADDRESS_THRESHOLD = 1000;

/** A pexResponse never carries more than this many addresses. CometBFT: 250. */
export const MAX_GET_SELECTION = 250;
/** …nor fewer than this many when the book has them. CometBFT: 32. */
export const MIN_GET_SELECTION = 32;
/** …and otherwise this share of the book, so one response never reveals the whole book. CometBFT: 23. */
export const GET_SELECTION_PERCENT = 23;

/** An address tried this recently is never judged bad: the dial may still be in flight. */
export const RECENT_ATTEMPT_GRACE_MS = 60 * 1000;
/** A never-connected address nobody has advertised for this long is stale. CometBFT numMissingDays: 7. */
export const STALE_AFTER_MS = 7 * 24 * 60 * 60 * 1000;
/** Failed attempts after which a never-connected address is bad. CometBFT numRetries: 3. */
export const MAX_ATTEMPTS_WITHOUT_SUCCESS = 3;
/** Failed attempts after which a once-good address is bad, if its last success is old. CometBFT maxFailures: 10. */
export const MAX_FAILURES_SINCE_SUCCESS = 10;
/** …where "old" means this long ago. CometBFT minBadDays: 7. */
export const FAILURE_WINDOW_AFTER_SUCCESS_MS = 7 * 24 * 60 * 60 * 1000;

/** Banned node ids remembered at once; past this the ban closest to expiry is forgotten first. */
export const MAX_BANNED_NODE_IDS = 1024;
/** Longest ban accepted by markBad. */
export const MAX_BAN_MS = 365 * 24 * 60 * 60 * 1000;

/** Length of the secret key that salts bucket placement (per book, persisted). */
export const BUCKET_KEY_BYTES = 32;
/** Storage key the book is saved under. */
export const ADDRESS_BOOK_STORAGE_KEY = 'address-book';
/** Version of the persisted format; a different version loads as an empty book with a warning. */
export const ADDRESS_BOOK_FORMAT_VERSION = 1;
/** A stored book larger than this is not parsed (a full book is ~6 MB of JSON). */
export const MAX_ADDRESS_BOOK_BYTES = 32 * 1024 * 1024;
/** Default period of startAutoSave. CometBFT dumpAddressInterval: 2 minutes. */
export const AUTO_SAVE_INTERVAL_MS = 2 * 60 * 1000;

/** Bucket geometry and thresholds; scale them down for tests and simulations, keep the structure. */
export interface AddressBookConfig {
  /** @default 256 */
  newBucketCount: number;
  /** @default 64 */
  oldBucketCount: number;
  /** Entries per bucket. @default 64 */
  bucketSize: number;
  /** @default 32 */
  newBucketsPerSourceGroup: number;
  /** @default 4 */
  oldBucketsPerGroup: number;
  /** @default 4 */
  maxNewBucketsPerAddress: number;
  /** @default 8 */
  maxAddressesPerNodeId: number;
  /** needMoreAddresses() is true below this size. @default 1000 */
  needAddressThreshold: number;
  /** @default 1024 */
  maxBannedNodeIds: number;
}

export const DEFAULT_ADDRESS_BOOK_CONFIG: Readonly<AddressBookConfig> = Object.freeze({
  newBucketCount: NEW_BUCKET_COUNT,
  oldBucketCount: OLD_BUCKET_COUNT,
  bucketSize: BUCKET_SIZE,
  newBucketsPerSourceGroup: NEW_BUCKETS_PER_SOURCE_GROUP,
  oldBucketsPerGroup: OLD_BUCKETS_PER_GROUP,
  maxNewBucketsPerAddress: MAX_NEW_BUCKETS_PER_ADDRESS,
  maxAddressesPerNodeId: MAX_ADDRESSES_PER_NODE_ID,
  needAddressThreshold: NEED_ADDRESS_THRESHOLD,
  maxBannedNodeIds: MAX_BANNED_NODE_IDS,
});

// Upper limits keep a typo from allocating millions of buckets.
const MAX_BUCKET_COUNT = 4096;
const MAX_BUCKET_SIZE = 1024;

/** Merges `partial` over the defaults and rejects impossible combinations with ConfigError. */
export function resolveAddressBookConfig(partial: Partial<AddressBookConfig> = {}): AddressBookConfig {
  const config: AddressBookConfig = { ...DEFAULT_ADDRESS_BOOK_CONFIG };
  for (const name of Object.keys(DEFAULT_ADDRESS_BOOK_CONFIG) as (keyof AddressBookConfig)[]) {
    const value = partial[name];
    if (value !== undefined) config[name] = value;
  }
  // Scaled-down geometry (tests, simulations) scales the per-group limits with it unless they were given.
  if (partial.newBucketsPerSourceGroup === undefined) {
    config.newBucketsPerSourceGroup = Math.min(config.newBucketsPerSourceGroup, config.newBucketCount);
  }
  if (partial.oldBucketsPerGroup === undefined) config.oldBucketsPerGroup = Math.min(config.oldBucketsPerGroup, config.oldBucketCount);
  if (partial.maxNewBucketsPerAddress === undefined) {
    config.maxNewBucketsPerAddress = Math.min(config.maxNewBucketsPerAddress, config.newBucketCount);
  }
  const check = (name: keyof AddressBookConfig, min: number, max: number): void => {
    const value = config[name];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError('ERR_INVALID_CONFIG', `Address book ${name} must be an integer in ${min}..${max}, got ${String(value)}`, {
        detail: { [name]: value },
      });
    }
  };
  check('newBucketCount', 1, MAX_BUCKET_COUNT);
  check('oldBucketCount', 1, MAX_BUCKET_COUNT);
  check('bucketSize', 1, MAX_BUCKET_SIZE);
  check('newBucketsPerSourceGroup', 1, config.newBucketCount);
  check('oldBucketsPerGroup', 1, config.oldBucketCount);
  check('maxNewBucketsPerAddress', 1, config.newBucketCount);
  check('maxAddressesPerNodeId', 1, 1024);
  check('needAddressThreshold', 0, Number.MAX_SAFE_INTEGER);
  check('maxBannedNodeIds', 0, 1_000_000);
  return config;
}
