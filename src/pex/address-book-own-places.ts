import { parseAddress } from '../transport/address.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import type { AddressTables } from './address-book-tables.js';
import { MAX_OUR_PLACES, OUR_PLACE_SWEEP_BURST, OUR_PLACE_SWEEP_INTERVAL_MS } from './constants.js';
import { locationOfCanonical } from './known-address.js';

/**
 * Removes the book's entries at places that became ours. Each sweep parses every entry (375 ms of
 * blocked event loop for a book of 65,536), and a gateway chooses our external places: one moving our
 * mapping at every renewal (NAT-PMP grants leases down to 1 s) made a sweep of each move, twice a second
 * per port. So sweeps are paced, OUR_PLACE_SWEEP_BURST at once and one per OUR_PLACE_SWEEP_INTERVAL_MS
 * after, and one sweep takes every place waiting. Such a place is refused as ours at once (the book's
 * admission knows it); only the entries already there wait, to be dialled (a connection to ourselves,
 * refused) or handed out meanwhile, as they were before we knew the place was ours.
 */
export class OwnPlaceSweeps {
  /** Places declared ours whose entries are still in the book: at most MAX_OUR_PLACES, the latest. */
  private readonly waiting = new Set<string>();
  private readonly allowance: TokenBucketState;

  constructor(
    private readonly tables: AddressTables,
    private readonly now: () => number,
    private readonly onRemoved: () => void,
  ) {
    this.allowance = fullBucket(OUR_PLACE_SWEEP_BURST, now());
  }

  /** `location` has just become ours: its entries go now, or at the next sweep the pace allows. */
  add(location: string): void {
    this.waiting.add(location);
    if (this.waiting.size > MAX_OUR_PLACES) this.waiting.delete(this.waiting.values().next().value!);
    this.sweep();
  }

  /** Sweeps the places waiting, if the pace allows one now. */
  sweep(): void {
    if (this.waiting.size === 0 || !refillBucket(this.allowance, OUR_PLACE_SWEEP_BURST, 1 / OUR_PLACE_SWEEP_INTERVAL_MS, this.now())) return;
    this.allowance.tokens -= 1;
    let removed = false;
    for (const entry of [...this.tables.all]) {
      // Entries are in canonical form (AddressAdmission admitted them): no second canonicalisation each.
      if (this.waiting.has(locationOfCanonical(parseAddress(entry.address)))) {
        this.tables.remove(entry);
        removed = true;
      }
    }
    this.waiting.clear();
    if (removed) this.onRemoved();
  }
}
