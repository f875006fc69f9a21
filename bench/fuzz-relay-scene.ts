/**
 * The stage of the relay fuzzer (bench/fuzz-relay.ts): the real relay program (`meshlink node`,
 * demo/cli.ts) in a child process on 127.0.0.1 port 0 (TCP, WebSocket, /status), two honest nodes
 * in this process (createNode with PEX, signalling, and the demo's mempool, topology and chat, so
 * whatever the relay passes on from the attacker meets their decoders too), one joined over TCP and
 * one over WebSocket, and authenticated attackers (two at once: ATTACKERS), each a Switch with a
 * fresh key per connection, sending any bytes on any channel straight to its MConnection (no
 * sender-side checks), so only the relay's own limits are in force. Probes: the child's CPU time and RSS from /proc, its /status, its log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createNode,
  generateNodeKey,
  MeshlinkError,
  MemoryStorage,
  nodeChaCha20Poly1305,
  Switch,
  tcpTransport,
  wsTransport,
  type ChannelDescriptor,
  type Peer,
} from '../platforms/node/index.js';
import { BaseAgent } from '../src/switch/agent.js';
import { ChatAgent } from '../demo/agents/chat.js';
import { MempoolAgent, txHash } from '../demo/agents/mempool.js';
import { TopologyAgent } from '../demo/agents/topology.js';
import type { StartedInfo } from '../demo/node-runner.js';
import { tcpFrom } from '../test/helpers/tcp-from.js';
import { ATTACK_CHANNEL_IDS } from './fuzz-relay-messages.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const START_TIMEOUT_MS = 60 * 1000;
/** Log lines of the relay kept for a report (the newest). */
const KEPT_LOG_LINES = 200;
/** Linux clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on every mainstream kernel). */
const CLOCK_TICKS_PER_SEC = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

// ─── the relay program ───────────────────────────────────────────────────────────────────────

export interface RelayProcess {
  readonly child: ChildProcess;
  readonly started: StartedInfo;
  readonly tcpAddress: string;
  readonly wsAddress: string;
  /** Counts of the relay's log events, by name. */
  readonly events: Map<string, number>;
  /** The newest log lines. */
  readonly lines: string[];
  /** Disconnect reasons the relay logged for each peer id (bounded by its own log limit). */
  readonly disconnectReasons: Map<string, { code?: string; message?: string } | undefined>;
  stderr(): string;
  alive(): boolean;
  /** utime + stime of the child so far, in ms (10 ms resolution). */
  cpuMs(): number;
  rssBytes(): number;
  stop(): Promise<void>;
}

