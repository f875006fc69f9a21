import { describe, expect, it } from 'vitest';
import { NodeIdIndex } from '../../src/pex/address-book-node-index.js';
import type { KnownAddress } from '../../src/pex/known-address.js';

const entry = (nodeId: string, address: string): KnownAddress =>
  ({ nodeId, address, source: '', group: '', sourceGroup: '', sourceNodeId: '', vouchedBy: '', corroboratedBy: '', attempts: 0, lastAttempt: 0, lastSuccess: 0, lastSeen: 0, lastRefusal: 0, lastClaimedInbound: 0, lastBanTime: 0, bucketType: 'new', buckets: [], index: -1, firstHandIndex: -1 }) satisfies KnownAddress;

describe('NodeIdIndex (the book by node id)', () => {
  it('keeps each id\'s addresses in the order they were indexed, as a Set would, through removals and re-adds', () => {
    const index = new NodeIdIndex();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => entry('n1', name)) as [KnownAddress, KnownAddress, KnownAddress, KnownAddress];
    const other = entry('n2', 'x');
    index.add(a);
    index.add(other);
    expect(index.entriesOf('n1')).toEqual([a]);
    index.add(b);
    index.add(c);
    index.delete(b);
    expect(index.entriesOf('n1')).toEqual([a, c]);
    index.delete(a);
    expect(index.entriesOf('n1')).toEqual([c]);
    index.add(d);
    index.add(a);
    expect(index.entriesOf('n1')).toEqual([c, d, a]);
    expect(index.count('n1')).toBe(3);
    expect(index.has(b)).toBe(false);
    expect(index.has(d)).toBe(true);
    expect([...index.entries()].map(([id, entries]) => [id, entries.length])).toEqual([['n1', 3], ['n2', 1]]);
  });

  it('forgets an id with its last address, and counts without copying', () => {
    const index = new NodeIdIndex();
    const only = entry('n1', 'a');
    index.add(only);
    index.delete(entry('n1', 'not indexed'));
    expect(index.count('n1')).toBe(1);
    index.delete(only);
    expect(index.size).toBe(0);
    expect(index.entriesOf('n1')).toEqual([]);
    index.add(entry('n3', 'a'));
    index.add(entry('n3', 'b'));
    index.add(entry('n4', 'c'));
    const counts: [string, number][] = [];
    index.forEachCount((id, count) => counts.push([id, count]));
    expect(counts).toEqual([['n3', 2], ['n4', 1]]);
    index.clear();
    expect(index.size).toBe(0);
  });
});
