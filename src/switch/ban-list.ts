import { formatAddress, parseAddress } from '../transport/address.js';
import { sameHostKey } from '../transport/ip.js';
import { MAX_BAN_ENTRIES } from './constants.js';
import { systemClock } from '../util/clock.js';

/**
 * Node ids and addresses that may not connect until a deadline. Banning an address bans that address
 * and the node id in it; hosts are not banned, since many honest nodes may share one (NAT, a relay
 * machine). Expired entries are dropped when looked at, and swept when the list is full, so it needs
 * no timer; at most `maxEntries` are held (when all are live, the one closest to expiry gives way).
 */
export class BanList {
  private readonly until = new Map<string, number>();

  constructor(
    /** Milliseconds; the switch passes its clock's. */
    private readonly now: () => number = systemClock.now,
    readonly maxEntries: number = MAX_BAN_ENTRIES,
  ) {}

  get size(): number {
    return this.until.size;
  }

  /** `target`: a node id or an address. */
  ban(target: string, durationMs: number): void {
    const expires = this.now() + durationMs;
    for (const key of keysOf(target)) {
      if (!this.until.has(key)) this.makeRoom();
      this.until.set(key, Math.max(expires, this.until.get(key) ?? 0));
    }
  }

  private makeRoom(): void {
    if (this.until.size < this.maxEntries) return;
    const now = this.now();
    for (const [key, expires] of this.until) if (expires <= now) this.until.delete(key);
    while (this.until.size >= this.maxEntries) {
      let soonest: string | undefined;
      let soonestExpiry = Number.POSITIVE_INFINITY;
      for (const [key, expires] of this.until) {
        if (expires < soonestExpiry) {
          soonest = key;
          soonestExpiry = expires;
        }
      }
      this.until.delete(soonest!);
    }
  }

  unban(target: string): void {
    for (const key of keysOf(target)) this.until.delete(key);
  }

  /** Whether a node id, address, or host is banned now. */
  isBanned(target: string): boolean {
    // The usual case, asked for every address the PEX planner looks at: nothing banned, nothing to parse.
    if (this.until.size === 0) return false;
    for (const key of keysOf(target)) {
      const expires = this.until.get(key);
      if (expires === undefined) continue;
      if (expires > this.now()) return true;
      this.until.delete(key);
    }
    return false;
  }

  /** Active bans, for status and persistence. */
  entries(): { target: string; untilMs: number }[] {
    const now = this.now();
    return [...this.until].filter(([, expires]) => expires > now).map(([target, untilMs]) => ({ target, untilMs }));
  }
}

function keysOf(target: string): string[] {
  if (!target.includes('://')) return [target.toLowerCase()];
  try {
    const address = parseAddress(target);
    // [::ffff:a.b.c.d] is a.b.c.d (the same socket address): one key, or a ban is dodged by respelling it.
    const keys = [formatAddress({ ...address, host: address.host.includes(':') ? sameHostKey(address.host) : address.host, nodeId: undefined })];
    if (address.nodeId !== undefined) keys.push(address.nodeId);
    return keys;
  } catch {
    return [target];
  }
}
