/**
 * Child-process entry of bench/cpu-per-byte.ts: the victim node, alone in its process so that
 * `process.cpuUsage()` counts only its work. It listens on TCP and WebSocket with one channel of each
 * kind a message can reach (a push agent, a pull inbox, an async receive), PEX and signalling, and
 * answers the parent over IPC: its CPU so far and what its agents have seen.
 */
import type { ChannelDescriptor } from '../src/conn/channel-descriptor.js';
import { generateNodeKey } from '../src/crypto/keys.js';
import { PEXAgent } from '../src/pex/pex-agent.js';
import { Switch } from '../src/switch/switch.js';
import { SignalAgent } from '../src/webrtc/signal-agent.js';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { tcpTransport } from '../platforms/node/tcp.js';
import { wsTransport } from '../platforms/node/ws-transport.js';

/** Channels of the victim; the parent imports these numbers. */
export const VictimChannel = { Push: 0x40, Pull: 0x41, Async: 0x42, Marker: 0x43 } as const;
export const VICTIM_RECV_CAPACITY_BYTES = 1024 * 1024;

export interface VictimCounts {
  push: number;
  pull: number;
  async: number;
  markers: number;
  pexResponses: number;
  pexAddresses: number;
  signalsDelivered: number;
  bookSize: number;
  /** Peers connected now. */
  peers: number;
}

export type ToVictim = { id: number; cmd: 'cpu' } | { id: number; cmd: 'dial'; address: string } | { id: number; cmd: 'stop' };
export type FromVictim =
  | { id: 0; ready: { nodeId: string; tcp: string; ws: string } }
  | { id: number; cpuMicros: number; systemMicros?: number; counts: VictimCounts }
  | { id: number; error: string };

const channel = (id: number): ChannelDescriptor => ({ id, priority: 1, sendQueueCapacity: 1024, recvMessageCapacity: VICTIM_RECV_CAPACITY_BYTES });

async function main(): Promise<void> {
  const key = generateNodeKey();
  const counts: VictimCounts = { push: 0, pull: 0, async: 0, markers: 0, pexResponses: 0, pexAddresses: 0, signalsDelivered: 0, bookSize: 0, peers: 0 };
  const pex = new PEXAgent({ allowLocal: true, ensurePeersIntervalMs: 3_600_000, banMs: 60_000 });
  const signal = new SignalAgent();
  const sw = new Switch({
    identity: key,
    network: 'cpu-bench',
    transports: [tcpTransport(), wsTransport()],
    listen: ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0/'],
    aead: nodeChaCha20Poly1305,
    maxInbound: 64,
    // The parent's `--recv-rate`, passed as the first argument.
    connection: { recvRateBytesPerSec: Number(process.argv[2] ?? 0) },
  });
  sw.addAgent('pex', pex).addAgent('signal', signal);
  sw.addAgent('push', {
    channels: [channel(VictimChannel.Push), channel(VictimChannel.Marker)],
    receive: (channelId) => {
      if (channelId === VictimChannel.Marker) counts.markers++;
      else counts.push++;
    },
  });
  sw.addAgent('async', {
    channels: [channel(VictimChannel.Async)],
    receive: async () => {
      await Promise.resolve();
      counts.async++;
    },
  });
  sw.addAgent('pull', { channels: [channel(VictimChannel.Pull)] });
  await sw.start();
  void (async () => {
    for await (const _ of sw.receive(VictimChannel.Pull)) counts.pull++;
  })();
  const snapshot = (): VictimCounts => {
    const stats = pex.stats();
    return { ...counts, pexResponses: stats.responsesReceived, pexAddresses: stats.addressesReceived, signalsDelivered: signal.stats.delivered, bookSize: pex.book.size(), peers: sw.peers.length };
  };
  const answer = (message: FromVictim): void => void process.send!(message);
  process.once('disconnect', () => process.exit(0));
  process.on('message', (raw) => {
    const message = raw as ToVictim;
    if (message.cmd === 'cpu') {
      const usage = process.cpuUsage();
      answer({ id: message.id, cpuMicros: usage.user + usage.system, systemMicros: usage.system, counts: snapshot() });
    } else if (message.cmd === 'dial') {
      sw.dial(message.address).then(
        () => answer({ id: message.id, cpuMicros: 0, counts: snapshot() }),
        (error: unknown) => answer({ id: message.id, error: String(error) }),
      );
    } else {
      void sw.stop().finally(() => {
        answer({ id: message.id, cpuMicros: 0, counts: snapshot() });
        process.disconnect();
      });
    }
  });
  const find = (scheme: string): string => sw.addresses.find((address) => address.startsWith(scheme))!;
  answer({ id: 0, ready: { nodeId: key.nodeId, tcp: find('tcp://'), ws: find('ws://') } });
}

if (process.send !== undefined) void main();
