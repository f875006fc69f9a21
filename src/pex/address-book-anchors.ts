import { nodeIdOf } from './address-book-lookup.js';
import { MAX_STORED_ANCHORS } from './constants.js';
import { canonicalAddress } from '../transport/canonical-address.js';

/**
 * The outbound peers to dial first at the next start (Bitcoin's anchors), kept by the address book and
 * saved with it. Only addresses naming a node are kept (an anchor is dialled without asking anyone, so
 * it must be authenticated), at most MAX_STORED_ANCHORS; a banned node's anchors go with its entries.
 */
export class AnchorList {
  private addresses: string[] = [];

  /** Replaces the anchors with the first MAX_STORED_ANCHORS distinct `addresses` that name a node. */
  replace(addresses: readonly string[]): void {
    this.addresses = [...new Set(addresses)].filter(namesNode).slice(0, MAX_STORED_ANCHORS);
  }

  /** Takes the anchors of a loaded book (the stored form caps their number), leaving out banned ones. */
  restore(addresses: readonly string[], isBanned: (address: string) => boolean): void {
    this.addresses = addresses.filter((anchor) => namesNode(anchor) && !isBanned(anchor));
  }

  /** Drops the anchors naming `nodeId` (it was banned). */
  forgetNode(nodeId: string): void {
    this.addresses = this.addresses.filter((anchor) => nodeIdOf(anchor) !== nodeId);
  }

  /** A copy: the caller may keep or change it. */
  list(): string[] {
    return [...this.addresses];
  }

  clear(): void {
    this.addresses = [];
  }
}

function namesNode(address: string): boolean {
  return canonicalAddress(address)?.nodeId !== undefined;
}
