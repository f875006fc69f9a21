import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import { Switch } from '../../src/switch/switch.js';
import type { SwitchOptions } from '../../src/switch/config.js';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import type { Transport } from '../../src/transport/transport.js';
import { PEXAgent, type PexAgentOptions } from '../../src/pex/pex-agent.js';
import { encodePexMessage, decodePexMessage, type PexMessage } from '../../src/pex/pex-messages.js';
import { PEX_CHANNEL_ID, PEX_MAX_MESSAGE_BYTES } from '../../src/pex/constants.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';

/** PEX timings shortened for tests: rounds every 200 ms, little jitter, quick seed hang-ups. */
export const FAST_PEX: PexAgentOptions = {
  allowLocal: true,
  ensurePeersIntervalMs: 200,
  minRequestGapMs: 0, // every node here runs these timings
  dialJitterMs: 20,
  dialBackoffBaseMs: 100,
  dialBackoffMaxMs: 1000,
  seedRedialIntervalMs: 400,
  crawlIntervalMs: 200,
  crawlRevisitMs: 500,
  seedDisconnectGraceMs: 50,
  seedPeerMaxLifetimeMs: 1500,
  banMs: 60_000,
};

const running = new Set<Switch>();

export interface PexNode {
  sw: Switch;
  pex: PEXAgent | undefined;
  key: NodeKey;
  address: string;
}

/** A started Switch with a PEXAgent (unless `pex` is false) and any extra agents; stopped by stopPexNodes(). */
export async function startPexNode(options: {
  transports: readonly Transport[];
  listen: string;
  pex?: PexAgentOptions | false;
  agents?: Record<string, Agent>;
  identity?: NodeKey;
  switchOptions?: Partial<SwitchOptions>;
}): Promise<PexNode> {
  const key = options.identity ?? generateNodeKey();
  const sw = new Switch({
    network: 'pex-test',
    transports: options.transports,
    listen: [options.listen],
    aead: nodeChaCha20Poly1305,
    handshakeTimeoutMs: 5000,
    dialTimeoutMs: 3000,
    stopTimeoutMs: 1000,
    ...options.switchOptions,
    identity: key,
  });
  let pex: PEXAgent | undefined;
  if (options.pex !== false) {
    pex = new PEXAgent({ ...FAST_PEX, ...options.pex });
    sw.addAgent('pex', pex);
  }
  for (const [name, agent] of Object.entries(options.agents ?? {})) sw.addAgent(name, agent);
  await sw.start();
  running.add(sw);
  return { sw, pex, key, address: sw.addresses[0]! };
}

export async function stopPexNodes(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((sw) => sw.stop()));
}

/**
 * A peer that speaks the PEX wire but not its rules: it records what it gets and answers requests
 * with whatever `answer` returns (raw bytes, so tests can send malformed ones too).
 */
export class RogueAgent implements Agent {
  // Bigger than an honest node's cap, so the rogue can send what honest nodes must refuse.
  readonly channels = [{ id: PEX_CHANNEL_ID, recvMessageCapacity: 4 * PEX_MAX_MESSAGE_BYTES, sendQueueCapacity: 100 }];
  readonly peers: Peer[] = [];
  readonly received: PexMessage[] = [];
  constructor(private readonly answer: (peer: Peer) => Uint8Array[] = () => []) {}
  addPeer(peer: Peer): void {
    this.peers.push(peer);
  }
  removePeer(peer: Peer): void {
    this.peers.splice(this.peers.indexOf(peer), 1);
  }
  receive(_channelId: number, peer: Peer, bytes: Uint8Array): void {
    const message = decodePexMessage(bytes);
    this.received.push(message);
    // Straight to the connection: an honest Peer would refuse a reply over our capacity before sending.
    if (message.type === 'pexRequest') for (const reply of this.answer(peer)) peer.connection.trySend(PEX_CHANNEL_ID, reply);
  }
}

export function response(addresses: readonly string[]): Uint8Array {
  return encodePexMessage({ type: 'pexResponse', addresses });
}

export function request(): Uint8Array {
  return encodePexMessage({ type: 'pexRequest' });
}

/** Distinct, valid loopback addresses of made-up nodes. */
export function fakeAddresses(count: number, protocol: 'tcp' | 'memory' = 'tcp', offset = 0): string[] {
  return Array.from({ length: count }, (_, i) => {
    const id = (offset + i + 1).toString(16).padStart(40, 'a');
    return protocol === 'tcp' ? `tcp://${id}@127.0.${((offset + i) >> 8) & 255}.${(offset + i) & 255}:${20000 + ((offset + i) % 30000)}` : `memory://${id}@fake-${offset + i}`;
  });
}

/** The error codes of the switch's failed dials from now on, in order (the switch's `dial` wrapped). */
export function recordDialFailureCodes(sw: Switch): string[] {
  const codes: string[] = [];
  const dial = sw.dial.bind(sw);
  sw.dial = (address, options) =>
    dial(address, options).catch((error: unknown) => {
      codes.push(String((error as { code?: string }).code));
      throw error;
    });
  return codes;
}
