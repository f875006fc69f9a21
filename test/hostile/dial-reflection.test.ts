/**
 * A liar naming made-up node ids at a victim that is no meshlink node (a web server's ports, every host
 * of its /24) uses honest nodes to dial it. Each address backs off on its own, but ids are free: before,
 * every node that heard of them dialled the victim every round or two for as long as they kept coming,
 * and handed them on to whoever asked. Run in a network namespace this test makes (`unshare -rn`), where
 * 11.0.0.0/8 and 12.0.0.0/8 are local, so the rules for public addresses apply (see
 * fixtures/dial-reflection.ts).
 */
import { describe, expect, it } from 'vitest';
import { namespaceSupport, runPublicFixture } from '../helpers/namespaces.js';

const support = namespaceSupport('-rn');
if (!support.ok) console.warn(`\n!!! SKIPPING test/hostile/dial-reflection.test.ts: ${support.why}; it needs user and network namespaces.\n`);

interface Reflection {
  victimAccepts: number;
  victimDials: number[];
  lateVictimDials: number[];
  answerSize: number;
  victimAddressesInAnswer: number;
}

function runFixture(honestNodes: number, seconds: number, roundMs: number): Promise<Reflection> {
  return runPublicFixture<Reflection>('test/hostile/fixtures/dial-reflection.ts', { args: [honestNodes, seconds, roundMs], timeoutMs: (seconds + 30) * 1000 });
}

describe.skipIf(!support.ok)('made-up nodes at a victim that is no meshlink node', () => {
  it('a network our dials keep failing in waits longer each time, and is not handed on', async () => {
    // 4 honest nodes in a ring, one told of 100 made-up nodes at 11.9.0.0/16; 60 rounds of 500 ms.
    const result = await runFixture(4, 30, 500);
    console.log(`victim: ${result.victimAccepts} connections; per node ${result.victimDials.join(', ')}, second half ${result.lateVictimDials.join(', ')}; newcomer's answer ${result.victimAddressesInAnswer} of ${result.answerSize}`);
    expect(result.victimAccepts, 'the liar reached the victim through us').toBeGreaterThan(0);
    // Before: a dial every other round or so from each node, for as long as the liar went on (second
    // half: 10–17 per node, 104 connections in all). Now the victim's network waits
    // dialBackoffBaseMs · 2^(n − 2) after n failures in a row there, up to dialBackoffMaxMs (20 rounds
    // here): more than a round from the 7th failure on, then 2, 4, 8.5, 17, 20 (2–5, 46 in all).
    for (const late of result.lateVictimDials) expect(late).toBeLessThanOrEqual(7);
    expect(result.lateVictimDials.reduce((sum, late) => sum + late, 0)).toBeLessThanOrEqual(20);
    // Before: 30 of the 32 addresses node 0 handed a newcomer were the victim's.
    expect(result.victimAddressesInAnswer).toBe(0);
  }, 60_000);
});
