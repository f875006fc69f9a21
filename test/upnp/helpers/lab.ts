/**
 * Test helpers for the UPnP lab (test/upnp/lab.sh): bring it up and down, run Node scripts inside
 * its namespaces and talk to them over JSON lines, read the gateway's table with upnpc.
 *
 * `NamespaceProcess.start(LAB.lan, 'test/upnp/fixtures/some-script.ts')` is the building block for
 * any test that needs a real process behind the gateway (e.g. a meshlink node for a handshake test):
 * the script prints one JSON object per line; the test waits for lines with bounded waits.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '../../..');
export const LAB_SCRIPT = path.join(REPO_ROOT, 'test/upnp/lab.sh');

/** Names and addresses fixed by lab.sh. */
export const LAB = Object.freeze({
  lan: 'upnp-lan',
  wan: 'upnp-wan',
  igd: 'upnp-igd',
  gatewayLanIp: '192.168.77.1',
  nodeLanIp: '192.168.77.2',
  /** An address on the LAN that is not the node: "someone else" for mappings. */
  otherLanIp: '192.168.77.3',
  gatewayWanIp: '11.0.0.1',
  location: 'http://192.168.77.1:5000/rootDesc.xml',
});

export type LabMode = 'v1' | 'v2' | 'none';
export type LabPolicy = 'open' | 'deny' | 'private-wan';

/** Whether this machine can run the lab at all: root and network namespaces. */
export function labSupport(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: `not Linux (${process.platform})` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { ok: false, why: 'not running as root' };
  if (!existsSync('/proc/self/ns/net')) return { ok: false, why: 'the kernel has no network namespaces' };
  const probe = `meshlink-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe', timeout: 5000 });
  } catch (error) {
    return { ok: false, why: `cannot create a network namespace (${firstLine(error)})` };
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe', timeout: 5000 });
    } catch {
      // it was never created
    }
  }
  return { ok: true };
}

function firstLine(error: unknown): string {
  const e = error as { stderr?: Buffer | string; message?: string };
  const text = e.stderr !== undefined && String(e.stderr).trim() !== '' ? String(e.stderr) : (e.message ?? String(error));
  return text.trim().split('\n')[0] ?? '';
}

/** (Re)creates the lab. Throws with lab.sh's output when it fails (missing package: exit 3). */
export function labUp(mode: LabMode, policy: LabPolicy = 'open'): void {
  try {
    execFileSync('sh', [LAB_SCRIPT, 'up', mode, policy], { stdio: 'pipe', timeout: 20_000 });
  } catch (error) {
    const e = error as { status?: number; stderr?: Buffer; stdout?: Buffer };
    throw new Error(`lab.sh up ${mode} ${policy} failed (exit ${String(e.status)}): ${String(e.stderr ?? '')}${String(e.stdout ?? '')}`);
  }
}

/** Removes the lab; never throws (it runs from afterAll and exit handlers). */
export function labDown(): void {
  try {
    execFileSync('sh', [LAB_SCRIPT, 'down'], { stdio: 'pipe', timeout: 20_000 });
  } catch {
    // best effort: lab.sh down is idempotent, the next up starts with a down anyway
  }
}

export interface JsonLine {
  [key: string]: unknown;
}

/** A process inside a namespace that speaks JSON lines. */
export class NamespaceProcess {
  readonly lines: JsonLine[] = [];
  private stderrText = '';
  private readonly waiters = new Set<() => void>();
  private nextId = 1;
  private exited: Promise<void>;
  private exitCode: number | null | undefined;

  private constructor(readonly child: ChildProcess, readonly label: string) {
    const out = readline.createInterface({ input: child.stdout! });
    out.on('line', (line) => {
      if (line.trim() === '') return;
      try {
        this.lines.push(JSON.parse(line) as JsonLine);
      } catch {
        this.lines.push({ raw: line });
      }
      for (const wake of [...this.waiters]) wake();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrText = (this.stderrText + chunk.toString('utf8')).slice(-8000);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        this.exitCode = code;
        for (const wake of [...this.waiters]) wake();
        resolve();
      });
    });
  }

  /**
   * Runs `script` (.ts through tsx, .mjs/.js plain) with Node inside namespace `ns`; resolves once it
   * printed `{"ready": true}` (when `waitReady`).
   */
  static async start(
    ns: string,
    script: string,
    options: { args?: string[]; env?: Record<string, string>; waitReady?: boolean; readyTimeoutMs?: number } = {},
  ): Promise<NamespaceProcess> {
    const file = path.resolve(REPO_ROOT, script);
    const nodeArgs = file.endsWith('.ts') ? ['--import', 'tsx', file] : [file];
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, ...(options.args ?? [])], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const proc = new NamespaceProcess(child, `${ns}:${path.basename(file)}`);
    if (options.waitReady !== false) await proc.waitFor((line) => line['ready'] === true, options.readyTimeoutMs ?? 15_000, 'ready');
    return proc;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** The first line (already received or to come) matching `predicate`; rejects after `timeoutMs`. */
  waitFor(predicate: (line: JsonLine) => boolean, timeoutMs: number, what = 'a line', from = 0): Promise<JsonLine> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.lines.slice(from).find(predicate);
        if (found !== undefined) {
          finish();
          resolve(found);
          return true;
        }
        if (this.exitCode !== undefined) {
          finish();
          reject(new Error(`${this.label} exited (${String(this.exitCode)}) before ${what}; stderr:\n${this.stderrText}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms; stderr:\n${this.stderrText}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      if (!check()) this.waiters.add(check);
    });
  }

  /** Every event line named `name` received so far (from index `from`). */
  events(name: string, from = 0): JsonLine[] {
    return this.lines.slice(from).filter((line) => line['event'] === name);
  }

  send(message: unknown): void {
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  /** Sends `{id, op, args}` and resolves with the result; rejects with the serialized error attached. */
  async call<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    const id = this.nextId++;
    this.send({ id, op, args });
    const answer = await this.waitFor((line) => line['id'] === id, timeoutMs, `answer to ${op}`);
    if (answer['ok'] === true) return answer['result'] as T;
    const failure = answer['error'] as Record<string, unknown>;
    throw Object.assign(new Error(`${op} failed: ${String(failure['message'])}`), { remote: failure });
  }

  /** Like call() but resolves with the remote error (serialized) instead of the result. */
  async callExpectingError(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    try {
      const result = await this.call(op, args, timeoutMs);
      throw Object.assign(new Error(`${op} succeeded unexpectedly: ${JSON.stringify(result)}`), { unexpected: true });
    } catch (error) {
      const remote = (error as { remote?: Record<string, unknown> }).remote;
      if (remote === undefined) throw error;
      return remote;
    }
  }

  /**
   * Closes stdin (the agent's cue to clean up, after which it must end by itself); SIGKILL after
   * `timeoutMs`. Says whether it had to kill and how long the exit took.
   */
  async close(timeoutMs = 8000): Promise<{ killed: boolean; ms: number }> {
    const started = Date.now();
    if (this.exitCode !== undefined) return { killed: false, ms: 0 };
    let killed = false;
    this.child.stdin!.end();
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
    return { killed, ms: Date.now() - started };
  }

  /** Kills the process now (by its pid, which is Node itself: `ip netns exec` execs it). */
  async kill(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Runs `command args` inside `ns`, bounded; resolves with stdout. */
export function execInNamespace(ns: string, command: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, command, ...args], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }));
      else resolve(stdout);
    });
  });
}

