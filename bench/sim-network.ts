/**
 * The nodes of a simulation: real Switches with real PEXAgents (at their default periods), each on its
 * own IPv4 address, over the simulated internet (bench/sim-transport.ts), all on one simulated clock.
 * Seeds run in seed mode. Attackers are PEXAgents whose answers (and, for some kinds, limits and
 * placement) are changed; see ATTACK_KINDS.
 */
import type { NodeKey } from '../src/crypto/keys.js';
import { PEXAgent, type PexAgentOptions } from '../src/pex/pex-agent.js';
import type { Peer } from '../src/switch/peer.js';
import { Switch } from '../src/switch/switch.js';
import type { SimClock } from './sim-clock.js';
import type { SimConfig } from './sim-config.js';
import { simulatedHandshake, simulatedNodeKey } from './sim-handshake.js';
import type { SimInternet } from './sim-transport.js';

export type NodeKind = 'seed' | 'honest' | 'malicious';

export interface SimNode {
  readonly index: number;
  readonly kind: NodeKind;
  readonly host: string;
  readonly key: NodeKey;
  readonly address: string;
  readonly sw: Switch;
  readonly pex: PEXAgent;
  /** Simulated ms at which it starts (relative to the run's start). */
  startAtMs: number;
  started: boolean;
  /** Stopped by churn or a scenario. */
  left: boolean;
  /** The harness's bookkeeping when the node leaves. */
  leave?: () => void;
}

/** The port every simulated node listens on (each has its own IP). */
export const SIM_PORT = 26656;
/** Colluders rent in bulk: this many share one /16 (a hosting provider's range). */
export const COLLUDERS_PER_GROUP = 8;
/** The inbound flooder dials everyone it learns of, up to this many at once. */
const FLOODER_MAX_OUTBOUND = 1000;
const FLOODER_MAX_CONCURRENT_DIALS = 50;
/** A seed serves many more short-lived peers than a node keeps. */
export const SEED_MAX_OUTBOUND = 20;

/** What the attackers share: their real addresses, and (for the Sybil) their /16 groups. */
export interface AttackerCoalition {
  readonly addresses: string[];
  readonly sybilGroups: string[];
  /** Quiet attackers behave until this is set. */
  active: boolean;
}

/**
 * A PEX agent that lies in its answers, by kind:
 * - colluders, botnet, inbound: only the coalition's addresses;
 * - sybil: the coalition's addresses, topped up with made-up ones in the Sybil's few /16 groups;
 * - quiet: an honest answer until the coalition turns active, then as colluders.
 */
class AttackerPexAgent extends PEXAgent {
  constructor(
    options: PexAgentOptions,
    private readonly attack: SimConfig['attack'],
    private readonly coalition: AttackerCoalition,
    private readonly pick: () => number,
  ) {
    super(options);
  }

  protected override selectAddressesFor(peer: Peer, firstOfConnection?: boolean): string[] {
    if (this.attack === 'quiet' && !this.coalition.active) return super.selectAddressesFor(peer, firstOfConnection);
    const max = this.config.maxAddressesPerResponse;
    const friends = sample(this.coalition.addresses, max, this.pick).filter((address) => !address.includes(peer.id));
    if (this.attack !== 'sybil') return friends;
    const groups = this.coalition.sybilGroups;
    while (friends.length < max) {
      const group = groups[Math.floor(this.pick() * groups.length)]!;
      const host = `${group}.${1 + Math.floor(this.pick() * 254)}.${1 + Math.floor(this.pick() * 254)}`;
      friends.push(`tcp://${simulatedNodeKey(this.pick).nodeId}@${host}:${SIM_PORT}`);
    }
    return friends;
  }
}

/** Up to `count` distinct items of `items`, chosen with `random`. */
export function sample<T>(items: readonly T[], count: number, random: () => number): T[] {
  if (items.length <= count) return [...items];
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(Math.floor(random() * items.length));
  return [...chosen].map((i) => items[i]!);
}

export interface NodeFactory {
  /** Builds (does not start) one node at `host`. */
  make(kind: NodeKind, host: string): SimNode;
  readonly seedAddresses: string[];
  readonly coalition: AttackerCoalition;
}

