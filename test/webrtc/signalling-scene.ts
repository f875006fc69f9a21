/**
 * Nodes for the signalling and negotiation tests: Switches over the in-memory transport, each with a
 * SignalAgent, and a stand-in simple-peer that never connects. What those tests exercise is who may
 * signal what, how many negotiations are held and how each ends; the real data channel is tested in
 * webrtc.test.ts and mesh.test.ts.
 */
import { tcpTransport } from '../../platforms/node/tcp.js';
import { generateNodeKey, type NodeKey } from '../../src/crypto/keys.js';
import type { SignalData } from '../../src/webrtc/signal-messages.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { Switch } from '../../src/switch/switch.js';
import type { MemoryNetwork } from '../../src/transport/memory.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import type { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { tcpFrom } from '../helpers/tcp-from.js';

export const OFFER: SignalData = { type: 'offer', sdp: 'v=0\r\n' };
export const CANDIDATE: SignalData = { type: 'candidate', candidate: { candidate: 'candidate:0 1 udp 2122260223 192.0.2.1 50000 typ host', sdpMLineIndex: 0, sdpMid: '0' } };
/** One answer as Node's wrtc sends it: an SDP and 13 trickled candidates. */
export const SIGNALS_PER_ANSWER = 14;

/** A simple-peer that signals nothing and never connects; counts how many were made and destroyed. */
export class SilentPeer implements SimplePeerLike {
  static created = 0;
  static destroyed = 0;
  readonly bufferSize = 0;
  readonly connected = false;
  destroyed = false;
  constructor() {
    SilentPeer.created++;
  }
  signal(): void {}
  send(): void {}
  destroy(): void {
    if (!this.destroyed) SilentPeer.destroyed++;
    this.destroyed = true;
  }
  on(): this {
    return this;
  }
}

/** A stand-in RTCPeerConnection that offers at once, as a real initiator does, and never connects. */
export function offeringPeer(initiator: boolean): SimplePeerLike {
  const peer = new SilentPeer();
  if (!initiator) return peer;
  peer.on = ((event: string, listener: (data: SignalData) => void) => {
    if (event === 'signal') setTimeout(() => !peer.destroyed && listener(OFFER), 0);
    return peer;
  }) as SilentPeer['on'];
  return peer;
}

const switches: Switch[] = [];

/** Stops every node `node()` made; call from afterEach. */
export async function stopNodes(): Promise<void> {
  await Promise.all(switches.splice(0).map((sw) => sw.stop()));
}

/**
 * A started node listening on `memory://<name>`, or on a TCP port of 127.0.0.1 when `network` is 'tcp'
 * (and on webrtc with `extraTransports`).
 */
export async function node(network: MemoryNetwork | 'tcp', name: string, agent: SignalAgent, extraTransports: WebRtcTransport[] = [], identity: NodeKey = generateNodeKey()): Promise<Switch> {
  const sw = new Switch({
    identity,
    network: 'signal-rules',
    transports: [network === 'tcp' ? tcpTransport() : network.transport(), ...extraTransports],
    listen: [network === 'tcp' ? 'tcp://127.0.0.1:0' : `memory://${name}`, ...extraTransports.map(() => `webrtc://${identity.nodeId}`)],
  });
  sw.addAgent('signal', agent);
  await sw.start();
  switches.push(sw);
  return sw;
}

/**
 * A started node that only dials, over TCP from `localAddress` (127.x.y.z: all of 127/8 is loopback on
 * Linux), so that a relay on 127.0.0.1 sees it in that address's network (IPv4 /16).
 */
export async function nodeFrom(localAddress: string, agent: SignalAgent): Promise<Switch> {
  const sw = new Switch({ identity: generateNodeKey(), network: 'signal-rules', transports: [tcpFrom(localAddress)], listen: [] });
  sw.addAgent('signal', agent);
  await sw.start();
  switches.push(sw);
  return sw;
}

/**
 * A relay over TCP and a page that dialled it, with lower limits (by default 4/s, burst 30: it takes 30
 * at once from one sender through its relay, 300 from all, and drops the rest of what is not part of a
 * negotiation of its own, `negotiating`); `heard` counts what the page took, by sender; `joined(name)`
 * starts a non-relaying node connected to the relay (from 127.0.0.1, or from `localAddress`).
 */
export async function pageBehindRelay(pageLimits = { ratePerSecond: 4, burstMessages: 30 }) {
  const relayAgent = new SignalAgent();
  const relay = await node('tcp', 'relay', relayAgent);
  const heard = new Map<string, number>();
  const negotiating = new Set<string>();
  const pageAgent = new SignalAgent({
    ...pageLimits,
    inNegotiation: (_via, from) => negotiating.has(from),
    onSignal: ({ from }) => void heard.set(from, (heard.get(from) ?? 0) + 1),
  });
  const page = await node('tcp', 'page', pageAgent);
  await page.dial(relay.addresses[0]!);
  const joined = async (name: string, localAddress?: string): Promise<{ sw: Switch; agent: SignalAgent }> => {
    const agent = new SignalAgent({ relay: false });
    const sw = localAddress === undefined ? await node('tcp', name, agent) : await nodeFrom(localAddress, agent);
    await sw.dial(relay.addresses[0]!);
    return { sw, agent };
  };
  return { relay, relayAgent, page, pageAgent, heard, negotiating, joined };
}
