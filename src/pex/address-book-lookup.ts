import { formatAddress, isNodeId } from '../transport/address.js';
import type { AddressTables } from './address-book-tables.js';
import { canonicalAddress } from '../transport/canonical-address.js';
import type { KnownAddress } from './known-address.js';

/** Most of the book's methods take an address or a node id: how either is read. */

/**
 * The entry meant by an address or a node id. For an id with several addresses: the one tried
 * most recently (most likely the one just dialled), old before new on a tie.
 */
export function resolveEntry(tables: AddressTables, addressOrId: string): KnownAddress | undefined {
  // Callers mostly pass an address the book handed out, already in its canonical spelling (which no
  // node id is): found without parsing.
  const exact = tables.byAddress.get(addressOrId);
  if (exact !== undefined) return exact;
  const id = addressOrId.toLowerCase();
  if (isNodeId(id)) {
    let best: KnownAddress | undefined;
    for (const entry of tables.byNodeId.entriesOf(id)) {
      if (
        best === undefined ||
        entry.lastAttempt > best.lastAttempt ||
        (entry.lastAttempt === best.lastAttempt && entry.bucketType === 'old' && best.bucketType === 'new')
      ) {
        best = entry;
      }
    }
    return best;
  }
  const parsed = canonicalAddress(addressOrId);
  return parsed === undefined ? undefined : tables.byAddress.get(formatAddress(parsed));
}

/** The node id an address or id names, or undefined. */
export function nodeIdOf(addressOrId: string): string | undefined {
  const id = addressOrId.toLowerCase();
  return isNodeId(id) ? id : canonicalAddress(addressOrId)?.nodeId;
}

/** Every entry of a node id, or the one entry an address names (none when the book lacks it). */
export function entriesNamed(tables: AddressTables, addressOrId: string): KnownAddress[] {
  const id = nodeIdOf(addressOrId);
  return id !== undefined && id === addressOrId.toLowerCase()
    ? [...tables.byNodeId.entriesOf(id)]
    : [resolveEntry(tables, addressOrId)].filter((entry): entry is KnownAddress => entry !== undefined);
}

/**
 * Marks the entries of `nodeId` at the addresses it claims (never a bare id) that we reached as
 * confirmed at `nowMs` (AddressBook.confirmInbound); true when any was.
 */
export function confirmClaims(tables: AddressTables, nodeId: string, claimed: readonly string[], nowMs: number): boolean {
  let confirmed = false;
  for (const address of claimed) {
    const entry = nodeIdOf(address) === address.toLowerCase() ? undefined : resolveEntry(tables, address);
    if (entry === undefined || entry.nodeId !== nodeId || entry.lastSuccess === 0) continue;
    entry.lastClaimedInbound = nowMs;
    confirmed = true;
  }
  return confirmed;
}
