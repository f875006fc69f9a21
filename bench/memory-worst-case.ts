/**
 * `npx tsx bench/memory-worst-case.ts [--feeders 16] [--sinks 20] [--fill-ms 4500]`: how much memory
 * peers can make the relay program (`meshlink node`, demo/node-runner.ts, its defaults) hold, over
 * real TCP on 127.0.0.1. The victim runs in a child process; its RSS is read from /proc.
 *
 * The attack is the largest product of bounds found (README "Hostile peers", memory worst case): the
 * mempool passes every tx a peer sends on to every other peer with `trySend`, and a channel's send queue
 * was bounded in messages only (1,024), so a peer that does not read pins 1,024 txs of 64 KiB (64 MiB).
 * Feeders send distinct 64 KiB txs at the mempool's allowance (1 MiB/s each) and declare a 1-byte
 * mempool capacity, so the victim passes nothing back to them; sinks declare the full capacity and stop
 * reading (a proxy pauses the victim → sink direction), one after another, so each holds txs of its own
 * (sinks filled at once would share the same buffers). Two honest peers exchange small txs through the
 * victim meanwhile; every one must arrive.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { MempoolCh, encodeTxMessage } from '../demo/agents/mempool.js';
import type { StartedInfo } from '../demo/node-runner.js';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { nodeHandshakeCrypto } from '../platforms/node/handshake-crypto.js';
import { tcpTransport } from '../platforms/node/tcp.js';
import type { ChannelDescriptor } from '../src/conn/channel-descriptor.js';
import { generateNodeKey } from '../src/crypto/keys.js';
import type { Peer } from '../src/switch/peer.js';
import { Switch } from '../src/switch/switch.js';

const { values } = parseArgs({
  options: { feeders: { type: 'string' }, sinks: { type: 'string' }, 'fill-ms': { type: 'string' } },
});
const FEEDERS = Number(values.feeders ?? 16);
const SINKS = Number(values.sinks ?? 20);
/** How long each sink is fed before the next connects: 64 MiB at FEEDERS MiB/s, and some margin. */
const FILL_MS = Number(values['fill-ms'] ?? Math.ceil((64 / FEEDERS) * 1000 * 1.1));
const NETWORK = 'memcap-bench';
const TX_BYTES = 64 * 1024;
/** The mempool's allowance is 1 MiB/s per peer: 15 txs of 64 KiB a second stay under it. */
const FEEDER_TXS_PER_SECOND = 15;
const MiB = 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

async function startVictim(home: string): Promise<{ pid: number; started: StartedInfo; stop(): void }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'demo/cli.ts', 'node', '--listen', 'tcp://127.0.0.1:0', '--home', home, '--allow-local', '--log-level', 'error', '--network', NETWORK],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const started = await new Promise<StartedInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('victim did not start in 20 s')), 20_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as StartedInfo);
    });
  });
  lines.on('line', () => undefined);
  return { pid: child.pid!, started, stop: () => void child.kill('SIGTERM') };
}

