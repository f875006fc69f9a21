import { describe, expect, it } from 'vitest';
import { formatRelayReport, runRelayFuzz } from '../../bench/fuzz-relay.js';

/**
 * The CI slice of `npm run fuzz -- --relay`: the relay program (`meshlink node`, a child process)
 * against an authenticated attacker sending fixed-seed sequences of mutated messages on every channel
 * it declares, with reconnects over TCP and WebSocket. After each sequence the relay must be alive,
 * two honest nodes must still trade txs through it, its RSS and /status must stay bounded, and every
 * cut of the attacker must carry a typed verdict. A failure prints the whole report: the sequence's
 * seed and steps. Longer randomised runs: `npm run fuzz -- --relay --seconds 600 [--cost]`.
 */
const SEED = 0x5e9; // "seq"
const SEQUENCES = 60;

describe('fuzzing the relay program with attack sequences', () => {
  it('stays up, serves honest peers and /status within bounds, and cuts the attacker only with typed verdicts', { timeout: 180_000 }, async () => {
    const report = await runRelayFuzz({ seed: SEED, sequences: SEQUENCES });
    expect(report.failed, formatRelayReport(report)).toBe(false);
    expect(report.sequences).toBe(SEQUENCES);
    // The slice reached the decoders' refusals and the agents' state behind them, over both transports.
    expect(Object.keys(report.cutCodes)).toEqual(expect.arrayContaining(['ERR_MALFORMED_MESSAGE', 'ours']));
    expect(report.attackerConnections).toBeGreaterThan(5);
  });
});
