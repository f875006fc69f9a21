/**
 * `npx tsx bench/recv-share.ts [--keys 0,1,8,30] [--flood push|pull] [--flood-bytes N] [--flood-nice N] [--recv-rate B] [--seconds S] [--profile]`
 * — what honest peers get of a node's receive work while fresh keys flood it. The victim is this
 * process; 4 honest nodes (one child process) each send a timestamped message every 10 ms on a push
 * channel and on a pull channel (read by the app at ~4 messages a ms, as test/hostile/pull-inbox-share
 * does); the flooders (in two other child processes) send tiny messages on one of the two as fast as
 * their connection takes them, over TCP on 127.0.0.1. Per flooder count: honest messages delivered per
 * channel during the flood (of those sent), their delay (p50, p99, max), flood messages delivered, and
 * the victim's CPU. With `--profile`, the victim's self time by function over the flood.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { generateNodeKey } from '../src/crypto/keys.js';
import type { Peer } from '../src/switch/peer.js';
import { Switch } from '../src/switch/switch.js';
import { decodeMessage } from '../src/wire/codec.js';
import { nodeChaCha20Poly1305 } from '../platforms/node/aead.js';
import { tcpTransport } from '../platforms/node/tcp.js';
import { formatSelfTimes, startCpuProfile, stopCpuProfile } from './cpu-profile.js';
import { PULL_CH, PUSH_CH, SHARE_NETWORK, shareChannels, sleep, wallNow, type FromPeers, type PeersRole } from './recv-share-common.js';

const arg = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? undefined : process.argv[index + 1];
};
const KEYS = (arg('keys') ?? '0,1,8,30').split(',').map(Number);
const FLOOD_CHANNEL = arg('flood') === 'push' ? PUSH_CH : PULL_CH;
const RECV_RATE = Number(arg('recv-rate') ?? 0);
const FLOOD_MS = Number(arg('seconds') ?? 8) * 1000;
const PROFILE = process.argv.includes('--profile');
/** Flood messages of this many bytes of padding (0: tiny ones; 65000: bulk peers rather than floods). */
const FLOOD_BYTES = Number(arg('flood-bytes') ?? 0);
/** The flooders' niceness (19: only the CPU the victim and the honest senders leave; 0 for bulk throughput). */
const FLOOD_NICE = Number(arg('flood-nice') ?? 19);
const HONEST = 4;
const HONEST_TICK_MS = 10;
/** The app reading the pull channel sleeps 1 ms every this many messages. */
const PULL_READ_BATCH = 4;
/** Flooder processes: the machine has two cores, more would only take turns. */
const FLOOD_PROCESSES = 2;

class PeersProcess {
  private readonly child: ChildProcess;
  private readonly replies: FromPeers[] = [];
  private wake: (() => void) | undefined;

  constructor(role: PeersRole, victimAddress: string, count: number, channel: number) {
    this.child = fork(new URL('./recv-share-peers.ts', import.meta.url).pathname, [role, victimAddress, String(count), String(channel), String(HONEST_TICK_MS), String(FLOOD_BYTES)], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    // Flooders take only the CPU the victim and the honest senders leave: on two shared cores, a
    // flooder at equal priority delays the honest senders' own timers, which is not the victim's doing.
    if (role === 'flood') setPriority(this.child.pid!, FLOOD_NICE);
    this.child.on('message', (message: FromPeers) => {
      this.replies.push(message);
      this.wake?.();
    });
  }

  async next(): Promise<FromPeers> {
    const deadline = Date.now() + 60_000;
    while (this.replies.length === 0) {
      if (Date.now() > deadline) throw new Error('peer process did not answer in 60 s');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 1000);
      });
    }
    const reply = this.replies.shift()!;
    if ('error' in reply) throw new Error(`peer process: ${reply.error}`);
    return reply;
  }

  send(cmd: 'start' | 'stop' | 'exit'): void {
    this.child.send({ cmd });
  }
}

