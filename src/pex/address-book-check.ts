import type { BucketTable } from './address-book-buckets.js';
import type { AddressTables } from './address-book-tables.js';
import { isFirstHand } from './known-address.js';

/**
 * Every invariant the book relies on, checked from scratch (addrman's CheckAddrman). Costs
 * O(entries * bucketSize); meant for tests and debugging, not for every call. Returns the violations.
 */
export function checkAddressBookInvariants(book: AddressTables): string[] {
  const problems: string[] = [];
  const { config, all, byAddress, byNodeId, newTable, oldTable } = book;
  const capacity = (config.newBucketCount + config.oldBucketCount) * config.bucketSize;
  if (all.length > capacity) problems.push(`${all.length} entries exceed capacity ${capacity}`);
  if (book.firstHand.some((entry) => entry.index < 0)) problems.push('first-hand list holds an entry not in the book');
  if (byAddress.size !== all.length) problems.push(`byAddress has ${byAddress.size} entries, list has ${all.length}`);

  let oldEntries = 0;
  let newReferences = 0;
  all.forEach((entry, index) => {
    const name = entry.address;
    if (entry.index !== index) problems.push(`${name}: index ${entry.index} but at ${index}`);
    if ((entry.firstHandIndex >= 0 && book.firstHand[entry.firstHandIndex] !== entry) || (entry.firstHandIndex >= 0) !== isFirstHand(entry)) {
      problems.push(`${name}: first-hand index ${entry.firstHandIndex} is wrong`);
    }
    if (byAddress.get(name) !== entry) problems.push(`${name}: not indexed by address`);
    if (!byNodeId.has(entry)) problems.push(`${name}: not indexed by node id`);
    if (new Set(entry.buckets).size !== entry.buckets.length) problems.push(`${name}: repeated bucket`);
    if (entry.bucketType === 'old') {
      oldEntries++;
      if (entry.buckets.length !== 1) problems.push(`${name}: old entry in ${entry.buckets.length} buckets`);
      for (const bucket of entry.buckets) {
        if (!oldTable.contains(bucket, entry)) problems.push(`${name}: missing from old bucket ${bucket}`);
      }
      for (const [bucket, entries] of newTable.allocated()) {
        if (entries.includes(entry)) problems.push(`${name}: old entry also in new bucket ${bucket}`);
      }
    } else {
      newReferences += entry.buckets.length;
      if (entry.buckets.length < 1 || entry.buckets.length > config.maxNewBucketsPerAddress) {
        problems.push(`${name}: new entry in ${entry.buckets.length} buckets`);
      }
      for (const bucket of entry.buckets) {
        if (!newTable.contains(bucket, entry)) problems.push(`${name}: missing from new bucket ${bucket}`);
      }
    }
  });
  if (oldEntries !== book.oldCount) problems.push(`oldCount ${book.oldCount} but ${oldEntries} old entries`);

  const checkTable = (table: BucketTable, type: 'new' | 'old'): number => {
    let references = 0;
    let allocated = 0;
    for (const [bucket, entries] of table.allocated()) {
      allocated++;
      if (bucket < 0 || bucket >= table.count) problems.push(`${type} bucket ${bucket} is out of range`);
      if (entries.length === 0) problems.push(`${type} bucket ${bucket} is allocated but empty`);
      references += entries.length;
      if (entries.length > table.size) problems.push(`${type} bucket ${bucket} holds ${entries.length} > ${table.size}`);
      for (const entry of entries) {
        if (entry.bucketType !== type || !entry.buckets.includes(bucket) || byAddress.get(entry.address) !== entry) {
          problems.push(`${type} bucket ${bucket} holds ${entry.address}, which does not point back`);
        }
      }
    }
    if (table.nonEmptyCount !== allocated) {
      problems.push(`${type} table's non-empty count is off`);
    }
    return references;
  };
  const newInTable = checkTable(newTable, 'new');
  const oldInTable = checkTable(oldTable, 'old');
  if (newInTable !== newReferences) problems.push(`new buckets hold ${newInTable} references, entries claim ${newReferences}`);
  if (oldInTable !== oldEntries) problems.push(`old buckets hold ${oldInTable} entries, expected ${oldEntries}`);

  let indexed = 0;
  for (const [nodeId, siblings] of byNodeId.entries()) {
    indexed += siblings.length;
    if (siblings.length === 0) problems.push(`${nodeId}: empty node id index`);
    if (siblings.length > config.maxAddressesPerNodeId) problems.push(`${nodeId}: ${siblings.length} addresses`);
    if (siblings.some((sibling) => sibling.nodeId !== nodeId)) problems.push(`${nodeId}: indexes another node's address`);
  }
  if (indexed !== all.length) problems.push(`node id index holds ${indexed} entries, list has ${all.length}`);
  return problems;
}
