import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import readline from 'node:readline';
import type { LabHost } from './lab/network.js';
import type { NodeSpec } from './manifest.js';

/** What the runner keeps of a node's JSON log lines: enough for the report, nothing more. */
export type NodeEvent =
  | { t: number; node: string; run: number; kind: 'started' }
  | { t: number; node: string; run: number; kind: 'exited'; code: number | null }
  | { t: number; node: string; run: number; kind: 'connected'; peer: string; direction: string; transport: 'tcp' | 'webrtc' }
  | { t: number; node: string; run: number; kind: 'disconnected'; peer: string; reason?: string; message?: string }
  | { t: number; node: string; run: number; kind: 'tx'; hash: string; local: boolean; from?: string }
  | { t: number; node: string; run: number; kind: 'route'; peer: string; addresses: string[] };

/** Events kept per run; a five-minute, 30-node run logs a few hundred thousand. */
const MAX_EVENTS = 2_000_000;
const KILL_WAIT_MS = 5000;
/** Characters of a disconnect reason kept per event: enough to tell which check refused what. */
const MAX_REASON_MESSAGE_CHARS = 300;

export type NodeState = 'down' | 'up' | 'paused';

/** One `meshlink node` process (restartable, same home and id) in its lab host's namespace. */
export class TestnetNode {
  state: NodeState = 'down';
  /** Incarnation: 1 for the first start, +1 per restart. */
  run = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  stderrTail = '';

  constructor(
    readonly spec: NodeSpec,
    readonly host: LabHost,
    readonly nodeId: string,
    private readonly command: { bundle: string; args: string[] },
    private readonly events: NodeEvent[],
  ) {}

  get pid(): number | undefined {
    return this.state === 'down' ? undefined : this.child?.pid;
  }

  start(): void {
    if (this.state !== 'down') throw new Error(`${this.spec.name} is running`);
    const run = ++this.run;
    const name = this.spec.name;
    const child = spawn('ip', ['netns', 'exec', this.host.namespace, process.execPath, this.command.bundle, ...this.command.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.state = 'up';
    readline.createInterface({ input: child.stdout! }).on('line', (line) => this.record(line, run));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.push({ t: Date.now(), node: name, run, kind: 'exited', code });
        if (this.child === child) this.state = 'down';
        resolve();
      });
    });
  }

  /** SIGKILL: no goodbye to peers, as a crash or a power cut. */
  async kill(): Promise<void> {
    if (this.state === 'down' || this.child === undefined) return;
    this.child.kill('SIGKILL');
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, KILL_WAIT_MS))]);
    this.state = 'down';
  }

  pause(): void {
    if (this.state !== 'up') return;
    this.child?.kill('SIGSTOP');
    this.state = 'paused';
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.child?.kill('SIGCONT');
    this.state = 'up';
  }

  /** Resident memory in KiB, from /proc (the node is a plain process of this machine's pid namespace). */
  rssKb(): number | undefined {
    const pid = this.pid;
    if (pid === undefined) return undefined;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return match === null ? undefined : Number(match[1]);
    } catch {
      return undefined;
    }
  }

  private push(event: NodeEvent): void {
    if (this.events.length < MAX_EVENTS) this.events.push(event);
  }

  private record(line: string, run: number): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const node = this.spec.name;
    const t = typeof entry['ts'] === 'string' ? Date.parse(entry['ts']) : Date.now();
    switch (entry['event']) {
      case 'started':
        return this.push({ t, node, run, kind: 'started' });
      case 'peer:connected': {
        const address = String(entry['address'] ?? '');
        return this.push({ t, node, run, kind: 'connected', peer: String(entry['peer']), direction: String(entry['direction']), transport: address.startsWith('webrtc://') ? 'webrtc' : 'tcp' });
      }
      case 'peer:disconnected':
        return this.push({ t, node, run, kind: 'disconnected', peer: String(entry['peer']), ...reasonFields(entry['reason']) });
      case 'tx':
        return this.push({ t, node, run, kind: 'tx', hash: String(entry['hash']), local: entry['from'] === 'local', ...(entry['from'] === 'local' ? {} : { from: String(entry['from']) }) });
      case 'webrtc:route':
        return this.push({ t, node, run, kind: 'route', peer: String(entry['peerId']), addresses: [String(entry['localAddress']), String(entry['remoteAddress'])] });
      default:
    }
  }
}

/** The error's code (or the start of its message) and its message, bounded. */
function reasonFields(reason: unknown): { reason?: string; message?: string } {
  const code = reasonCode(reason);
  const message = (reason as { message?: unknown } | null)?.message;
  return { ...(code === undefined ? {} : { reason: code }), ...(typeof message === 'string' ? { message: message.slice(0, MAX_REASON_MESSAGE_CHARS) } : {}) };
}

function reasonCode(reason: unknown): string | undefined {
  if (reason === null || typeof reason !== 'object') return undefined;
  const { code, message } = reason as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : typeof message === 'string' ? message.slice(0, 80) : undefined;
}
