/**
 * Ending a WebRTC link without crashing the remote (src/webrtc/hang-up.ts). @roamhq/wrtc segfaults when
 * its data channel reaches `closed`, on its signalling thread, while a `send()` is in flight on the main
 * thread: so the side that ends a link asks the remote to hang up and lets it close first. Real data
 * channels (@roamhq/wrtc), real nodes.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { SignalAgent } from '../../src/webrtc/signal-agent.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { webrtcTransport } from '../../platforms/node/webrtc.js';
import { bytes, startNode, stopAll, type TestNode } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { wrtc, type PeerConnectionClass } from '../hostile/webrtc-scene.js';

afterEach(stopAll);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCENE = fileURLToPath(new URL('./close-under-traffic-process.ts', import.meta.url));

/** Runs close-under-traffic-process.ts for `rounds` rounds: how the process ended, and what it printed. */
function runCloseUnderTraffic(rounds: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCENE, String(rounds)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, output: output.slice(-2000) }));
  });
}

/** A node over RTCPeerConnections (`Base`'s) that log, in `log`, `name` each time one of them is closed. */
async function loggingRtcNode(relay: TestNode, name: string, log: string[], Base: PeerConnectionClass = wrtc.RTCPeerConnection): Promise<TestNode> {
  const Logging: PeerConnectionClass = class extends Base {
    override close(): void {
      if (this.signalingState !== 'closed') log.push(name);
      super.close();
    }
  };
  const key = generateNodeKey();
  const rtc = webrtcTransport({ wrtc: { ...wrtc, RTCPeerConnection: Logging } });
  const node = await startNode({ identity: key, transports: [tcpTransport(), rtc], listen: ['tcp://127.0.0.1:0', `webrtc://${key.nodeId}`], agents: { signal: rtc.signalAgent } });
  await node.sw.dial(relay.address);
  return node;
}

describe('ending a WebRTC link', () => {
  it('asks the remote to hang up: the remote closes its RTCPeerConnection first, and its link ends cleanly', async () => {
    const relay = await startNode({ agents: { signal: new SignalAgent() } });
    const closes: string[] = [];
    const closer = await loggingRtcNode(relay, 'closer', closes);
    const remote = await loggingRtcNode(relay, 'remote', closes);
    await remote.sw.dial(`webrtc://${closer.key.nodeId}?via=${relay.key.nodeId}`);
    expect(await remote.sw.getPeer(closer.key.nodeId)!.send(0x20, bytes(1000))).toBe(true);
    await waitFor(() => closer.agent.messages.length > 0, 5000, 'the closer heard the remote');
    await closer.sw.disconnect(closer.sw.getPeer(remote.key.nodeId)!);
    await waitFor(() => closes.length === 2, 8000, 'both RTCPeerConnections closed');
    // Before: the closer closed its own first, under a remote that may have been sending.
    expect(closes).toEqual(['remote', 'closer']);
    await waitFor(() => remote.sw.getPeer(closer.key.nodeId) === undefined, 5000, 'the remote dropped the closer');
    // A clean close of the remote end (ClosedError), not a failed send on a channel closed under it.
    expect(remote.agent.removed.find(({ peer }) => peer.id === closer.key.nodeId)?.reason?.name).toBe('ClosedError');
  }, 30_000);

  it('asks a remote whose only data channel it refuses (unreliable-data-channel) to hang up on that channel', async () => {
    const relay = await startNode({ agents: { signal: new SignalAgent() } });
    const closes: string[] = [];
    const victim = await loggingRtcNode(relay, 'victim', closes);
    const Unreliable: PeerConnectionClass = class extends wrtc.RTCPeerConnection {
      override createDataChannel(label: string): RTCDataChannel {
        return super.createDataChannel(label, { ordered: false, maxRetransmits: 0 });
      }
    };
    const attacker = await loggingRtcNode(relay, 'attacker', closes, Unreliable);
    const dial = await attacker.sw.dial(`webrtc://${victim.key.nodeId}?via=${relay.key.nodeId}`).then(() => 'connected', (error: Error) => error.message);
    expect(dial).not.toBe('connected');
    await waitFor(() => closes.length === 2, 8000, 'both RTCPeerConnections closed');
    // Before: the victim closed the channel and its connection at once, under a remote that may be sending.
    expect(closes).toEqual(['attacker', 'victim']);
  }, 30_000);

  it('does not crash a process whose peer it disconnects while that peer keeps sending (24 rounds, in a child process)', async () => {
    // Before: every run of 24 rounds died of SIGSEGV in RTCDataChannel::Send (14 of 14), mostly by round 8.
    const { code, signal, output } = await runCloseUnderTraffic(24);
    expect({ code, signal }, output).toEqual({ code: 0, signal: null });
    expect(output).toContain('"rounds":24');
  }, 120_000);
});