export async function startRelay(): Promise<RelayProcess> {
  const home = await mkdtemp(join(tmpdir(), 'meshlink-fuzz-relay-'));
  const args = ['--import', 'tsx', 'demo/cli.ts', 'node', '--listen', 'tcp://127.0.0.1:0', '--ws', '127.0.0.1:0', '--status', '127.0.0.1:0', '--home', home, '--moniker', 'fuzzed-relay'];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const events = new Map<string, number>();
  const lines: string[] = [];
  const disconnectReasons = new Map<string, { code?: string; message?: string } | undefined>();
  let started: StartedInfo | undefined;
  let partial = '';
  let stderr = '';
  let exited = false;
  child.once('exit', () => (exited = true));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-16 * 1024)));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      if (started === undefined) {
        started = JSON.parse(line) as StartedInfo;
        continue;
      }
      lines.push(line);
      if (lines.length > KEPT_LOG_LINES) lines.shift();
      const entry = JSON.parse(line) as { event: string; peer?: string; reason?: { code?: string; message?: string } };
      events.set(entry.event, (events.get(entry.event) ?? 0) + 1);
      if (entry.event === 'peer:disconnected' && entry.peer !== undefined) disconnectReasons.set(entry.peer, entry.reason);
    }
  });
  await waitFor(() => started !== undefined || exited, START_TIMEOUT_MS, 'the relay to start');
  if (started === undefined) throw new Error(`the relay exited before starting: ${stderr}`);
  const info = started;
  const stat = (): string[] => readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return {
    child,
    started: info,
    tcpAddress: info.listen.find((a) => a.startsWith('tcp://'))!,
    wsAddress: info.listen.find((a) => a.startsWith('ws://'))!,
    events,
    lines,
    disconnectReasons,
    stderr: () => stderr,
    alive: () => !exited && child.exitCode === null,
    // After "pid (comm) ", field 3 is the state; utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 here.
    cpuMs: () => {
      const fields = stat();
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SEC;
    },
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? Number.NaN) * 1024,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        await waitFor(() => exited, 20_000, 'the relay to exit').catch(() => child.kill('SIGKILL'));
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** GET /status: how long it took and how big it was (bounded wait). */
export async function probeStatus(relay: RelayProcess, timeoutMs: number): Promise<{ ms: number; bytes: number; peers: number }> {
  const began = performance.now();
  const response = await fetch(`${relay.started.status}/status`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  const body = JSON.parse(text) as { peers: unknown[] };
  return { ms: performance.now() - began, bytes: text.length, peers: body.peers.length };
}

// ─── honest nodes ────────────────────────────────────────────────────────────────────────────

export interface HonestNode {
  readonly sw: Switch;
  readonly mempool: MempoolAgent;
  /** Errors this node saw from the relay (what the relay passed on that an honest decoder refused). */
  readonly relayErrors: Error[];
  /** The relay as this node's peer when the scene started: it must stay the same object. */
  readonly relayPeer: Peer;
}

async function startHonest(relay: RelayProcess, via: 'tcp' | 'ws'): Promise<HonestNode> {
  const sw = await createNode({ storage: new MemoryStorage(), listen: [], relay: true, pex: true, moniker: `honest-${via}` });
  const mempool = new MempoolAgent();
  sw.addAgent('mempool', mempool).addAgent('topology', new TopologyAgent({ kind: 'node' })).addAgent('chat', new ChatAgent());
  const relayErrors: Error[] = [];
  sw.on('peer:error', ({ peer, error }) => void (peer.id === relay.started.nodeId && relayErrors.length < 16 && relayErrors.push(error)));
  await sw.start();
  await sw.dial(via === 'tcp' ? relay.tcpAddress : relay.wsAddress);
  await waitFor(() => sw.getPeer(relay.started.nodeId) !== undefined, 10_000, `honest ${via} connected`);
  return { sw, mempool, relayErrors, relayPeer: sw.getPeer(relay.started.nodeId)! };
}

export async function startHonestPair(relay: RelayProcess): Promise<[HonestNode, HonestNode]> {
  return [await startHonest(relay, 'tcp'), await startHonest(relay, 'ws')];
}

let exchangeSeq = 0;
/**
 * One tx from each honest node to the other through the relay's mempool; resolves with the slower
 * one's ms, or throws after `withinMs`. Also checks both still hold their first connection.
 */
export async function honestExchange(relay: RelayProcess, [a, b]: readonly [HonestNode, HonestNode], withinMs: number): Promise<number> {
  for (const node of [a, b]) {
    const errors = node.relayErrors.map((e) => `${(e as { code?: string }).code ?? e.name}: ${e.message}`).join('; ');
    if (node.sw.getPeer(relay.started.nodeId) !== node.relayPeer) throw new Error(`${node.sw.nodeId.slice(0, 8)} lost its connection to the relay (${errors || 'no error'})`);
    if (errors !== '') throw new Error(`${node.sw.nodeId.slice(0, 8)} saw errors from the relay: ${errors}`);
  }
  const began = performance.now();
  const txs = [a, b].map((node) => new TextEncoder().encode(`honest/${node.sw.nodeId.slice(0, 8)}/${exchangeSeq++}/${Date.now()}`));
  const hashes = txs.map((tx, i) => ([a, b][i]!.mempool.addTx(tx), txHash(tx)));
  await waitFor(() => b.mempool.has(hashes[0]!) && a.mempool.has(hashes[1]!), withinMs, 'honest txs to cross the relay');
  return performance.now() - began;
}


// ─── the attacker ────────────────────────────────────────────────────────────────────────────

class SinkAgent extends BaseAgent {
  received = 0;
  constructor(readonly channels: readonly ChannelDescriptor[]) {
    super();
  }
  receive(): void {
    this.received++;
  }
}

/** A connection's end as the attacker saw it. */
export interface AttackerCut {
  /** Whether we closed it ourselves (a reconnect step). */
  ours: boolean;
  reason: Error | undefined;
  relayLogged?: { code?: string; message?: string } | undefined;
  id: string;
}

/**
 * The attacker: one Switch per connection (a fresh key each time, so a ban on the last id does not
 * end the run), every channel declared with room far above any relay limit.
 */
export class Attacker {
  private sw: Switch | undefined;
  private closing = false;
  readonly cuts: AttackerCut[] = [];
  /** Wire bytes (packets) of the connections already closed. */
  private closedWireBytes = 0;
  connections = 0;

  /** `from`: the local address its TCP sockets leave from (127.2.0.1: another network than the honest nodes'). */
  constructor(
    private readonly relay: RelayProcess,
    private readonly from?: string,
  ) {}

  get id(): string | undefined {
    return this.sw?.nodeId;
  }

  connected(): boolean {
    return this.sw?.getPeer(this.relay.started.nodeId) !== undefined;
  }

  async connect(via: 'tcp' | 'ws'): Promise<void> {
    await this.close();
    const channels = ATTACK_CHANNEL_IDS.map((id) => ({ id, priority: 1, sendQueueCapacity: 1024, sendQueueCapacityBytes: 1024 * 1024, recvMessageCapacity: 8 * 1024 * 1024 }));
    const sw = new Switch({
      identity: generateNodeKey(),
      network: 'meshlink',
      transports: [this.from === undefined ? tcpTransport() : tcpFrom(this.from), wsTransport()],
      listen: [],
      aead: nodeChaCha20Poly1305,
      handshakeTimeoutMs: 5000,
      dialTimeoutMs: 5000,
      stopTimeoutMs: 500,
      connection: { sendTimeoutMs: 1000 },
    });
    sw.addAgent('sink', new SinkAgent(channels));
    sw.on('peer:disconnected', ({ peer, reason }) => {
      if (peer.id !== this.relay.started.nodeId) return;
      this.cuts.push({ ours: this.closing, reason, id: sw.nodeId });
      this.closedWireBytes += peer.connection.status().sentBytes;
    });
    await sw.start();
    this.sw = sw;
    this.connections++;
    await sw.dial(via === 'tcp' ? this.relay.tcpAddress : this.relay.wsAddress);
  }

  /** Bytes the attacker's connections wrote (MConnection packets; the handshakes not counted). */
  get sentBytes(): number {
    return this.closedWireBytes + (this.sw?.getPeer(this.relay.started.nodeId)?.connection.status().sentBytes ?? 0);
  }

  /** Sends `bytes` `repeat` times; false once the connection is gone. Waits (bounded) when the queue is full. */
  async send(channel: number, bytes: Uint8Array, repeat: number): Promise<boolean> {
    for (let i = 0; i < repeat; i++) {
      const peer = this.sw?.getPeer(this.relay.started.nodeId);
      if (peer === undefined) return false;
      if (!peer.connection.trySend(channel, bytes)) await peer.connection.send(channel, bytes, { timeoutMs: 1000 }).catch(() => false);
    }
    return true;
  }

  /** Destroys the connection's link without a word (queued and half-sent messages with it), then the Switch. */
  async abort(): Promise<void> {
    this.closing = true;
    this.sw?.getPeer(this.relay.started.nodeId)?.connection.destroy();
    this.closing = false;
    await this.close();
  }

  async close(): Promise<void> {
    const sw = this.sw;
    this.sw = undefined;
    if (sw === undefined) return;
    this.closing = true;
    try {
      await sw.stop();
    } finally {
      this.closing = false;
    }
  }
}

/** Why a cut the attacker did not ask for is a finding, or undefined when it is a typed verdict. */
export function untypedCut(cut: AttackerCut): string | undefined {
  if (cut.ours) return undefined;
  const reason = cut.reason;
  if (!(reason instanceof MeshlinkError)) return `cut with ${reason === undefined ? 'no reason' : `an untyped ${reason.name}: ${reason.message}`}`;
  // closePacketFor's words for an error that is no verdict on the peer: an agent threw on our bytes.
  const remote = (reason.detail as { remoteMessage?: string }).remoteMessage;
  if (remote === 'a message was refused by the remote application') return `the relay refused a message with an internal error (${cut.relayLogged?.message ?? 'not logged'})`;
  if (cut.relayLogged !== undefined && cut.relayLogged.code === undefined) return `the relay logged an untyped reason: ${cut.relayLogged.message ?? ''}`;
  return undefined;
}
