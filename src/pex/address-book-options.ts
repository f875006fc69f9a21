import type { Storage } from '../storage/storage.js';
import type { Clock } from '../util/clock.js';
import type { AddressBookConfig } from './config.js';

/** What an AddressBook is given and what it reports: the book's public shapes. */

/** What tryAddAddresses did with a batch. */
export interface BatchOutcome {
  /** New entries made. */
  readonly added: number;
  /** The first address that does not parse or names no node; when set, nothing was added. */
  readonly refused?: { readonly address: string; readonly outcome: 'invalid-address' | 'no-node-id' };
}

export interface AddressBookOptions extends Partial<AddressBookConfig> {
  /** Our node id: addresses naming it are refused. */
  ourNodeId?: string;
  /** Addresses we listen on, as for addOurAddress(). */
  ourAddresses?: readonly string[];
  /** Also accept loopback, private, link-local and reserved hosts and memory:// (tests, LANs). @default false */
  allowLocal?: boolean;
  /** Where save() and load() keep the book. */
  storage?: Storage;
  /** @default 'address-book' */
  storageKey?: string;
  /** Time and timers (auto-save). @default systemClock */
  clock?: Clock;
  /** Time in ms, overriding `clock.now`. @default clock.now */
  now?: () => number;
  /** Uniform [0, 1) source for bucket picks and samples (not for the bucket key). @default Math.random */
  random?: () => number;
  /** 32-byte secret salting bucket placement. @default random bytes; load() replaces it with the stored one */
  bucketKey?: Uint8Array;
  /** Receives load() warnings and auto-save failures. */
  onWarning?: (message: string) => void;
}

export interface AddressBookStats {
  readonly size: number;
  readonly newCount: number;
  readonly oldCount: number;
  readonly capacity: number;
  readonly bannedCount: number;
  readonly nonEmptyNewBuckets: number;
  readonly nonEmptyOldBuckets: number;
  /** Tried-table collisions waiting for a test of the entry they would evict. */
  readonly pendingCollisions: number;
}

export interface LoadResult {
  /** Entries in the book after loading. */
  readonly loaded: number;
  /** Stored entries dropped (malformed, now refused, over capacity). */
  readonly skipped: number;
  /** Set when the stored value was unreadable, corrupt or partly invalid; the book is then empty or partial. */
  readonly warning?: string;
}
