import { describe, expect, it } from 'vitest';
import { AddressBook } from '../../src/pex/address-book.js';
import { resolvePexConfig } from '../../src/pex/config.js';
import { TRIED_REPLACEMENT_PROTECTION_MS } from '../../src/pex/constants.js';
import { FailingNetworks } from '../../src/pex/failing-networks.js';
import { PexOutboundView } from '../../src/pex/pex-outbound-view.js';
import type { PexDialer } from '../../src/pex/pex-dialer.js';
import type { HangUpList } from '../../src/pex/pex-peers.js';
import type { Switch } from '../../src/switch/switch.js';
import { FakeClock, FIXED_KEY, nodeId, publicHost, seededRandom, tcp } from './address-book-helpers.js';

/**
 * A feeler's view over a book of nodes 1, 2 and 3. Colliding: its one tried bucket (two slots) is full of
 * nodes 1 and 2, aged past the replacement protection, and node 3 made good: a collision, so the feeler
 * is offered incumbent node 1. Else all three are new.
 */
function feelerView(failing: FailingNetworks, colliding: boolean): { view: PexOutboundView; book: AddressBook } {
  const clock = new FakeClock();
  const book = new AddressBook({ now: clock.now, random: seededRandom(1), bucketKey: FIXED_KEY, oldBucketCount: 1, oldBucketsPerGroup: 1, bucketSize: 2 });
  const source = tcp(9999, publicHost(77));
  for (let i = 1; i <= 3; i++) {
    if (i === 3) clock.advance(TRIED_REPLACEMENT_PROTECTION_MS);
    book.addAddress(tcp(i, publicHost(i)), source);
    if (colliding) book.markGood(nodeId(i));
    clock.advance(1000);
  }
  const sw = { getPeer: () => undefined, bans: { isBanned: () => false }, options: { transports: [{ protocols: ['tcp'] }] } } as unknown as Switch;
  const dialer = { isDialling: () => false, failingNetworks: failing } as unknown as PexDialer;
  const hangUps = { has: () => false } as unknown as HangUpList;
  const view = new PexOutboundView(sw, dialer, book, resolvePexConfig({}), seededRandom(2), clock.now, () => 0, new Map(), new Set(), hangUps);
  return { view, book };
}

describe('PexOutboundView.feelerAddress', () => {
  it("tests a tried-table collision's incumbent although made-up nodes named in its /16 keep that network waiting", () => {
    const failing = new FailingNetworks(60_000, 600_000);
    // Two made-up nodes at other hosts of node 1's /16 whose dials failed: the network waits.
    failing.failed(tcp(101, publicHost(1, 7)), 0);
    failing.failed(tcp(102, publicHost(1, 8)), 0);
    expect(failing.waitMs(tcp(1, publicHost(1)), 0)).toBeGreaterThan(0);
    const { view, book } = feelerView(failing, true);
    expect(book.stats().pendingCollisions).toBe(1);
    // Before: every pick was the waiting incumbent, skipped, and the feeler round found nothing; left
    // untested through the collision window, the incumbent would give its place to the newcomer.
    expect(view.feelerAddress()).toBe(tcp(1, publicHost(1)));
  });

  it('still skips a new-table address in a waiting network', () => {
    const failing = new FailingNetworks(60_000, 600_000);
    failing.failed(tcp(101, publicHost(3, 7)), 0);
    failing.failed(tcp(102, publicHost(3, 8)), 0);
    const { view, book } = feelerView(failing, false);
    expect(book.stats().pendingCollisions).toBe(0);
    const picked = new Set<string | undefined>();
    for (let i = 0; i < 40; i++) picked.add(view.feelerAddress());
    expect(picked.has(tcp(3, publicHost(3)))).toBe(false);
    expect(picked.has(tcp(1, publicHost(1))) || picked.has(tcp(2, publicHost(2)))).toBe(true);
  });
});
