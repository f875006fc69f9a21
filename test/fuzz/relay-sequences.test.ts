import { describe, expect, it } from 'vitest';
import { formatRelayReport, runRelayFuzz } from '../../bench/fuzz-relay.js';
import { untypedCut } from '../../bench/fuzz-relay-scene.js';
import { remoteCloseError } from '../../src/conn/close-reason.js';
import { encodeMessage } from '../../src/wire/codec.js';

/**
 * The CI slice of `npm run fuzz -- --relay`: the relay program (`meshlink node`, a child process)
 * against an authenticated attacker sending fixed-seed sequences of mutated messages on every channel
 * it declares, with reconnects over TCP and WebSocket. After each sequence the relay must be alive,
 * two honest nodes must still trade txs through it, its RSS and /status must stay bounded, and every
 * cut of the attacker must carry a typed verdict. A failure prints the whole report: the sequence's
 * seed and steps. Longer randomised runs: `npm run fuzz -- --relay --seconds 600 [--cost]`.
 */
const SEED = 0x5e9; // "seq"
const SEQUENCES = 100;
/**
 * No new sequence starts after this: alone a sequence takes ~50 ms, but on two shared, busy cores a
 * rate-limited flood can make one take seconds, and the slice must stay under a minute.
 */
const MAX_MS = 40_000;

describe('fuzzing the relay program with attack sequences', () => {
  it('stays up, serves honest peers and /status within bounds, and cuts the attacker only with typed verdicts', { timeout: 180_000 }, async () => {
    const report = await runRelayFuzz({ seed: SEED, sequences: SEQUENCES, milliseconds: MAX_MS });
    expect(report.failed, formatRelayReport(report)).toBe(false);
    expect(report.sequences).toBeGreaterThanOrEqual(25);
    // The slice reached the decoders' refusals and the agents' state behind them, over both transports.
    expect(Object.keys(report.cutCodes)).toEqual(expect.arrayContaining(['ERR_MALFORMED_MESSAGE', 'ours']));
    expect(report.attackerConnections).toBeGreaterThan(5);
  });

  it("judges the attacker's cuts: a typed verdict passes; an agent's internal error on its bytes, an untyped or missing reason does not", () => {
    const told = (code: string, message: string) => remoteCloseError(encodeMessage({ code, message }));
    const cut = (reason: Error | undefined, ours = false) => untypedCut({ ours, reason, id: 'ab'.repeat(20) });
    expect(cut(told('ERR_MALFORMED_MESSAGE', 'Malformed chat message: hops'))).toBeUndefined();
    expect(cut(told('ERR_RATE_LIMIT', 'too fast'))).toBeUndefined();
    // What closePacketFor tells a peer whose message made an agent throw something untyped (a TypeError).
    expect(cut(told('ERR_PROTOCOL', 'a message was refused by the remote application'))).toMatch(/internal error/);
    expect(cut(new TypeError('x'))).toMatch(/untyped TypeError/);
    expect(cut(undefined)).toMatch(/no reason/);
    expect(cut(undefined, true)).toBeUndefined();
  });
});
