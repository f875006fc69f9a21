import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LAB_COMMAND_TIMEOUT_MS } from './shell.js';

/** Relative to the lab's own priority: lower nice is more CPU when the machine is contended. */
const EMULATOR_NICE_ADJUSTMENT = -10;
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'linkem.py');

/**
 * What a link does to packets, in each direction. This kernel has no netem (`tc qdisc … netem`:
 * "Specified qdisc kind is unknown"), so a user-space process (linkem.py) carries each emulated link.
 */
export interface LinkShape {
  /** One-way delay added in each direction, ms. */
  delayMs?: number;
  /** Uniform ± spread around the delay, ms (packet order is kept). */
  jitterMs?: number;
  /** Share of IP packets dropped in each direction, percent. */
  lossPct?: number;
  /** Drop every IP packet (a cut cable); `false` heals it. */
  cut?: boolean;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** The link emulator process of one lab, running in the lab's "internet" namespace. */
export class LinkEmulator {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited = false;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let answer: { id?: number; ok?: boolean; error?: string; result?: unknown };
      try {
        answer = JSON.parse(line) as typeof answer;
      } catch {
        return;
      }
      const waiter = answer.id === undefined ? undefined : this.pending.get(answer.id);
      if (waiter === undefined) return;
      this.pending.delete(answer.id!);
      clearTimeout(waiter.timer);
      if (answer.ok === true) waiter.resolve(answer.result);
      else waiter.reject(new Error(`link emulator: ${answer.error ?? 'failed'}`));
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.once('exit', (code) => {
      this.exited = true;
      for (const [id, waiter] of this.pending) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`link emulator exited (${String(code)}): ${this.stderr}`));
        this.pending.delete(id);
      }
    });
  }

  static start(namespace: string): LinkEmulator {
    // The emulator is every packet's path: starved of CPU by the nodes it serves (or by anything else
    // on a busy machine), it would stall every link at once. It runs ahead of them (it needs little).
    const child = spawn('nice', ['-n', String(EMULATOR_NICE_ADJUSTMENT), 'ip', 'netns', 'exec', namespace, 'python3', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    return new LinkEmulator(child);
  }

  /** Creates the two TAP devices of link `link` (inner and outer names), shaped by `shape`. */
  add(link: string, inner: string, outer: string, shape: LinkShape): Promise<void> {
    return this.call({ op: 'add', link, inner, outer, ...shape }).then(() => undefined);
  }

  /** Changes a link's shape (only the fields given). */
  set(link: string, shape: LinkShape): Promise<void> {
    return this.call({ op: 'set', link, ...shape }).then(() => undefined);
  }

  /** Frames forwarded and dropped per link: `{ up: [fwd, drop], down: [fwd, drop] }`. */
  stats(): Promise<Record<string, { up: [number, number]; down: [number, number] }>> {
    return this.call({ op: 'stats' }) as Promise<Record<string, { up: [number, number]; down: [number, number] }>>;
  }

  /** Ends the process; its TAP devices disappear with it. */
  stop(): void {
    if (this.exited) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    timer.unref();
  }

  private call(request: Record<string, unknown>): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error(`link emulator is not running: ${this.stderr}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`link emulator: no answer to ${String(request['op'])} within ${LAB_COMMAND_TIMEOUT_MS} ms`));
      }, LAB_COMMAND_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin!.write(`${JSON.stringify({ id, ...request })}\n`);
    });
  }
}
