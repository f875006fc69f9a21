/**
 * A liar naming made-up node ids at an honest node's own host and port: each of our dials there reaches
 * the honest node, which proves its own key (ERR_WRONG_PEER_ID). Counted as failed dials into its
 * network (FailingNetworks), they made the honest node's /16 wait, and its real address, never reached
 * yet, was held back from our dials and PEX answers. Run in a network namespace this test makes
 * (`unshare -rn`) so the nodes have public addresses (see fixtures/wrong-key-network.ts).
 */
import { describe, expect, it } from 'vitest';
import { namespaceSupport, runPublicFixture } from '../helpers/namespaces.js';

const support = namespaceSupport('-rn');
if (!support.ok) console.warn(`\n!!! SKIPPING test/hostile/wrong-key-network.test.ts: ${support.why}; it needs user and network namespaces.\n`);

interface WrongKeyResult {
  added: string[];
  codes: string[];
  honestHeldBack: boolean;
  honestWaitMs: number;
}

describe.skipIf(!support.ok)("made-up node ids at an honest node's own address", () => {
  it("reach a node that proves a key: its network does not wait, its real address is not held back", async () => {
    const result = await runPublicFixture<WrongKeyResult>('test/hostile/fixtures/wrong-key-network.ts', { timeoutMs: 30_000 });
    expect(result.added).toEqual(['added', 'added', 'added', 'added']);
    expect(result.codes).toEqual(['ERR_WRONG_PEER_ID', 'ERR_WRONG_PEER_ID', 'ERR_WRONG_PEER_ID']);
    // Before: held back (left out of our answers) and its next dial waiting ~2 s, doubling with each
    // further made-up id up to dialBackoffMaxMs (10 min).
    expect(result.honestHeldBack).toBe(false);
    expect(result.honestWaitMs).toBe(0);
  }, 40_000);
});
