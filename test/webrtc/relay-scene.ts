/**
 * Nodes for the tests of crowded candidate targets: relays on loopback hosts (127.0.0.x is one network,
 * 127.2.0.1 another, as a node connecting to them counts), WebRTC nodes (@roamhq/wrtc) connected to them,
 * and attackers signalling offers with ICE credentials no check satisfies.
 */
import type { NodeWebRtcOptions } from '../../src/node-options.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { DEFAULT_DIAL_TIMEOUT_MS } from '../../src/switch/constants.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { falseCredentialOffer, offerNaming } from '../helpers/crowded-address.js';
import { startNode, type TestNode } from '../helpers/nodes.js';

/** A relay on `host`. */
export function startRelay(host: string): Promise<TestNode> {
  return startNode({ agents: { signal: new SignalAgent() }, listen: [`tcp://${host}:0`] });
}

/** A node of a WebRTC transport made with `options`, taking offers, connected to `relays`, dialling within the default deadline. */
export async function webrtcNode(options: NodeWebRtcOptions, relays: TestNode[]): Promise<TestNode> {
  const key = generateNodeKey();
  const rtc = webrtcTransport(options);
  const node = await startNode({
    identity: key,
    transports: [tcpTransport(), rtc],
    listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`],
    agents: { signal: rtc.signalAgent },
    dialTimeoutMs: DEFAULT_DIAL_TIMEOUT_MS,
  });
  for (const relay of relays) await node.sw.dial(relay.address);
  return node;
}

/**
 * Signals `target` `count` offers, through `relays` in turn, each from a node of its own (keys are free:
 * one negotiation per relay and remote), each naming `candidateOf(i)` as its one host candidate (UDP unless it says TCP).
 */
export async function falseOffers(
  relays: TestNode[],
  target: TestNode,
  count: number,
  candidateOf: (index: number) => { address: string; port: number; transport?: 'udp' | 'tcp' },
): Promise<void> {
  const offer = await falseCredentialOffer();
  for (let i = 0; i < count; i++) {
    const signal = new SignalAgent();
    const attacker = await startNode({ agents: { signal } });
    const relay = relays[i % relays.length]!;
    await attacker.sw.dial(relay.address);
    const { address, port, transport } = candidateOf(i);
    if (!signal.sendSignal(relay.key.nodeId, target.key.nodeId, offerNaming(offer, address, port, transport))) throw new Error(`offer ${i} not sent`);
  }
}

/** Dials `target` from each of `peers` through the relay `viaOf` names, all at once: each dial's transport, or its error. */
export async function dialAll(peers: TestNode[], target: TestNode, viaOf: (index: number) => TestNode): Promise<string[]> {
  const dials = peers.map((peer, i) => peer.sw.dial(`webrtc://${target.key.nodeId}?via=${viaOf(i).key.nodeId}`));
  const outcomes = await Promise.allSettled(dials);
  return outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.transport : String(outcome.reason)));
}
