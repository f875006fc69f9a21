import { ConfigError } from '../errors.js';
import { visitRandomIndices } from './address-book-buckets.js';
import type { AddressTables } from './address-book-tables.js';
import { ANSWER_VISITS_PER_ADDRESS, GET_SELECTION_PERCENT, GROUP_FAIR_PICK_DRAWS, MAX_GET_SELECTION, MIN_GET_SELECTION } from './constants.js';
import { isBad, isCorroborated, isFirstHand, type KnownAddress } from './known-address.js';

/**
 * The book's random draws: the address to dial next (AddressBook.pickAddress) and the samples a PEX
 * answer is made of (getSelection, sampleFirstHand). Each reads the tables and changes nothing.
 */

/**
 * A random address to dial, from the old or the new table with CometBFT's weighting (see
 * AddressBook.pickAddress), then a group-fair pick from a bucket of that table.
 */
export function pickDialAddress(tables: AddressTables, random: () => number, biasTowardsNewPercent: number): string | undefined {
  if (typeof biasTowardsNewPercent !== 'number' || Number.isNaN(biasTowardsNewPercent)) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `bias must be a number in 0..100, got ${String(biasTowardsNewPercent)}`);
  }
  const bias = Math.min(100, Math.max(0, biasTowardsNewPercent));
  const oldCount = tables.oldCount;
  const newCount = tables.size - oldCount;
  if (oldCount + newCount === 0) return undefined;
  const oldWeight = Math.sqrt(oldCount) * (100 - bias);
  const newWeight = Math.sqrt(newCount) * bias;
  let fromOld = random() * (oldWeight + newWeight) < oldWeight;
  if (fromOld && oldCount === 0) fromOld = false;
  if (!fromOld && newCount === 0) fromOld = true;
  const table = fromOld ? tables.oldTable : tables.newTable;
  // Each network group about equally likely, whatever its number of entries: a bucket pick alone
  // weighs groups so only once the book is full (addrman's regime); in a sparse book every entry is
  // alone in its bucket, and whoever has many addresses in few groups would be picked in proportion.
  // An entry in k new buckets is drawn k times as often: kept with 1/k more, so that many sources
  // naming one address (a coalition vouching for its own) do not make it likelier to be dialled.
  let picked = table.pick(random);
  for (let draw = 1; picked !== undefined && draw < GROUP_FAIR_PICK_DRAWS; draw++) {
    if (random() * tables.entriesInGroup(picked.group) * picked.buckets.length < 1) break;
    picked = table.pick(random);
  }
  return picked?.address;
}

/** How many addresses a PEX answer from a book of `bookSize` entries aims for (see AddressBook.selectionSize). */
export function selectionSizeFor(bookSize: number, max: number): number {
  const share = Math.max(Math.min(MIN_GET_SELECTION, bookSize), Math.floor((bookSize * GET_SELECTION_PERCENT) / 100));
  const wanted = Math.min(Math.floor(max), MAX_GET_SELECTION, share);
  return wanted > 0 ? wanted : 0;
}

/**
 * Up to `wanted` good addresses of `entries` that `accept` takes, visited in random order, at most
 * answerShareOfGroup(wanted) from one network group while other groups still have some: a uniform
 * sample is the answer of whoever holds the most entries, and one host holds up to a bucket of
 * first-hand ones (64 keys claiming ports of their own host), an honest node one. The others make
 * up the number when the groups run short (unless `fillFromCrowdedGroups` is false), so an answer never
 * shrinks for lack of diversity. `vettedOnly`: only entries first-hand or corroborated (named by two
 * source groups), the hearsay a PEX answer hands on first.
 */
export function sampleGood(
  entries: readonly KnownAddress[],
  wanted: number,
  nowMs: number,
  random: () => number,
  accept?: (address: string) => boolean,
  fillFromCrowdedGroups = true,
  vettedOnly = false,
): string[] {
  const selection: string[] = [];
  if (wanted === 0) return selection;
  const perGroupCap = answerShareOfGroup(wanted);
  const perGroup = new Map<string, number>();
  // Kept in visit order (so still a random sample) for the top-up; no more than could be used.
  const overflow: string[] = [];
  let visits = 0;
  visitRandomIndices(entries.length, random, (index) => {
    const picked = entries[index]!;
    if (!isBad(picked, nowMs) && (!vettedOnly || isFirstHand(picked) || isCorroborated(picked)) && (accept === undefined || accept(picked.address))) {
      const taken = perGroup.get(picked.group) ?? 0;
      if (taken < perGroupCap) {
        perGroup.set(picked.group, taken + 1);
        selection.push(picked.address);
      } else if (fillFromCrowdedGroups && overflow.length < wanted) {
        overflow.push(picked.address);
      }
    }
    // Bounded work: a book crowded by a few groups is not walked to its end looking for the others once
    // the held-back ones can make up the number (never fewer addresses than a plain sample).
    visits++;
    return selection.length < wanted && (selection.length + overflow.length < wanted || visits < wanted * ANSWER_VISITS_PER_ADDRESS);
  });
  for (const address of overflow) {
    if (selection.length >= wanted) break;
    selection.push(address);
  }
  return selection;
}

/** Addresses of one network group in an answer of `wanted` while other groups have some: 2 of 32, 16 of 250. */
export function answerShareOfGroup(wanted: number): number {
  return Math.max(2, Math.ceil(wanted / 16));
}
