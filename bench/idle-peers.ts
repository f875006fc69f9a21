/**
 * Idle-peers measurement: N full meshlink peers (in a dialer child process) connect over real TCP to
 * one hub node (in a hub child process started with --expose-gc, so nothing else lives in its heap).
 * Reports the hub's memory per idle peer after a full GC, and how long connecting them all took.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { childExecArgv } from './receiver-client.js';
import type { FromDialers, FromHub, MemorySnapshot, ToDialers, ToHub } from './idle-common.js';
import { round } from './common.js';

export const IDLE_PEER_GOAL_BYTES = 64 * 1024;

export interface IdlePeersResult {
  peers: number;
  connected: number;
  failedDials: number;
  firstError?: string;
  connectSeconds: number;
  /** heapUsed growth on the hub / peers, after a full GC. */
  heapBytesPerPeer: number;
  /** Off-heap (ArrayBuffer and other external) growth / peers. */
  externalBytesPerPeer: number;
  /** heapBytesPerPeer + externalBytesPerPeer: what the goal is checked against. */
  heapPlusExternalBytesPerPeer: number;
  rssBytesPerPeer: number;
  goalBytesPerPeer: number;
  goalMet: boolean;
  hub: { before: MemorySnapshot; after: MemorySnapshot };
  fdLimit: { soft: number; raisedTo?: number };
  disconnectedBeforeStop: number;
}

function softFdLimit(): number {
  const text = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return text === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(text);
}

/** Forks a .ts child; raises its open-files limit through a shell when ours is too low. */
function forkChild(file: string, extraExecArgv: string[], fdLimit: number | undefined): ChildProcess {
  const path = new URL(file, import.meta.url).pathname;
  const execArgv = childExecArgv(extraExecArgv);
  if (fdLimit === undefined) return fork(path, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // fork runs `execPath ...execArgv path`: here `sh -c 'ulimit -n N && exec "$0" "$@"' node ...flags path`.
  return fork(path, [], {
    execPath: '/bin/sh',
    execArgv: ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function nextMessage<T extends { kind: string }>(child: ChildProcess, kind: T['kind'], timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`idle peers: no "${kind}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: T): void => {
      if (message.kind !== kind) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`idle peers: child exited (${code}) before "${kind}"`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function runIdlePeers(peers: number, options: { concurrency?: number; timeoutMs?: number } = {}): Promise<IdlePeersResult> {
  const timeoutMs = options.timeoutMs ?? 90 * 1000;
  const soft = softFdLimit();
  const needed = peers + 256;
  const raisedTo = soft < needed ? needed : undefined;
  const hub = forkChild('./idle-hub-process.ts', ['--expose-gc'], raisedTo);
  const dialers = forkChild('./idle-dialer-process.ts', [], raisedTo);
  try {
    const ready = nextMessage<Extract<FromHub, { kind: 'ready' }>>(hub, 'ready', 20_000);
    hub.send({ kind: 'start', peers } satisfies ToHub);
    const { address } = await ready;
    const connectedMessage = nextMessage<Extract<FromHub, { kind: 'connected' }>>(hub, 'connected', timeoutMs);
    const dialled = nextMessage<Extract<FromDialers, { kind: 'dialled' }>>(dialers, 'dialled', timeoutMs);
    dialers.send({ kind: 'dial', address, peers, concurrency: options.concurrency ?? 128 } satisfies ToDialers);
    const dialResult = await dialled;
    if (dialResult.failed > 0) {
      connectedMessage.catch(() => undefined);
      throw new Error(`idle peers: ${dialResult.failed} of ${peers} dials failed; first: ${dialResult.firstError}`);
    }
    const connected = await connectedMessage;
    const { before, after } = connected;
    const perPeer = (key: keyof MemorySnapshot): number => Math.round((after[key] - before[key]) / peers);
    const heap = perPeer('heapUsed');
    const external = perPeer('external');
    // Disconnects while idle would mean keep-alive or limits misbehave; stop both sides and count.
    const hubStopped = nextMessage<Extract<FromHub, { kind: 'stopped' }>>(hub, 'stopped', 30_000);
    hub.send({ kind: 'stop' } satisfies ToHub);
    const { disconnectedBeforeStop } = await hubStopped;
    const dialersStopped = nextMessage<Extract<FromDialers, { kind: 'stopped' }>>(dialers, 'stopped', 30_000);
    dialers.send({ kind: 'stop' } satisfies ToDialers);
    await dialersStopped;
    return {
      peers,
      connected: connected.peerCount,
      failedDials: dialResult.failed,
      connectSeconds: round((connected.allConnectedAtMs - dialResult.startedAtMs) / 1000, 2),
      heapBytesPerPeer: heap,
      externalBytesPerPeer: external,
      heapPlusExternalBytesPerPeer: heap + external,
      rssBytesPerPeer: perPeer('rss'),
      goalBytesPerPeer: IDLE_PEER_GOAL_BYTES,
      goalMet: connected.peerCount === peers && heap + external <= IDLE_PEER_GOAL_BYTES,
      hub: { before, after },
      fdLimit: { soft, ...(raisedTo !== undefined ? { raisedTo } : {}) },
      disconnectedBeforeStop,
    };
  } finally {
    for (const child of [hub, dialers]) if (child.exitCode === null) child.kill();
  }
}
