import type { SerializedBan, SerializedEntry } from './address-book-format.js';
import { BANNED_ENTRY_OVERHEAD_BYTES, MAX_BANNED_ENTRY_BYTES } from './constants.js';

/** What a banned node's entry costs the ban list (and the saved book): its strings and the rest of its record. */
export function bannedEntryBytes(entry: SerializedEntry): number {
  return entry.address.length + entry.source.length + BANNED_ENTRY_OVERHEAD_BYTES;
}

function entriesBytes(entries: readonly SerializedEntry[]): number {
  let bytes = 0;
  for (const entry of entries) bytes += bannedEntryBytes(entry);
  return bytes;
}

/**
 * Banned node ids with their expiry and the entries they had, so that an expired ban can put the
 * addresses back (CometBFT's badPeers / ReinstateBadPeers). Bounded: past `capacity` the ban that
 * ends soonest is forgotten first, so a flood of misbehaving ids cannot grow memory; and the entries
 * kept with them are bounded in bytes (`maxEntryBytes`): past it the ban keeping the most gives up
 * entries to a ban that would keep less, else the new entries are not kept.
 */
export class BanList {
  private readonly records = new Map<string, SerializedBan>();
  /** bannedEntryBytes of every entry held, across the records. */
  private entryBytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxEntryBytes: number = MAX_BANNED_ENTRY_BYTES,
  ) {}

  /** What the entries held cost (bannedEntryBytes), for stats and tests. */
  get heldEntryBytes(): number {
    return this.entryBytes;
  }

  get size(): number {
    return this.records.size;
  }

  isBanned(nodeId: string, nowMs: number): boolean {
    const record = this.records.get(nodeId);
    return record !== undefined && record.bannedUntil > nowMs;
  }

  bannedUntil(nodeId: string): number | undefined {
    return this.records.get(nodeId)?.bannedUntil;
  }

  /** Bans (or extends the ban of) `nodeId` until `untilMs`; `entries` join those already held. */
  ban(nodeId: string, untilMs: number, entries: readonly SerializedEntry[]): void {
    const record = this.records.get(nodeId);
    if (record !== undefined) {
      record.bannedUntil = Math.max(record.bannedUntil, untilMs);
      const held = new Set(record.entries.map((entry) => entry.address));
      this.keep(record, entries.filter((entry) => !held.has(entry.address)));
      return;
    }
    if (this.capacity === 0) return;
    if (this.records.size >= this.capacity) this.forgetSoonestEnding();
    const created: SerializedBan = { nodeId, bannedUntil: untilMs, entries: [] };
    this.records.set(nodeId, created);
    this.keep(created, entries);
  }

  /**
   * Adds `entries` to `record` while the list's entry bytes allow. Past them, the ban keeping the most
   * bytes of entries gives up its last ones while it would still keep more than `record`; else the
   * entry is not kept. A liar's fat entries (8 addresses of a kilobyte per id) are the first to go: when
   * they filled the bound, every later ban, an honest node's few small entries too, kept none, and its
   * addresses never came back when it ended.
   */
  private keep(record: SerializedBan, entries: readonly SerializedEntry[]): void {
    for (const entry of entries) {
      const bytes = bannedEntryBytes(entry);
      if (this.entryBytes + bytes > this.maxEntryBytes && !this.makeRoom(record, bytes)) continue;
      this.entryBytes += bytes;
      record.entries.push(entry);
    }
  }

  /** Frees `bytes` of entry bytes from the bans keeping more than `record` would (see keep); false when it cannot. */
  private makeRoom(record: SerializedBan, bytes: number): boolean {
    const wouldKeep = entriesBytes(record.entries) + bytes;
    // A scan of the bans (≤ capacity, a few entries each) per entry given up: only while over the bound.
    while (this.entryBytes + bytes > this.maxEntryBytes) {
      let fattest: SerializedBan | undefined;
      let fattestBytes = 0;
      for (const other of this.records.values()) {
        const held = other === record ? 0 : entriesBytes(other.entries);
        if (held > fattestBytes) [fattest, fattestBytes] = [other, held];
      }
      if (fattest === undefined || fattestBytes - bannedEntryBytes(fattest.entries.at(-1)!) < wouldKeep) return false;
      this.entryBytes -= bannedEntryBytes(fattest.entries.pop()!);
    }
    return true;
  }

  private remove(record: SerializedBan): void {
    this.records.delete(record.nodeId);
    for (const entry of record.entries) this.entryBytes -= bannedEntryBytes(entry);
  }

  /** Removes and returns the bans that have ended, for reinstatement. */
  takeExpired(nowMs: number): SerializedBan[] {
    const expired: SerializedBan[] = [];
    for (const record of this.records.values()) if (record.bannedUntil <= nowMs) expired.push(record);
    for (const record of expired) this.remove(record);
    return expired;
  }

  /** Copies for persistence. */
  list(): SerializedBan[] {
    return [...this.records.values()].map((record) => ({ ...record, entries: [...record.entries] }));
  }

  clear(): void {
    this.records.clear();
    this.entryBytes = 0;
  }

  private forgetSoonestEnding(): void {
    let soonest: SerializedBan | undefined;
    for (const record of this.records.values()) {
      if (soonest === undefined || record.bannedUntil < soonest.bannedUntil) soonest = record;
    }
    if (soonest !== undefined) this.remove(soonest);
  }
}
