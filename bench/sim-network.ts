/**
 * The many-node PEX simulation: N real Switches with PEXAgents in one process, over the in-memory
 * transport (real secure handshakes, real MConnections, real timers). Seeds run in seed mode; a share
 * of the nodes can be malicious (they answer every pexRequest with their colluders' addresses only).
 */
import { generateNodeKey, type NodeKey } from '../src/crypto/keys.js';
import { PEXAgent, type PexAgentOptions } from '../src/pex/pex-agent.js';
import type { Peer } from '../src/switch/peer.js';
import { Switch } from '../src/switch/switch.js';
import { MemoryNetwork } from '../src/transport/memory.js';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';

export interface SimConfig {
  nodes: number;
  seeds: number;
  /** Share 0..1 of `nodes` that is malicious. */
  malicious: number;
  latencyMs: number;
  /** Probability that a dial fails as if lost. */
  loss: number;
  maxOutbound: number;
  maxInbound: number;
  /** ensurePeers (and seed crawl) period. */
  ensurePeersMs: number;
  /** Node starts are spread uniformly over this window. */
  staggerMs: number;
  /** Give up waiting for the target after this many wall seconds. */
  timeoutSec: number;
  /** Keep running this long after the target is reached, then measure. */
  settleSec: number;
  /** Seed of the PRNG used for jitter, picks and the malicious draw. */
  rngSeed: number;
  /** Reserve outbound slots per source group (the eclipse defence); 1 disables it. */
  maxOutboundSharePerSource: number;
  /** Outbound share filled first from seed-given addresses; 0 disables it. */
  trustedOutboundShare: number;
  /** Address book: new buckets one address may sit in (more sources, more buckets). */
  maxNewBucketsPerAddress: number;
}

export const DEFAULT_SIM_CONFIG: SimConfig = {
  nodes: 500,
  seeds: 3,
  malicious: 0,
  latencyMs: 5,
  loss: 0,
  maxOutbound: 10,
  maxInbound: 40,
  ensurePeersMs: 1000,
  staggerMs: 5000,
  timeoutSec: 120,
  settleSec: 3,
  rngSeed: 1,
  maxOutboundSharePerSource: 0.34,
  trustedOutboundShare: 0.3,
  maxNewBucketsPerAddress: 4,
};

export interface SimNode {
  readonly index: number;
  readonly kind: 'seed' | 'honest' | 'malicious';
  readonly key: NodeKey;
  readonly address: string;
  readonly sw: Switch;
  readonly pex: PEXAgent;
}

/** mulberry32: small, fast, seedable; the sim's randomness is reproducible up to timer order. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Answers every request with its colluders' addresses only: the eclipse attack of the scenario. */
class MaliciousPexAgent extends PEXAgent {
  constructor(
    options: PexAgentOptions,
    private readonly colluders: () => readonly string[],
  ) {
    super(options);
  }

  protected override selectAddressesFor(peer: Peer): string[] {
    return this.colluders()
      .filter((address) => !address.includes(peer.id))
      .slice(0, this.config.maxAddressesPerResponse);
  }
}

export function pexOptionsFor(config: SimConfig, random: () => number): PexAgentOptions {
  const interval = config.ensurePeersMs;
  return {
    allowLocal: true,
    random,
    ensurePeersIntervalMs: interval,
    minRequestGapMs: 0, // every simulated node runs these timings
    crawlIntervalMs: interval,
    dialJitterMs: Math.round(interval * 0.3),
    dialBackoffBaseMs: Math.round(interval / 2),
    dialBackoffMaxMs: interval * 10,
    seedRedialIntervalMs: interval * 3,
    crawlRevisitMs: interval * 10,
    seedDisconnectGraceMs: Math.round(interval / 5),
    seedPeerMaxLifetimeMs: interval * 3,
    maxOutboundSharePerSource: config.maxOutboundSharePerSource,
    trustedOutboundShare: config.trustedOutboundShare,
    bookOptions: { maxNewBucketsPerAddress: config.maxNewBucketsPerAddress },
  };
}

/** Builds (but does not start) every node: seeds first, then honest and malicious nodes mixed. */
export function buildNetwork(config: SimConfig): { network: MemoryNetwork; nodes: SimNode[]; random: () => number } {
  const random = seededRandom(config.rngSeed);
  const network = new MemoryNetwork({ latencyMs: config.latencyMs, dialLossRate: config.loss, random });
  const maliciousCount = Math.round(config.nodes * config.malicious);
  // Which nodes are malicious: a seeded shuffle, so they are spread over the start order.
  const order = Array.from({ length: config.nodes }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const maliciousIndexes = new Set(order.slice(0, maliciousCount));
  const keys = Array.from({ length: config.seeds + config.nodes }, () => generateNodeKey());
  const seedAddresses = keys.slice(0, config.seeds).map((key, i) => `memory://${key.nodeId}@seed-${i}`);
  const colluderAddresses: string[] = [];
  const nodes: SimNode[] = [];
  // Small batches: thousands of connections each holding a 64 KiB batch buffer would cost gigabytes.
  const connection = { maxPacketPayloadBytes: 4096, maxBatchBytes: 8192 };
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const isSeed = i < config.seeds;
    const nodeIndex = i - config.seeds;
    const kind = isSeed ? 'seed' : maliciousIndexes.has(nodeIndex) ? 'malicious' : 'honest';
    const name = isSeed ? `seed-${i}` : `n-${nodeIndex}`;
    const address = `memory://${key.nodeId}@${name}`;
    if (kind === 'malicious') colluderAddresses.push(address);
    const sw = new Switch({
      network: 'sim',
      identity: key,
      transports: [network.transport()],
      listen: [`memory://${name}`],
      aead: nodeChaCha20Poly1305,
      maxOutbound: isSeed ? 2 * config.maxOutbound : config.maxOutbound,
      maxInbound: isSeed ? Math.max(config.maxInbound, 200) : config.maxInbound,
      maxPendingInbound: 256,
      handshakeTimeoutMs: 15_000,
      dialTimeoutMs: 10_000,
      stopTimeoutMs: 500,
      connection,
      random,
    });
    const options: PexAgentOptions = {
      ...pexOptionsFor(config, random),
      seeds: seedAddresses.filter((seed) => seed !== address),
      seedMode: isSeed,
    };
    const pex = kind === 'malicious' ? new MaliciousPexAgent(options, () => colluderAddresses) : new PEXAgent(options);
    sw.addAgent('pex', pex);
    nodes.push({ index: i, kind, key, address, sw, pex });
  }
  return { network, nodes, random };
}
