/**
 * Run as a child process by hang-up.test.ts (a crash must fail that test, not kill its vitest worker):
 * `rounds` times, two nodes link over real data channels (@roamhq/wrtc) through a relay, one keeps
 * sending to the other, and the other disconnects it. Prints one line of JSON: the rounds run.
 * Before the hang-up (src/webrtc/hang-up.ts) about one round in eight crashed (SIGSEGV in wrtc's send).
 */
import { generateNodeKey } from '../../src/crypto/keys.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { bytes, startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

async function rtcNode(relay: TestNode): Promise<TestNode> {
  const key = generateNodeKey();
  const rtc = webrtcTransport();
  const node = await startNode({ identity: key, transports: [tcpTransport(), rtc], listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`], agents: { signal: rtc.signalAgent } });
  await node.sw.dial(relay.address);
  return node;
}

/** Sends 16 KB messages from `node` to `peerId` for as long as they are linked. */
async function keepSending(node: TestNode, peerId: string): Promise<void> {
  const message = bytes(16_000, 1);
  for (;;) {
    const peer = node.sw.getPeer(peerId);
    if (peer === undefined || !(await peer.send(0x20, message).catch(() => false))) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const rounds = Number(process.argv[2] ?? 10);
const relay = await startNode({ agents: { signal: new SignalAgent() } });
for (let round = 0; round < rounds; round++) {
  const closer = await rtcNode(relay);
  const sender = await rtcNode(relay);
  await sender.sw.dial(`webrtc://${closer.key.nodeId}?via=${relay.key.nodeId}`);
  const sending = keepSending(sender, closer.key.nodeId);
  await waitFor(() => closer.agent.messages.length > 0, 5000, 'the sender heard');
  await closer.sw.disconnect(closer.sw.getPeer(sender.key.nodeId)!);
  await sending;
  await closer.sw.stop();
  await sender.sw.stop();
}
await stopAll();
console.log(JSON.stringify({ rounds }));
process.exit(0);
