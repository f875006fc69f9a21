/**
 * Made-up nodes in the /16 of an honest node that told us of itself: liars feed a node (a seed above
 * all, which crawls what it hears) addresses inside the networks where honest nodes live, so that dials
 * there fail and each network waits (FailingNetworks), while the liars' own networks answer. An honest
 * newcomer that connected to us and announced itself (first-hand, never dialled by us) waited with its
 * network and was left out of our answers. Run in a network namespace this test makes (`unshare -rn`)
 * so the nodes have public addresses (see fixtures/first-hand-network.ts).
 */
import { describe, expect, it } from 'vitest';
import { namespaceSupport, runPublicFixture } from '../helpers/namespaces.js';

const support = namespaceSupport('-rn');
if (!support.ok) console.warn(`\n!!! SKIPPING test/hostile/first-hand-network.test.ts: ${support.why}; it needs user and network namespaces.\n`);

interface FirstHandResult {
  added: string[];
  codes: string[];
  honestTable: string;
  networkFailing: boolean;
  honestWaits: boolean;
  honestInAnswer: boolean;
}

describe.skipIf(!support.ok)('made-up nodes in the network of an honest node that told us of itself', () => {
  it('its first-hand address neither waits with the failing network nor leaves our answers', async () => {
    // Every connection to us (12.1.0.1) comes from the honest node's host (the route's preferred source).
    const result = await runPublicFixture<FirstHandResult>('test/hostile/fixtures/first-hand-network.ts', {
      routes: ['add local 12.1.0.1 dev lo src 11.5.0.1 table local'],
      timeoutMs: 30_000,
    });
    expect(result.added).toEqual(['added', 'added']);
    expect(result.codes).toHaveLength(2);
    // The setting: its network fails (two made-up addresses there), and we never dialled it.
    expect(result.networkFailing).toBe(true);
    expect(result.honestTable).toBe('new');
    // Before: its next dial waited ~1 s, doubling with each further made-up failure up to dialBackoffMaxMs
    // (10 min), and it was left out of what we hand on.
    expect(result.honestWaits).toBe(false);
    expect(result.honestInAnswer).toBe(true);
  }, 40_000);
});