interface Tally {
  honestDelays: number[];
  flood: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

async function runCase(keys: number): Promise<Record<string, unknown>> {
  const sw = new Switch({
    identity: generateNodeKey(),
    network: SHARE_NETWORK,
    transports: [tcpTransport()],
    listen: ['tcp://127.0.0.1:0'],
    aead: nodeChaCha20Poly1305,
    stopTimeoutMs: 1000,
    maxInbound: 64,
    inboxCapacity: 1024,
    connection: { recvRateBytesPerSec: RECV_RATE },
  });
  let counting = false;
  const tallies = new Map<number, Tally>([PUSH_CH, PULL_CH].map((ch) => [ch, { honestDelays: [], flood: 0 }]));
  const record = (channelId: number, message: Uint8Array): void => {
    const value = decodeMessage(message) as { k?: string; t?: number };
    if (!counting) return;
    const tally = tallies.get(channelId)!;
    if (value.k === 'honest') tally.honestDelays.push(wallNow() - value.t!);
    else tally.flood++;
  };
  sw.addAgent('push', { channels: shareChannels().filter((c) => c.id === PUSH_CH), receive: (ch: number, _peer: Peer, message: Uint8Array) => record(ch, message) });
  sw.addAgent('pull', { channels: shareChannels().filter((c) => c.id === PULL_CH) });
  await sw.start();
  let read = 0;
  void (async () => {
    for await (const { message } of sw.receive(PULL_CH)) {
      record(PULL_CH, message);
      if (++read % PULL_READ_BATCH === 0) await sleep(1);
    }
  })();
  const address = sw.addresses[0]!;
  const honest = new PeersProcess('honest', address, HONEST, PULL_CH);
  const perProcess = Array.from({ length: Math.min(keys, FLOOD_PROCESSES) }, (_, i) => Math.floor(keys / FLOOD_PROCESSES) + (i < keys % FLOOD_PROCESSES ? 1 : 0));
  const flooders = perProcess.map((count) => new PeersProcess('flood', address, count, FLOOD_CHANNEL));
  const all = [honest, ...flooders];
  for (const p of all) await p.next();
  honest.send('start');
  await sleep(1000);
  for (const f of flooders) f.send('start');
  await sleep(500);
  counting = true;
  if (PROFILE) await startCpuProfile();
  const cpuBefore = process.cpuUsage();
  await sleep(FLOOD_MS);
  const cpu = process.cpuUsage(cpuBefore);
  counting = false;
  const profile = PROFILE ? await stopCpuProfile() : undefined;
  for (const p of all) p.send('stop');
  const sent = await Promise.all(all.map(async (p) => ((await p.next()) as { sent: number }).sent));
  for (const p of all) p.send('exit');
  await Promise.all(all.map((p) => p.next()));
  await sw.stop();
  const summary = (ch: number): Record<string, number> => {
    const { honestDelays, flood } = tallies.get(ch)!;
    const sorted = honestDelays.sort((a, b) => a - b);
    return {
      honest: sorted.length,
      p50Ms: Number(percentile(sorted, 0.5).toFixed(1)),
      p99Ms: Number(percentile(sorted, 0.99).toFixed(1)),
      maxMs: Number((sorted.at(-1) ?? NaN).toFixed(1)),
      flood,
    };
  };
  if (profile !== undefined) console.error(`keys ${keys}:\n${formatSelfTimes(profile, FLOOD_MS / 1000, 30)}`);
  return {
    keys,
    flood: FLOOD_CHANNEL === PUSH_CH ? 'push' : 'pull',
    floodBytes: FLOOD_BYTES,
    recvRate: RECV_RATE,
    honestExpectedPerChannel: (HONEST * FLOOD_MS) / HONEST_TICK_MS,
    honestSentAll: sent[0],
    push: summary(PUSH_CH),
    pull: summary(PULL_CH),
    victimCpuPct: Math.round(((cpu.user + cpu.system) / 1000 / FLOOD_MS) * 100),
  };
}

for (const keys of KEYS) console.log(JSON.stringify(await runCase(keys)));
process.exit(0);
