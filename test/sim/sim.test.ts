import { describe, expect, it } from 'vitest';
import { DEFAULT_SIM_CONFIG, parseSimArgs, type SimConfig } from '../../bench/sim-config.js';
import { runSimulation, type SimReport } from '../../bench/sim-run.js';

/**
 * Small networks in simulated time: each run takes a second or two of CPU whatever its simulated length.
 * The timeouts are wall-clock and generous: on a machine shared by many jobs a second of CPU can take ten.
 */
const small = (overrides: Partial<SimConfig> = {}): SimConfig => ({
  ...DEFAULT_SIM_CONFIG,
  nodes: 24,
  seeds: 2,
  maxOutbound: 6,
  maxInbound: 20,
  staggerSec: 20,
  settleSec: 30,
  maxSec: 600,
  ...overrides,
});

const run = async (overrides: Partial<SimConfig> = {}): Promise<SimReport> => (await runSimulation(small(overrides))).report;

describe('npm run sim (deterministic, simulated time)', () => {
  it('prints the same JSON for the same --rng-seed, and another network for another seed', async () => {
    const attack: Partial<SimConfig> = { malicious: 0.25, attack: 'colluders', maxSec: 200 };
    const first = await run({ rngSeed: 7, ...attack });
    const second = await run({ rngSeed: 7, ...attack });
    const other = await run({ rngSeed: 8, ...attack });
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(JSON.stringify(other)).not.toBe(JSON.stringify(first));
  }, 300_000);

  it('a small honest network reaches its outbound target in one piece with nobody eclipsed', async () => {
    const report = await run();
    expect(report.timeToTargetSec).not.toBeNull();
    // Nodes start over 20 s and PEX tops up every 30 s at its default period: the target takes rounds.
    expect(report.timeToTargetSec!).toBeGreaterThan(20);
    expect(report.graph).toMatchObject({ honestNodes: 24, components: 1, eclipsed: 0, noOutbound: 0, atTarget: 24, maliciousOutboundShare: 0 });
    expect(report.graph.outbound.min).toBe(6);
    expect(report.traffic.pexMessages).toBeGreaterThan(0);
    expect(report.simulatedSec).toBe(report.timeToTargetSec! + 30);
  }, 240_000);

  it('--split-at/--heal-at: two components while split', async () => {
    const report = await run({ splitAtSec: 150, healAtSec: 300, settleSec: 10 });
    expect(report.graphAtSplit).toBeDefined();
    expect(report.graphAtSplit!.components).toBeGreaterThanOrEqual(2);
    expect(report.internet.lostDials).toBeGreaterThan(0);
  }, 240_000);

  it('--seed-dies-at: with the only seed gone, nodes that start later find nobody', async () => {
    const base = await run({ seeds: 1, staggerSec: 120, maxSec: 300 });
    const report = await run({ seeds: 1, staggerSec: 120, maxSec: 300, seedDiesAtSec: 30 });
    expect(base.graph.noOutbound).toBe(0);
    expect(report.graph.noOutbound).toBeGreaterThan(0);
    expect(report.timeToTargetSec).toBeNull();
  }, 240_000);

  it('--churn: nodes leave and as many fresh ones join', async () => {
    const report = await run({ churnPerMin: 0.1, churnSec: 120, settleSec: 10 });
    expect(report.churn.left).toBeGreaterThan(0);
    expect(report.churn.joined).toBe(report.churn.left);
    expect(report.nodesMade).toBe(24 + 2 + report.churn.joined);
    expect(report.graph.honestNodes).toBe(24);
  }, 240_000);

  it('attackers: colluders and a Sybil fill honest books, inbound flooders take honest inbound slots, quiet ones turn', async () => {
    const attacked = (attack: SimConfig['attack']): Promise<SimReport> => run({ nodes: 16, malicious: 0.25, attack, maxSec: 200 });
    const colluders = await attacked('colluders');
    expect(colluders.maliciousNodes).toBe(4);
    expect(colluders.graph.maliciousBookShare).toBeGreaterThan(0);
    const sybil = await attacked('sybil');
    // Made-up addresses from a few /16 groups: far more of the book than the attackers' 25 % of nodes.
    expect(sybil.graph.maliciousBookShare).toBeGreaterThan(0.5);
    const inbound = await attacked('inbound');
    expect(inbound.graph.maliciousInboundShare).toBeGreaterThan(colluders.graph.maliciousInboundShare);
    // Quiet ones are honest peers like any other until they turn (here at 100 s), then answer as colluders.
    const quiet = await run({ nodes: 16, malicious: 0.25, attack: 'quiet', quietUntilSec: 100, maxSec: 200 });
    expect(quiet.graphAtTurn).toBeDefined();
    expect(quiet.graphAtTurn!.maliciousOutboundShare).toBeGreaterThan(0);
  }, 300_000);

  it('parses flags, with --attack defaulting to colluders when only --malicious is given', () => {
    expect(parseSimArgs(['--nodes', '10', '--malicious', '0.2']).config).toMatchObject({ nodes: 10, malicious: 0.2, attack: 'colluders' });
    expect(parseSimArgs(['--sweep', '--sweep-seeds', '5', '--kinds', 'sybil,quiet']).sweepKinds).toEqual(['sybil', 'quiet']);
    expect(() => parseSimArgs(['--attack', 'sybil'])).toThrow(/--malicious/);
    expect(() => parseSimArgs(['--nodes', 'x'])).toThrow(/bad value/);
  });
});
