import { describe, expect, it } from 'vitest';
import type { SerializedEntry } from '../../src/pex/address-book-format.js';
import { BanList, bannedEntryBytes } from '../../src/pex/address-book-bans.js';
import { MAX_BANNED_ENTRY_BYTES, MAX_BANNED_NODE_IDS } from '../../src/pex/constants.js';
import { nodeId, publicHost, tcp } from './address-book-helpers.js';

const SOURCE = tcp(9999, publicHost(77));

function entry(address: string): SerializedEntry {
  return { address, source: SOURCE, attempts: 0, lastAttempt: 0, lastSuccess: 0, lastSeen: 0, lastBanTime: 0, bucketType: 'new', buckets: [] } as unknown as SerializedEntry;
}

/** A liar's entries for one id: 8 addresses of ~1 KiB (a long path). */
function fatEntries(id: number): SerializedEntry[] {
  return Array.from({ length: 8 }, (_, i) => entry(`ws://${nodeId(id)}@${publicHost(id)}:${1000 + i}/${'x'.repeat(1000)}`));
}

describe('the entries bans keep, past their byte bound', () => {
  it('a liar\'s fat entries give way to a later ban\'s few small ones, which come back when it ends', () => {
    const bans = new BanList(MAX_BANNED_NODE_IDS);
    // The liar's ids, banned one by one (ERR_INCOMPATIBLE_PEER once dialled), fill the bound.
    let id = 1;
    while (bans.heldEntryBytes + 8 * bannedEntryBytes(fatEntries(id)[0]!) <= MAX_BANNED_ENTRY_BYTES) bans.ban(nodeId(id), 10_000 + id, fatEntries(id++));
    // And one more whose address is sized to the last byte.
    const last = entry(`ws://${nodeId(id)}@${publicHost(id)}:1000/`);
    const room = MAX_BANNED_ENTRY_BYTES - bans.heldEntryBytes - bannedEntryBytes(last);
    bans.ban(nodeId(id), 10_000 + id, [entry(`${last.address}${'x'.repeat(room)}`)]);
    id++;
    expect(bans.heldEntryBytes).toBe(MAX_BANNED_ENTRY_BYTES);

    // An honest node banned for a while (a misbehaviour), with its two ordinary addresses.
    const honest = [entry(tcp(500, publicHost(200))), entry(`ws://${nodeId(500)}@${publicHost(200)}:443`)];
    bans.ban(nodeId(500), 5_000, honest);
    expect(bans.heldEntryBytes).toBeLessThanOrEqual(MAX_BANNED_ENTRY_BYTES);
    // Before: past the bound a ban kept none, so its addresses never came back.
    const ended = bans.takeExpired(5_000);
    expect(ended.map((ban) => ban.nodeId)).toEqual([nodeId(500)]);
    expect(ended[0]!.entries.map((kept) => kept.address)).toEqual(honest.map((kept) => kept.address));

    // Another liar's id: it takes from the fattest while they keep more than it would, within the bound.
    bans.ban(nodeId(id), 20_000, fatEntries(id));
    const bytesOf = (ban: { entries: SerializedEntry[] }): number => ban.entries.reduce((sum, kept) => sum + bannedEntryBytes(kept), 0);
    const newest = bytesOf(bans.list().find((ban) => ban.nodeId === nodeId(id))!);
    expect(newest).toBeGreaterThan(0);
    expect(newest).toBeLessThanOrEqual(Math.max(...bans.list().filter((ban) => ban.nodeId !== nodeId(id)).map(bytesOf)));
    expect(bans.heldEntryBytes).toBeLessThanOrEqual(MAX_BANNED_ENTRY_BYTES);
  });
});
