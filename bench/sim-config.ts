/** The simulator's settings, their defaults and the command-line flags that set them. */

export const ATTACK_KINDS = ['colluders', 'sybil', 'botnet', 'inbound', 'quiet'] as const;
export type AttackKind = 'none' | (typeof ATTACK_KINDS)[number];

export interface SimConfig {
  /** Honest plus malicious nodes (seeds come on top). */
  nodes: number;
  seeds: number;
  /** Share 0..1 of `nodes` that attacks. */
  malicious: number;
  attack: AttackKind;
  /** Seed of every random choice of the run: same seed, same report. */
  rngSeed: number;
  /** One-way link latency, simulated ms. */
  latencyMs: number;
  /** Share of dials lost (they hang until the dial timeout). */
  loss: number;
  maxOutbound: number;
  maxInbound: number;
  seedMaxInbound: number;
  /** Nodes start at random moments in [0, staggerSec). */
  staggerSec: number;
  /** After the honest nodes reach their target (and the last scenario event), run this much longer. */
  settleSec: number;
  /** Hard end of the run, simulated seconds. */
  maxSec: number;
  /** Honest nodes that leave (and as many fresh ones that join) per simulated minute, as a share of the live honest nodes. */
  churnPerMin: number;
  /** Churn runs from staggerSec for this long. */
  churnSec: number;
  /** Seed 0 stops at this simulated second (negative: never). */
  seedDiesAtSec: number;
  /** The network splits in two halves at this second and heals at healAtSec (negative: never). */
  splitAtSec: number;
  healAtSec: number;
  /** Quiet attackers turn at this second; negative: when the honest nodes first reach their target. */
  quietUntilSec: number;
  /** /16 groups the Sybil's nodes and made-up addresses sit in. */
  sybilGroups: number;
}

export const DEFAULT_SIM_CONFIG: Readonly<SimConfig> = Object.freeze({
  nodes: 500,
  seeds: 3,
  malicious: 0,
  attack: 'none',
  rngSeed: 1,
  latencyMs: 50,
  loss: 0,
  maxOutbound: 10,
  maxInbound: 40,
  seedMaxInbound: 200,
  staggerSec: 60,
  settleSec: 120,
  maxSec: 900,
  churnPerMin: 0,
  churnSec: 600,
  seedDiesAtSec: -1,
  splitAtSec: -1,
  healAtSec: -1,
  quietUntilSec: -1,
  sybilGroups: 4,
});

const NUMBER_FLAGS: Record<string, Exclude<keyof SimConfig, 'attack'>> = {
  '--nodes': 'nodes',
  '--seeds': 'seeds',
  '--malicious': 'malicious',
  '--rng-seed': 'rngSeed',
  '--latency': 'latencyMs',
  '--loss': 'loss',
  '--max-outbound': 'maxOutbound',
  '--max-inbound': 'maxInbound',
  '--seed-inbound': 'seedMaxInbound',
  '--stagger': 'staggerSec',
  '--settle': 'settleSec',
  '--max-sec': 'maxSec',
  '--churn': 'churnPerMin',
  '--churn-sec': 'churnSec',
  '--seed-dies-at': 'seedDiesAtSec',
  '--split-at': 'splitAtSec',
  '--heal-at': 'healAtSec',
  '--quiet-until': 'quietUntilSec',
  '--sybil-groups': 'sybilGroups',
};

export interface SimCommand {
  config: SimConfig;
  json: boolean;
  /** Put wall time and memory into stdout's JSON too (they differ between runs). */
  cost: boolean;
  sweep: boolean;
  /** Sweep: rng seeds 1..sweepSeeds per cell. */
  sweepSeeds: number;
  sweepShares: number[];
  sweepKinds: AttackKind[];
}

export const FLAG_HELP = `npm run sim -- [flags]
  --nodes N (500) --seeds N (3) --rng-seed N (1) --latency MS (50) --loss P (0)
  --max-outbound N (10) --max-inbound N (40) --seed-inbound N (200)
  --stagger S (60) --settle S (120) --max-sec S (900)           simulated seconds
  --malicious SHARE (0) --attack colluders|sybil|botnet|inbound|quiet --sybil-groups N (4) --quiet-until S
  --churn SHARE_PER_MIN (0) --churn-sec S (600) --seed-dies-at S --split-at S --heal-at S
  --json  one line of JSON   --cost  wall time and memory in stdout too (always on stderr)
  --sweep [--sweep-seeds N (3)] [--shares 0.1,0.2,0.3,0.4] [--kinds colluders,sybil,...]`;

export function parseSimArgs(argv: readonly string[]): SimCommand {
  const config: SimConfig = { ...DEFAULT_SIM_CONFIG };
  const command: SimCommand = { config, json: false, cost: false, sweep: false, sweepSeeds: 3, sweepShares: [0.1, 0.2, 0.3, 0.4], sweepKinds: [...ATTACK_KINDS] };
  const fail = (why: string): never => {
    throw new Error(`${why}\n${FLAG_HELP}`);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (flag === '--json') command.json = true;
    else if (flag === '--cost') command.cost = true;
    else if (flag === '--sweep') command.sweep = true;
    else if (flag === '--attack') {
      if (!(ATTACK_KINDS as readonly string[]).includes(value ?? '') && value !== 'none') fail(`--attack must be one of ${ATTACK_KINDS.join(', ')}`);
      config.attack = value as AttackKind;
      i++;
    } else if (flag === '--sweep-seeds') {
      command.sweepSeeds = Number(value);
      i++;
    } else if (flag === '--shares') {
      command.sweepShares = (value ?? '').split(',').map(Number);
      i++;
    } else if (flag === '--kinds') {
      command.sweepKinds = (value ?? '').split(',') as AttackKind[];
      if (command.sweepKinds.some((kind) => !(ATTACK_KINDS as readonly string[]).includes(kind))) fail(`--kinds takes ${ATTACK_KINDS.join(',')}`);
      i++;
    } else {
      const key = NUMBER_FLAGS[flag];
      const number = Number(value);
      if (key === undefined || value === undefined || !Number.isFinite(number)) fail(`Unknown flag or bad value: ${flag} ${value ?? ''}`);
      config[key!] = number;
      i++;
    }
  }
  if (config.malicious > 0 && config.attack === 'none') config.attack = 'colluders';
  if (config.attack !== 'none' && config.malicious === 0) fail('--attack needs --malicious SHARE > 0');
  if (!(config.malicious >= 0 && config.malicious < 1)) fail('--malicious must be in [0, 1)');
  if (!Number.isInteger(config.nodes) || config.nodes < 1 || !Number.isInteger(config.seeds) || config.seeds < 1) fail('--nodes and --seeds must be integers ≥ 1');
  if (config.splitAtSec >= 0 && config.healAtSec >= 0 && config.healAtSec <= config.splitAtSec) fail('--heal-at must come after --split-at');
  if (!(command.sweepSeeds >= 1) || command.sweepShares.some((share) => !(share > 0 && share < 1))) fail('--sweep-seeds ≥ 1, --shares in (0, 1)');
  return command;
}
