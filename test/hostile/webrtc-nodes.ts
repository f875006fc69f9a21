/** A relay and its WebRTC peers, without the test runner (fixtures run them in namespaces of their own). */
import { generateNodeKey } from '../../src/crypto/keys.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import type { WebRtcTransport } from '../../src/webrtc/webrtc-transport.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { startNode, type TestNode } from '../helpers/nodes.js';

/** A relay: a node that forwards signalling between its peers. */
export function startRelay(): Promise<TestNode> {
  return startNode({ agents: { signal: new SignalAgent() } });
}

/** A node taking WebRTC offers over `rtc` (an honest transport by default), connected to `relay`. */
export async function rtcNode(relay: TestNode, rtc: WebRtcTransport = webrtcTransport()): Promise<TestNode> {
  const key = generateNodeKey();
  const node = await startNode({
    identity: key,
    transports: [tcpTransport(), rtc],
    listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`],
    agents: { signal: rtc.signalAgent },
  });
  await node.sw.dial(relay.address);
  return node;
}
