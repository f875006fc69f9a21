import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import { Switch } from '../../src/switch/switch.js';
import type { SwitchOptions } from '../../src/switch/config.js';
import type { Agent } from '../../src/switch/agent.js';
import type { Peer } from '../../src/switch/peer.js';
import type { ChannelDescriptor } from '../../src/conn/channel-descriptor.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { nodeHandshakeCrypto } from '../../platforms/node/handshake-crypto.js';

/** An agent that records everything the switch tells it. */
export class RecordingAgent implements Agent {
  readonly added: Peer[] = [];
  readonly removed: { peer: Peer; reason: Error | undefined }[] = [];
  readonly messages: { channelId: number; peer: Peer; message: Uint8Array }[] = [];
  constructor(readonly channels: readonly ChannelDescriptor[]) {}
  addPeer(peer: Peer): void {
    this.added.push(peer);
  }
  removePeer(peer: Peer, reason: Error | undefined): void {
    this.removed.push({ peer, reason });
  }
  receive(channelId: number, peer: Peer, message: Uint8Array): void {
    this.messages.push({ channelId, peer, message });
  }
}

export const TEST_CHANNELS: ChannelDescriptor[] = [
  { id: 0x20, priority: 5, sendQueueCapacity: 100, recvMessageCapacity: 64 * 1024 },
  { id: 0x30, priority: 1, sendQueueCapacity: 100, recvMessageCapacity: 64 * 1024 },
];

const running = new Set<Switch>();

export interface TestNode {
  sw: Switch;
  agent: RecordingAgent;
  key: NodeKey;
  address: string;
}

/** A started Switch on 127.0.0.1 with a RecordingAgent; stopped by `stopAll()`. */
export async function startNode(
  options: Partial<SwitchOptions> & { channels?: readonly ChannelDescriptor[]; agents?: Record<string, Agent> } = {},
): Promise<TestNode> {
  const key = options.identity ?? generateNodeKey();
  const agent = new RecordingAgent(options.channels ?? TEST_CHANNELS);
  const sw = new Switch({
    network: 'test-net',
    transports: [tcpTransport()],
    listen: ['tcp://127.0.0.1:0'],
    aead: nodeChaCha20Poly1305,
    handshakeCrypto: nodeHandshakeCrypto,
    handshakeTimeoutMs: 5000,
    dialTimeoutMs: 3000,
    stopTimeoutMs: 2000,
    reconnect: { baseDelayMs: 50, maxDelayMs: 400 },
    ...options,
    identity: key,
  });
  sw.addAgent('recorder', agent);
  for (const [name, extra] of Object.entries(options.agents ?? {})) sw.addAgent(name, extra);
  await sw.start();
  running.add(sw);
  return { sw, agent, key, address: sw.addresses[0]! };
}

export async function stopAll(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((sw) => sw.stop()));
}

export function bytes(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed + i) & 0xff;
  return out;
}