export function nodeFactory(config: SimConfig, clock: SimClock, internet: SimInternet, random: () => number): NodeFactory {
  const seedAddresses: string[] = [];
  const coalition: AttackerCoalition = { addresses: [], sybilGroups: [], active: config.attack !== 'quiet' };
  let index = 0;
  const make = (kind: NodeKind, host: string): SimNode => {
    const key = simulatedNodeKey(random);
    const address = `tcp://${key.nodeId}@${host}:${SIM_PORT}`;
    const isSeed = kind === 'seed';
    const flooder = kind === 'malicious' && config.attack === 'inbound';
    const sw = new Switch({
      network: 'sim',
      identity: key,
      transports: [internet.transport(host)],
      listen: [`tcp://${host}:${SIM_PORT}`],
      maxOutbound: isSeed ? SEED_MAX_OUTBOUND : flooder ? FLOODER_MAX_OUTBOUND : config.maxOutbound,
      maxInbound: isSeed ? config.seedMaxInbound : config.maxInbound,
      // Small batches: thousands of connections each holding a 64 KiB batch would cost gigabytes.
      connection: { maxPacketPayloadBytes: 4096, maxBatchBytes: 8192 },
      random,
      clock,
      secureHandshake: simulatedHandshake,
    });
    const options: PexAgentOptions = {
      seeds: seedAddresses.filter((seed) => seed !== address),
      seedMode: isSeed,
      random,
      // Seeded bucket placement: the book would otherwise draw its secret from the OS.
      bookOptions: { bucketKey: seededBytes(32, random) },
      ...(flooder ? { maxConcurrentDials: FLOODER_MAX_CONCURRENT_DIALS } : {}),
    };
    const pex = kind === 'malicious' ? new AttackerPexAgent(options, config.attack, coalition, random) : new PEXAgent(options);
    sw.addAgent('pex', pex);
    if (isSeed) seedAddresses.push(address);
    if (kind === 'malicious') coalition.addresses.push(address);
    return { index: index++, kind, host, key, address, sw, pex, startAtMs: 0, started: false, left: false };
  };
  return { make, seedAddresses, coalition };
}

function seededBytes(length: number, random: () => number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

/**
 * Hands out IPv4 addresses: every call to `freshGroup` is a /16 nobody else has (public ranges only:
 * first octet 11..99), and `hostIn` a host inside a given /16.
 */
export class AddressPlan {
  private readonly groups: string[] = [];
  private next = 0;
  private readonly usedHosts = new Set<string>();

  constructor(private readonly random: () => number) {
    for (let a = 11; a <= 99; a++) for (let b = 0; b <= 255; b++) this.groups.push(`${a}.${b}`);
    for (let i = this.groups.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [this.groups[i], this.groups[j]] = [this.groups[j]!, this.groups[i]!];
    }
  }

  freshGroup(): string {
    if (this.next >= this.groups.length) throw new Error(`The simulator has only ${this.groups.length} /16 groups`);
    return this.groups[this.next++]!;
  }

  hostIn(group: string): string {
    for (;;) {
      const host = `${group}.${1 + Math.floor(this.random() * 254)}.${1 + Math.floor(this.random() * 254)}`;
      if (!this.usedHosts.has(host)) {
        this.usedHosts.add(host);
        return host;
      }
    }
  }

  freshHost(): string {
    return this.hostIn(this.freshGroup());
  }
}

/** Where the attackers sit, by kind: in few groups, in bulk, or each in its own. */
export function attackerHosts(config: SimConfig, count: number, plan: AddressPlan, coalition: AttackerCoalition): string[] {
  const hosts: string[] = [];
  if (config.attack === 'sybil') {
    const groups = Array.from({ length: Math.max(1, config.sybilGroups) }, () => plan.freshGroup());
    coalition.sybilGroups.push(...groups);
    for (let i = 0; i < count; i++) hosts.push(plan.hostIn(groups[i % groups.length]!));
  } else if (config.attack === 'colluders') {
    let group = plan.freshGroup();
    for (let i = 0; i < count; i++) {
      if (i > 0 && i % COLLUDERS_PER_GROUP === 0) group = plan.freshGroup();
      hosts.push(plan.hostIn(group));
    }
  } else {
    for (let i = 0; i < count; i++) hosts.push(plan.freshHost());
  }
  return hosts;
}
