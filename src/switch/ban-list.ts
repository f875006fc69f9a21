import { ConfigError } from '../errors.js';
import { formatAddress, parseAddress } from '../transport/address.js';
import { canonicalForm } from '../transport/canonical-address.js';
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
  /**
   * Every ban as (key, expiry) in a binary min-heap by expiry, so that the ban that ends soonest is found
   * in O(log n): a full list scanned all its bans twice per new key, 0.33 ms per ban of an address at
   * 10,000 (60 times an empty list's), for peers that get themselves banned with fresh keys. A pair whose
   * key has since been lifted, dropped or extended is stale and skipped when it comes up; the heap is
   * rebuilt from the map when stale pairs outnumber live ones.
   */
  private heap: { key: string; expires: number }[] = [];
  /**
   * Bans held of an address (a key with `://`), not of a node id alone. While there are none (a peer's
   * misbehaviour bans its id), an address is looked up by the node id at its start, unparsed: a seed's
   * crawl asks for every address in its book each round, and with one ban held each was parsed and made
   * canonical (a book of 54,000 long addresses: 350 ms a round, 60–80 ms with none).
   */
  private addressBans = 0;

  constructor(
    /**
     * Milliseconds the bans run on; the switch passes its clock's monotonicNow(): the list is not kept
     * across restarts, and on the wall clock a step back (NTP, a VM restored) kept a peer banned for
     * 10 minutes out for 70, a step forward let every banned peer back at once.
     */
    private readonly now: () => number = systemClock.now,
    readonly maxEntries: number = MAX_BAN_ENTRIES,
    /** The wall clock `entries()` reports on (for status and persistence). @default `now` */
    private readonly wallNow: () => number = now,
  ) {}

  get size(): number {
    return this.until.size;
  }

  /** `target`: a node id or an address. */
  ban(target: string, durationMs: number): void {
    // NaN never equals itself, so its heap pair would pass for stale: a ban never given way, one more past maxEntries each.
    if (Number.isNaN(durationMs)) throw new ConfigError('ERR_INVALID_ARGUMENT', 'A ban needs a duration in milliseconds, not NaN');
    const expires = this.now() + durationMs;
    for (const key of keysOf(target)) {
      const held = this.until.get(key);
      if (held === undefined) this.makeRoom();
      if (held !== undefined && held >= expires) continue;
      if (held === undefined && key.includes('://')) this.addressBans += 1;
      this.until.set(key, expires);
      this.push({ key, expires });
    }
  }

  /** When full: the expired bans go, then (still full) the one that ends soonest. */
  private makeRoom(): void {
    if (this.until.size < this.maxEntries) return;
    const now = this.now();
    while (this.heap.length > 0) {
      const { key, expires } = this.heap[0]!;
      const live = this.until.get(key) === expires;
      if (live && expires > now && this.until.size < this.maxEntries) return;
      this.pop();
      if (live) this.forget(key);
    }
  }

  private push(item: { key: string; expires: number }): void {
    const heap = this.heap;
    if (heap.length > 2 * this.until.size + 64) return this.rebuild();
    heap.push(item);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.expires <= item.expires) break;
      heap[i] = heap[parent]!;
      heap[parent] = item;
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && heap[left]!.expires < heap[least]!.expires) least = left;
      if (right < heap.length && heap[right]!.expires < heap[least]!.expires) least = right;
      if (least === i) return;
      [heap[i], heap[least]] = [heap[least]!, heap[i]!];
      i = least;
    }
  }

  /** The heap again from the live bans only (the map), sorted: a sorted array is a min-heap. */
  private rebuild(): void {
    this.heap = [...this.until].map(([key, expires]) => ({ key, expires })).sort((a, b) => a.expires - b.expires);
  }

  unban(target: string): void {
    for (const key of keysOf(target)) this.forget(key);
  }

  private forget(key: string): void {
    if (this.until.delete(key) && key.includes('://')) this.addressBans -= 1;
  }

  /** Whether a node id, address, or host is banned now. */
  isBanned(target: string): boolean {
    // The usual case, asked for every address the PEX planner looks at: nothing banned, nothing to parse.
    if (this.until.size === 0) return false;
    for (const key of this.addressBans === 0 ? nodeIdKeysOf(target) : keysOf(target)) {
      const expires = this.until.get(key);
      if (expires === undefined) continue;
      if (expires > this.now()) return true;
      this.forget(key);
    }
    return false;
  }

  /** Active bans, for status and persistence: `untilMs` on the wall clock (`wallNow`). */
  entries(): { target: string; untilMs: number }[] {
    const now = this.now();
    const toWallMs = this.wallNow === this.now ? 0 : this.wallNow() - now;
    return [...this.until].filter(([, expires]) => expires > now).map(([target, expires]) => ({ target, untilMs: expires + toWallMs }));
  }
}

/** `<protocol>://<40 hex>` then `@`, `?` or the end: where parseAddress finds the node id of an address. */
const LEADING_NODE_ID = /^[a-z][a-z0-9+.-]*:\/\/([0-9a-f]{40})(?:[@?]|$)/i;

/**
 * The node id key of `target` when only node ids are banned: read off the address's start without
 * parsing it (an address parseAddress would refuse may then count as its id's: it is dialled nowhere).
 */
function nodeIdKeysOf(target: string): string[] {
  if (!target.includes('://')) return [target.toLowerCase()];
  const nodeId = LEADING_NODE_ID.exec(target)?.[1];
  return nodeId === undefined ? keysOf(target) : [nodeId.toLowerCase()];
}

function keysOf(target: string): string[] {
  if (!target.includes('://')) return [target.toLowerCase()];
  try {
    // Canonical ([::ffff:a.b.c.d] is a.b.c.d, [2600:0::1] is [2600::1], `/a%62` is `/ab`, no query a
    // dialer ignores): one key per place, or a ban is dodged by respelling it.
    const address = canonicalForm(parseAddress(target)).address;
    const keys = [formatAddress({ ...address, nodeId: undefined })];
    if (address.nodeId !== undefined) keys.push(address.nodeId);
    return keys;
  } catch {
    return [target];
  }
}
