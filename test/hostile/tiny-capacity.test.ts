/**
 * A NodeInfo may declare any recvMessageCapacity from 1 byte up, and `Peer.trySend` throws
 * (SendError ERR_MESSAGE_TOO_LARGE) for a message over it. The relay program's agents and the SDK's
 * PEX and signalling agents sent to every peer with the channel without checking: found black-box, one
 * authenticated peer declaring 1 byte on the topology or mempool channel crashed a real `meshlink
 * node` (uncaught SendError out of a timer, or out of the gossip loop), and on the chat or signalling
 * channel made the relay cut the honest peer whose message it was passing on. Such a peer is now
 * just not sent what it would refuse. Over real TCP on 127.0.0.1, the relay built by `runNode`.
 */
import { afterEach, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { parseAddress } from '../../src/transport/address.js';
import { upgradeLink } from '../../src/switch/upgrade.js';
import { PROTOCOL_VERSION } from '../../src/switch/node-info.js';
import { SIGNAL_AGENT_NAME } from '../../src/node-options.js';
import type { SignalAgent } from '../../src/webrtc/signal-agent.js';
import type { SecureLink } from '../../src/conn/secure-link.js';
import { nodeChaCha20Poly1305 } from '../../platforms/node/aead.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { runNode, type NodeConfig, type RunningNode } from '../../demo/node-runner.js';
import { txHash } from '../../demo/agents/mempool.js';
import { waitFor } from '../helpers/wait.js';
import { guardProcessFaults } from './raw-peer.js';

guardProcessFaults();
const NETWORK = 'tiny-capacity-net';
const nodes: RunningNode[] = [];
const links: SecureLink[] = [];
afterEach(async () => {
  links.splice(0).forEach((link) => link.destroy());
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
});

async function startRelayNode(persistent: string[] = [], onChat?: (text: string) => void): Promise<RunningNode> {
  const config: NodeConfig = {
    listen: ['tcp://127.0.0.1:0'], ws: undefined, persistent, seeds: [], home: undefined, network: NETWORK, moniker: 'n',
    status: undefined, maxInbound: undefined, maxOutbound: undefined, allowLocal: true,
  };
  const node = await runNode(config, () => undefined, onChat === undefined ? {} : { onChat: (message) => onChat(message.text) });
  nodes.push(node);
  return node;
}

it('a peer declaring a 1-byte recvMessageCapacity on every channel crashes nothing and cuts no honest peer', async () => {
  const relay = await startRelayNode();
  const chatAtB: string[] = [];
  const a = await startRelayNode([relay.sw.addresses[0]!]);
  const b = await startRelayNode([relay.sw.addresses[0]!], (text) => chatAtB.push(text));
  await waitFor(() => relay.sw.peers.length === 2, 5000, 'honest peers on the relay');
  const cut: string[] = [];
  relay.sw.on('peer:disconnected', ({ peer }) => cut.push(peer.id));

  // The attacker: authenticated, with every channel of the relay declared at 1 byte.
  const key = generateNodeKey();
  const channels = [0x00, 0x01, 0x30, 0x31, 0x32, 0x33];
  const raw = await tcpTransport().dial(parseAddress(relay.sw.addresses[0]!));
  const { link } = await upgradeLink(raw, {
    identity: key,
    localInfo: { id: key.nodeId, network: NETWORK, protocolVersion: PROTOCOL_VERSION, channels, recvMessageCapacities: channels.map(() => 1), listenAddresses: [], moniker: '', software: 'x' },
    direction: 'outbound',
    expectedPeerId: relay.sw.nodeId,
    timeoutMs: 5000,
    aead: nodeChaCha20Poly1305,
  });
  links.push(link);
  link.attach({ onData: () => undefined, onDrain: () => undefined, onClose: () => undefined });
  await waitFor(() => relay.sw.getPeer(key.nodeId) !== undefined, 3000, 'the attacker admitted');

  // Honest traffic the relay passes on to every peer, the attacker included: a tx, a chat message, and
  // a signal from A addressed to the attacker; the relay's own topology announcement goes out on its timer.
  const tx = new TextEncoder().encode('A/1');
  a.mempool.addTx(tx);
  a.chat.send('hello');
  a.sw.getAgent<SignalAgent>(SIGNAL_AGENT_NAME)!.sendSignal(relay.sw.nodeId, key.nodeId, { type: 'offer', sdp: 'v=0\r\n' });
  await waitFor(() => b.mempool.has(txHash(tx)) && chatAtB.includes('hello'), 3000, "A's tx and chat at B");
  await new Promise((resolve) => setTimeout(resolve, 2500)); // a topology announcement or two (every 2 s)

  expect(cut, 'peers the relay cut').toEqual([]);
  expect(relay.sw.peers.map((peer) => peer.id).sort()).toEqual([a.sw.nodeId, b.sw.nodeId, key.nodeId].sort());
}, 15_000);