/** From the WAN namespace (the Internet, as far as the lab goes): TCP connect, send, expect the echo. */
export async function echoFromWan(host: string, port: number, text = `hello ${Date.now()}`): Promise<{ ok: boolean; reply?: string; error?: string }> {
  const out = await execInNamespace(LAB.wan, process.execPath, [path.join(REPO_ROOT, 'test/upnp/fixtures/echo-client.mjs'), host, String(port), text], 8000);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as { ok: boolean; reply?: string; error?: string };
}

export interface UpnpcEntry {
  protocol: string;
  externalPort: number;
  internalHost: string;
  internalPort: number;
  description: string;
  leaseSeconds: number;
}

/** The gateway's table as miniupnpc's `upnpc -l` prints it (run in the LAN namespace, no SSDP). */
export async function upnpcList(): Promise<UpnpcEntry[]> {
  const out = await execInNamespace(LAB.lan, 'upnpc', ['-u', LAB.location, '-l']);
  const entries: UpnpcEntry[] = [];
  for (const line of out.split('\n')) {
    const match = /^\s*\d+\s+(TCP|UDP)\s+(\d+)->([\d.]+):(\d+)\s+'([^']*)'\s+'[^']*'\s+(\d+)/.exec(line);
    if (match === null) continue;
    entries.push({
      protocol: match[1]!,
      externalPort: Number(match[2]),
      internalHost: match[3]!,
      internalPort: Number(match[4]),
      description: match[5]!,
      leaseSeconds: Number(match[6]),
    });
  }
  return entries;
}

/** Someone else's mapping, made with upnpc: `externalPort` -> `internalHost:internalPort`. */
export async function upnpcAdd(internalHost: string, internalPort: number, externalPort: number, leaseSeconds: number, description: string): Promise<void> {
  const out = await execInNamespace(LAB.lan, 'upnpc', [
    '-u', LAB.location, '-e', description,
    '-a', internalHost, String(internalPort), String(externalPort), 'TCP', String(leaseSeconds),
  ]);
  if (!/is redirected to internal/.test(out)) throw new Error(`upnpc -a failed:\n${out}`);
}

/** Polls `check` every `intervalMs` until it returns true; rejects after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
