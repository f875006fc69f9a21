/**
 * WebRTC peers count as their relay's network for the address allowance (pex-address-allowance.ts): keys
 * are free, so liars reached through an honest relay answering our requests with made-up nodes spent the
 * allowance that the honest pages behind that relay needed to get their answers into our book. Real
 * Switches: a relay over TCP, @roamhq/wrtc data channels between the node and the peers it dials as
 * `webrtc://<id>?via=<relay>`, a real PEXAgent on the node, liars answering with fresh made-up nodes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { DEFAULT_PEX_CONFIG } from '../../src/pex/config.js';
import { WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK } from '../../src/pex/constants.js';
import type { Peer } from '../../src/switch/peer.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { waitFor } from '../helpers/wait.js';
import { fakeAddresses, RogueAgent, response, startPexNode, stopPexNodes, type PexNode } from '../pex/pex-helpers.js';

afterEach(stopPexNodes);

const LIARS = 3;

/** Book entries whose address is one of `addresses`. */
function held(node: PexNode, addresses: readonly string[]): number {
  return addresses.filter((address) => node.pex!.book.has(address)).length;
}

/** A node reachable over WebRTC through `relay`, answering PEX requests with `answer` (no PEXAgent of its own). */
async function webrtcPeer(relay: PexNode, answer: (peer: Peer) => Uint8Array[]): Promise<{ node: PexNode; agent: RogueAgent }> {
  const key = generateNodeKey();
  const rtc = webrtcTransport();
  const agent = new RogueAgent(answer);
  const node = await startPexNode({ identity: key, transports: [tcpTransport(), rtc], listen: `webrtc://${key.nodeId}`, pex: false, agents: { signal: rtc.signalAgent, pex: agent } });
  await node.sw.dial(relay.address);
  return { node, agent };
}

/** A relay over TCP, and a node with a real PEXAgent connected to it, dialling WebRTC peers through it. */
async function scene(): Promise<{ relay: PexNode; target: PexNode; addedBy: Map<string, number> }> {
  const relay = await startPexNode({ transports: [tcpTransport()], listen: 'tcp://127.0.0.1:0', pex: false, agents: { signal: new SignalAgent() } });
  const rtc = webrtcTransport();
  const target = await startPexNode({
    transports: [tcpTransport(), rtc],
    listen: 'tcp://127.0.0.1:0',
    agents: { signal: rtc.signalAgent },
    pex: { minRequestIntervalMs: 10, ensurePeersIntervalMs: 100, feelerIntervalMs: 0 },
  });
  await target.sw.dial(relay.address);
  const addedBy = new Map<string, number>();
  target.pex!.on('addresses', ({ peer, added }) => addedBy.set(peer.id, (addedBy.get(peer.id) ?? 0) + added));
  return { relay, target, addedBy };
}

/** `count` liars dialled through `relay` in turn, each answering every request with 100 fresh made-up nodes; waits for each one's first answer. */
async function dialLiars(relay: PexNode, target: PexNode, count: number): Promise<string[]> {
  const ids: string[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const answered = target.pex!.stats().responsesReceived;
    const liar = await webrtcPeer(relay, () => {
      offset += 100;
      return [response(fakeAddresses(100, 'tcp', 1000 + offset))];
    });
    await target.sw.dial(`webrtc://${liar.node.key.nodeId}?via=${relay.key.nodeId}`);
    await waitFor(() => liar.agent.received.length >= 1 && target.pex!.stats().responsesReceived > answered, 10_000, `liar ${i}'s answer`);
    ids.push(liar.node.key.nodeId);
  }
  return ids;
}

const sum = (values: Iterable<number>): number => [...values].reduce((total, value) => total + value, 0);

describe('liars reached over WebRTC through an honest relay', () => {
  it(`leave an honest page behind that relay its own allowance (while fewer than ${WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK} of its peers have spent theirs)`, async () => {
    const { relay, target, addedBy } = await scene();
    await dialLiars(relay, target, LIARS);
    const honestTold = fakeAddresses(30, 'tcp', 50_000);
    const honest = await webrtcPeer(relay, () => [response(honestTold)]);
    await target.sw.dial(`webrtc://${honest.node.key.nodeId}?via=${relay.key.nodeId}`);
    await waitFor(() => honest.agent.received.length >= 1 && addedBy.has(honest.node.key.nodeId), 10_000, "the honest page's answer");
    // Before: the liars' first answer spent the relay network's 100, and the honest page's 30 added 0.
    expect(addedBy.get(honest.node.key.nodeId)).toBe(30);
    expect(held(target, honestTold)).toBe(30);
    expect(target.sw.peers.filter((peer) => peer.transport === 'webrtc')).toHaveLength(LIARS + 1);
  }, 60_000);

  it(`add no more than ${WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK} times a network's allowance in all, however many keys answer`, async () => {
    const { relay, target, addedBy } = await scene();
    const liars = await dialLiars(relay, target, WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK + 2);
    const burst = DEFAULT_PEX_CONFIG.newAddressBurstPerNetwork;
    // Each of the first keys its own burst; the last two nothing but what the relay's total earns meanwhile (4 a minute).
    expect(liars.map((id) => addedBy.get(id) ?? 0).slice(0, WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK)).toEqual(Array(WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK).fill(burst));
    // At most a minute's earning on top (the test's deadline), however slow the machine.
    expect(sum(addedBy.values())).toBeLessThanOrEqual(WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK * (burst + DEFAULT_PEX_CONFIG.newAddressesPerNetworkPerMinute));
  }, 60_000);
});
