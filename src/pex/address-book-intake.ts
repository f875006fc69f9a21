import { AddressAdmission, newEntry, type AddOutcome, type Candidate, type Rejection } from './address-book-admission.js';
import type { BanList } from './address-book-bans.js';
import type { SerializedEntry } from './address-book-format.js';
import type { BatchOutcome } from './address-book-options.js';
import type { AddressTables } from './address-book-tables.js';
import type { AddressBookConfig } from './config.js';
import type { KnownAddress } from './known-address.js';

/**
 * Every way into the address book: a peer's address, a peer's answer as one batch, a saved entry, an
 * expired ban's entries. Each passes AddressAdmission, then the book's caps (entries per source group,
 * addresses per node id), then is filed in the tables. `onChange` runs whenever the tables changed, so
 * the book knows it has something to save.
 */
export class AddressIntake {
  constructor(
    private readonly tables: AddressTables,
    private readonly admission: AddressAdmission,
    private readonly bans: BanList,
    private readonly config: Readonly<AddressBookConfig>,
    private readonly onChange: () => void,
  ) {}

  /** AddressBook.tryAddAddress at `nowMs`. */
  add(address: string, source: string, nowMs: number): AddOutcome {
    const checked = this.check(address, source, nowMs);
    return typeof checked === 'string' ? checked : this.addChecked(checked, source, nowMs);
  }

  /** AddressBook.tryAddAddresses at `nowMs`. */
  addBatch(addresses: readonly string[], source: string, maxNew: number, nowMs: number, trusted = false): BatchOutcome {
    const checked: (KnownAddress | Candidate | Rejection)[] = [];
    for (const address of addresses) {
      const item = this.check(address, source, nowMs);
      if (item === 'invalid-address' || item === 'no-node-id') return { added: 0, refused: { address, outcome: item } };
      checked.push(item);
    }
    let added = 0;
    for (const item of checked) {
      // Past maxNew, addresses we know still count as named by this source (corroboration, a seed's vouching).
      if (typeof item === 'string' || (added >= maxNew && !isKnownAddress(item))) continue;
      const outcome = this.addChecked(item, source, nowMs);
      if (outcome === 'added') added++;
      else if (outcome === 'known' && trusted) this.vouch(item, source);
    }
    return { added };
  }

  /** A trusted `source` named an address we knew from another: credit it to that source (see creditedSource). */
  private vouch(item: KnownAddress | Candidate, source: string): void {
    const entry = this.tables.byAddress.get(item.address);
    const sourceNodeId = this.admission.examineSource(source)?.sourceNodeId ?? '';
    if (entry !== undefined && sourceNodeId !== '' && entry.sourceNodeId !== sourceNodeId) entry.vouchedBy = sourceNodeId;
  }

  /** AddressBook.reinstateExpiredBans at `nowMs`: an ended ban's entries come back as new ones. */
  reinstateExpiredBans(nowMs: number): number {
    let reinstated = 0;
    for (const ban of this.bans.takeExpired(nowMs)) {
      for (const saved of ban.entries.slice(0, this.config.maxAddressesPerNodeId)) {
        if (this.restore(saved, nowMs, false, true)) reinstated++;
      }
      this.onChange();
    }
    return reinstated;
  }

  /**
   * Re-inserts a persisted or banned entry after the same checks addAddress makes (the per-source cap
   * included). Returns false when the entry was dropped.
   */
  restore(saved: SerializedEntry, nowMs: number, sameGeometry: boolean, forceNew: boolean): boolean {
    const candidate = this.admission.examine(saved.address, saved.source, nowMs);
    if (typeof candidate === 'string' || this.tables.byAddress.has(candidate.address)) return false;
    if (this.tables.entriesFromSourceGroup(candidate.sourceGroup) >= this.config.maxAddressesPerSourceGroup) return false;
    if (!this.tables.makeRoomForNode(candidate.nodeId, nowMs)) return false;
    const entry = newEntry(candidate, nowMs);
    // Times from a clock that ran ahead would make an entry look fresh forever.
    entry.attempts = Math.min(saved.attempts, 1_000_000);
    entry.lastAttempt = Math.min(saved.lastAttempt, nowMs);
    entry.lastSuccess = Math.min(saved.lastSuccess, nowMs);
    entry.lastSeen = Math.min(saved.lastSeen, nowMs);
    entry.lastBanTime = Math.min(saved.lastBanTime, nowMs);
    entry.lastRefusal = Math.min(saved.lastRefusal ?? 0, nowMs);
    entry.lastClaimedInbound = Math.min(saved.lastClaimedInbound ?? 0, nowMs);
    // Corroborated means named from a second source group: the entry's own cannot be it.
    if (saved.corroboratedBy !== undefined && saved.corroboratedBy !== candidate.sourceGroup) entry.corroboratedBy = saved.corroboratedBy;
    this.tables.restore(entry, saved, nowMs, sameGeometry, forceNew);
    return true;
  }

  /** The entry when the book holds `address` as written (it passed examine() then), else examine()'s verdict. */
  private check(address: string, source: string, nowMs: number): KnownAddress | Candidate | Rejection {
    return this.tables.byAddress.get(address) ?? this.admission.examine(String(address), String(source), nowMs);
  }

  private addChecked(checked: KnownAddress | Candidate, source: string, nowMs: number): AddOutcome {
    if (isKnownAddress(checked)) {
      const examinedSource = this.admission.examineSource(String(source));
      if (examinedSource === undefined) return 'invalid-source';
      // In a batch, an insert before this one may have evicted it: then it comes in afresh, as it would
      // have if the addresses had been added one by one.
      if (this.tables.byAddress.get(checked.address) !== checked) {
        const again = this.admission.examine(checked.address, source, nowMs);
        return typeof again === 'string' ? again : this.addChecked(again, source, nowMs);
      }
      this.tables.addReference(checked, examinedSource.sourceGroup, nowMs);
      this.onChange();
      return 'known';
    }
    const candidate = checked;
    const existing = this.tables.byAddress.get(candidate.address);
    if (existing !== undefined) {
      this.tables.addReference(existing, candidate.sourceGroup, nowMs);
      this.onChange();
      return 'known';
    }
    if (this.tables.entriesFromSourceGroup(candidate.sourceGroup) >= this.config.maxAddressesPerSourceGroup) return 'source-full';
    // The node's own word about itself may displace hearsay about it (see makeRoomForNode).
    if (!this.tables.makeRoomForNode(candidate.nodeId, nowMs, candidate.sourceNodeId === candidate.nodeId)) return 'too-many-addresses';
    this.onChange();
    return this.tables.insertNewIfRoom(newEntry(candidate, nowMs), nowMs) ? 'added' : 'bucket-full';
  }
}

function isKnownAddress(item: KnownAddress | Candidate): item is KnownAddress {
  return 'bucketType' in item;
}
