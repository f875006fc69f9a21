import { describe, expect, it } from 'vitest';
import { formatReport, runFuzz } from '../../bench/fuzz.js';
import { FUZZ_TARGETS } from '../../bench/fuzz-targets.js';
import { decodeAddressBook } from '../../src/pex/address-book-format.js';
import { parseNodeInfo, PROTOCOL_VERSION } from '../../src/switch/node-info.js';
import { normalizeAddress } from '../../src/transport/canonical-address.js';

/**
 * The CI slice of `npm run fuzz`: every decoder of peer bytes, a fixed seed and a fixed number of
 * inputs, so a failure here replays exactly (the report names the fast-check seed and path). The
 * long randomised runs are `npm run fuzz -- --seconds N`.
 */
const SEED = 0x6d6c6b; // "mlk"
const RUNS_PER_TARGET = 400;

/** An address that URLSearchParams re-encodes from 416 to 1214 characters, past parseAddress's 1024 cap. */
// A custom protocol's query is kept (its transport may read it); tcp, ws and memory addresses keep none.
const LONG_QUERY_ADDRESS = `foo://1.2.3.4:1?${'?'.repeat(400)}`;

describe('fuzzing the decoders of peer bytes', () => {
  it('covers every decoder named in the issue', () => {
    expect(FUZZ_TARGETS.map((t) => t.name)).toEqual([
      'secure-link-frame/noble', 'secure-link-frame/node', 'packet', 'msgpack', 'node-info', 'pex', 'signal', 'address', 'link-messages',
      'upnp-gateway-text', 'address-book-file',
    ]);
  });

  it('every target returns or throws only its documented errors, within its time and heap budgets', { timeout: 120_000 }, async () => {
    const report = await runFuzz({ seed: SEED, runsPerTarget: RUNS_PER_TARGET });
    // The whole table on failure: which target, the shrunk input in hex, the stack.
    expect(report.failed, formatReport(report)).toBe(false);
    for (const target of report.targets) expect(target.inputs, target.name).toBeGreaterThanOrEqual(RUNS_PER_TARGET);
  });
});

describe('bugs the fuzzer found, pinned', () => {
  it('decodeAddressBook never throws, even on a version object with a toString key', () => {
    const file = new TextEncoder().encode('{"format":"meshlink-address-book","version":{"toString":1}}');
    expect(() => decodeAddressBook(file)).not.toThrow();
  });

  it('normalizeAddress gives undefined or a form that normalizes to itself', () => {
    const normal = normalizeAddress(LONG_QUERY_ADDRESS);
    expect(normal).toBeUndefined(); // its normal form would be 1214 characters, over the 1024 limit
    expect(normalizeAddress(LONG_QUERY_ADDRESS.replace('foo:', 'tcp:'))).toBe('tcp://1.2.3.4:1');
    const short = normalizeAddress('foo://1.2.3.4:1?a=%3F');
    expect(short).toBeDefined();
    expect(normalizeAddress(short!)).toBe(short);
  });

  it('parseNodeInfo drops a listen address it cannot use instead of throwing ConfigError', () => {
    const id = 'ab'.repeat(20);
    const info = { id, network: 'n', protocolVersion: PROTOCOL_VERSION, channels: [], recvMessageCapacities: [], listenAddresses: [LONG_QUERY_ADDRESS], moniker: '', software: '' };
    expect(parseNodeInfo(info, id).listenAddresses).toEqual([]);
  });
});