/** A TCP proxy whose victim → dialer direction can be stopped (the sink stops reading). */
async function startPausableProxy(targetPort: number): Promise<{ port: number; stopReading(): void; close(): void }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      s.on('error', () => undefined);
      sockets.push(s);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stopReading: () => {
      // Both ends of the victim → sink flow stop: the victim's socket buffers fill, then its queues.
      const [client, upstream] = [sockets[0]!, sockets[1]!];
      upstream.unpipe(client);
      upstream.pause();
      client.pause();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const mempoolChannel = (recvMessageCapacity: number): ChannelDescriptor[] => [{ id: MempoolCh, priority: 1, sendQueueCapacity: 4096, recvMessageCapacity }];

/** A peer of the attack (or an honest one) that dials out only and keeps what it receives. */
interface BenchPeer {
  sw: Switch;
  received: Uint8Array[];
}
const running: Switch[] = [];

async function startPeer(channels: ChannelDescriptor[]): Promise<BenchPeer> {
  const received: Uint8Array[] = [];
  const sw = new Switch({ identity: generateNodeKey(), network: NETWORK, transports: [tcpTransport()], listen: [], aead: nodeChaCha20Poly1305, handshakeCrypto: nodeHandshakeCrypto });
  sw.addAgent('bench', { channels, receive: (_channelId, _peer, message) => void received.push(message.slice()) });
  await sw.start();
  running.push(sw);
  return { sw, received };
}

async function connect(node: BenchPeer, victimId: string, port: number): Promise<Peer> {
  await node.sw.dial(`tcp://${victimId}@127.0.0.1:${port}`);
  return node.sw.getPeer(victimId)!;
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'memcap-'));
  const victim = await startVictim(home);
  const victimId = victim.started.nodeId;
  const port = Number(new URL(victim.started.listen[0]!.replace(/^tcp:/, 'http:')).port);
  let peakRss = rssBytes(victim.pid);
  const baseline = peakRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssBytes(victim.pid))), 100);
  const stops: (() => void)[] = [];
  try {
    // Honest pair: small txs declared small, so the victim passes them the honest ones only.
    const [a, b] = [await startPeer(mempoolChannel(1024)), await startPeer(mempoolChannel(1024))];
    const aPeer = await connect(a, victimId, port);
    await connect(b, victimId, port);
    let honestSent = 0;
    const honest = setInterval(() => {
      if (aPeer.trySend(MempoolCh, encodeTxMessage(new TextEncoder().encode(`honest/${honestSent}/${randomBytes(8).toString('hex')}`)))) honestSent++;
    }, 100);
    stops.push(() => clearInterval(honest));

    const feeders: Peer[] = [];
    for (let i = 0; i < FEEDERS; i++) feeders.push(await connect(await startPeer(mempoolChannel(1)), victimId, port));
    const feed = setInterval(() => {
      for (const peer of feeders) for (let k = 0; k < FEEDER_TXS_PER_SECOND / 10; k++) peer.trySend(MempoolCh, encodeTxMessage(randomBytes(TX_BYTES)));
    }, 100);
    // 1.5 txs per 100 ms rounds down to 1: send the remainder every other tick.
    let tick = 0;
    const feedOdd = setInterval(() => {
      if (tick++ % 2 === 0) for (const peer of feeders) peer.trySend(MempoolCh, encodeTxMessage(randomBytes(TX_BYTES)));
    }, 100);
    stops.push(() => clearInterval(feed), () => clearInterval(feedOdd));

    const startedAt = Date.now();
    const failedSinks: string[] = [];
    for (let i = 0; i < SINKS; i++) {
      const proxy = await startPausableProxy(port);
      stops.push(proxy.close);
      const sink = await startPeer(mempoolChannel(TX_BYTES + 64));
      try {
        await connect(sink, victimId, proxy.port);
      } catch (error) {
        // A victim busy with its memory may not finish a handshake in time: that is a finding too.
        failedSinks.push(`${i + 1}: ${(error as Error).message}`);
        continue;
      }
      proxy.stopReading();
      await sleep(FILL_MS);
      const rss = rssBytes(victim.pid);
      console.log(`sink ${i + 1}/${SINKS} at ${((Date.now() - startedAt) / 1000).toFixed(0)} s: victim RSS ${(rss / MiB).toFixed(0)} MiB (peak ${(peakRss / MiB).toFixed(0)})`);
    }
    stops.shift()!(); // the honest pump: let the last ones arrive
    await sleep(1000);
    const received = new Set(b.received.map((m) => Buffer.from(m).toString('hex')));
    console.log(
      JSON.stringify({
        feeders: FEEDERS,
        sinks: SINKS,
        fillMs: FILL_MS,
        baselineRssMiB: Math.round(baseline / MiB),
        peakRssMiB: Math.round(peakRss / MiB),
        growthMiB: Math.round((peakRss - baseline) / MiB),
        failedSinks,
        honestSent,
        honestReceived: received.size,
      }),
    );
  } finally {
    clearInterval(sampler);
    for (const stop of stops) stop();
    victim.stop();
    await Promise.all(running.map((sw) => sw.stop()));
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
