import type { SerializedBan, SerializedEntry } from './address-book-format.js';

/**
 * Banned node ids with their expiry and the entries they had, so that an expired ban can put the
 * addresses back (CometBFT's badPeers / ReinstateBadPeers). Bounded: past `capacity` the ban that
 * ends soonest is forgotten first, so a flood of misbehaving ids cannot grow memory.
 */
export class BanList {
  private readonly records = new Map<string, SerializedBan>();

  constructor(private readonly capacity: number) {}

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
      for (const entry of entries) if (!held.has(entry.address)) record.entries.push(entry);
      return;
    }
    if (this.capacity === 0) return;
    if (this.records.size >= this.capacity) this.forgetSoonestEnding();
    this.records.set(nodeId, { nodeId, bannedUntil: untilMs, entries: [...entries] });
  }

  /** Removes and returns the bans that have ended, for reinstatement. */
  takeExpired(nowMs: number): SerializedBan[] {
    const expired: SerializedBan[] = [];
    for (const record of this.records.values()) if (record.bannedUntil <= nowMs) expired.push(record);
    for (const record of expired) this.records.delete(record.nodeId);
    return expired;
  }

  /** Copies for persistence. */
  list(): SerializedBan[] {
    return [...this.records.values()].map((record) => ({ ...record, entries: [...record.entries] }));
  }

  clear(): void {
    this.records.clear();
  }

  private forgetSoonestEnding(): void {
    let soonest: SerializedBan | undefined;
    for (const record of this.records.values()) {
      if (soonest === undefined || record.bannedUntil < soonest.bannedUntil) soonest = record;
    }
    if (soonest !== undefined) this.records.delete(soonest.nodeId);
  }
}
