import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, within } from '../helpers/wait.js';
import type { StartedInfo } from '../../demo/node-runner.js';

// `node --import tsx` starts in a fraction of the time `npx tsx` takes (no npx resolution, no extra
// process), which matters with a dozen child processes.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = 'demo/cli.ts';
const TWO_SWITCHES_FIXTURE = 'test/cli/fixtures/two-switches.ts';
// Generous: each child compiles the CLI with tsx, which on a loaded 2-core CI machine takes many seconds.
const START_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 20_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Child {
  process: ChildProcess;
  lines: string[];
  stderr: () => string;
  /** Resolves once the process exited and its output is fully read. */
  closed: Promise<Exit>;
}

interface CliNode extends Child {
  started: StartedInfo;
}

const children = new Set<ChildProcess>();
let scratch = '';

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'meshlink-cli-test-'));
});

afterEach(() => {
  // A failed test must not leave nodes behind; these are only processes this file started.
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function run(script: string, args: readonly string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => {
      children.delete(child);
      if (partial !== '') lines.push(partial);
      resolve({ code, signal });
    }),
  );
  return { process: child, lines, stderr: () => stderr, closed };
}

function home(name: string): string {
  return join(scratch, name);
}

/** Starts `meshlink node` on free ports and resolves with its "started" line. */
async function startCli(name: string, ...extra: string[]): Promise<CliNode> {
  const child = run(CLI, ['node', '--listen', 'tcp://127.0.0.1:0', '--home', home(name), '--moniker', name, ...extra]);
  let exited = false;
  void child.closed.then(() => (exited = true));
  await waitFor(() => child.lines.length > 0 || exited, START_TIMEOUT_MS, `${name} to start`);
  if (child.lines.length === 0) throw new Error(`${name} exited before starting: ${child.stderr()}`);
  const started = JSON.parse(child.lines[0]!) as StartedInfo;
  return { ...child, started };
}

/** SIGTERM, then the exit within a bounded time. */
async function stopCli(node: Child): Promise<Exit> {
  node.process.kill('SIGTERM');
  return within(node.closed, EXIT_TIMEOUT_MS, 'exit after SIGTERM');
}

/** Polls `GET /status` (bounded) until the sorted peer ids satisfy `done`; returns the last ids seen. */
async function pollStatus(node: CliNode, done: (ids: string[]) => boolean): Promise<string[]> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const response = await fetch(`${node.started.status}/status`);
    const body = (await response.json()) as { peers: { id: string }[] };
    const ids = body.peers.map((peer) => peer.id).sort();
    if (done(ids) || Date.now() > deadline) return ids;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('meshlink node (child processes over real TCP)', { timeout: 120_000 }, () => {
  it('runs three nodes with persistent peers (TCP and WebSocket), serves /status, stops on SIGTERM with code 0 and keeps its id across restarts', async () => {
    const one = await startCli('one', '--status', '127.0.0.1:0', '--ws', '127.0.0.1:0');
    expect(one.started).toMatchObject({ event: 'started', nodeId: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect(one.started.listen).toEqual([
      expect.stringMatching(new RegExp(`^tcp://${one.started.nodeId}@127\\.0\\.0\\.1:\\d+$`)),
      expect.stringMatching(new RegExp(`^ws://${one.started.nodeId}@127\\.0\\.0\\.1:\\d+/$`)),
    ]);
    expect(one.started.status).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const [oneAddress, oneWsAddress] = one.started.listen as [string, string];
    const [two, three] = await Promise.all([startCli('two', '--persistent', oneAddress), startCli('three', '--persistent', oneWsAddress)]);
    expect(two.started.status).toBeNull();

    const both = [two.started.nodeId, three.started.nodeId].sort();
    expect(await pollStatus(one, (ids) => ids.length === 2)).toEqual(both);
    const transports = await fetch(`${one.started.status}/status`).then((r) => r.json() as Promise<{ peers: { id: string; transport: string }[] }>);
    expect(Object.fromEntries(transports.peers.map((p) => [p.id, p.transport]))).toEqual({ [two.started.nodeId]: 'tcp', [three.started.nodeId]: 'ws' });
    expect((await fetch(`${one.started.status}/nope`)).status).toBe(404);

    // A port already taken is a run-time failure (1), not a usage error (2).
    const clash = run(CLI, ['node', '--listen', `tcp://127.0.0.1:${oneAddress.split(':').pop()}`, '--home', home('clash')]);
    expect(await within(clash.closed, START_TIMEOUT_MS, 'clash exit')).toEqual({ code: 1, signal: null });
    expect(clash.stderr()).toMatch(/^meshlink: cannot start the node: .*EADDRINUSE/);

    expect(await stopCli(two)).toEqual({ code: 0, signal: null });
    expect(two.stderr()).toBe('');
    const restarted = await startCli('two', '--persistent', oneAddress);
    expect(restarted.started.nodeId).toBe(two.started.nodeId);
    await waitFor(() => restarted.lines.some((line) => line.includes('"peer:connected"')), START_TIMEOUT_MS, 'the restarted node to reconnect');

    const exits = await Promise.all([one, three, restarted].map(stopCli));
    expect(exits).toEqual([0, 0, 0].map((code) => ({ code, signal: null })));
    for (const node of [one, three, restarted]) expect(node.stderr()).toBe('');

    // After the first line, stdout is JSON log lines; node one saw its peers come and go.
    const logs = one.lines.slice(1).map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const entry of logs) expect(entry).toMatchObject({ ts: expect.any(String), level: expect.any(String), event: expect.any(String) });
    const events = logs.map((entry) => `${String(entry['event'])}:${String(entry['peer'] ?? '')}`);
    expect(events).toContain(`peer:connected:${two.started.nodeId}`);
    expect(events).toContain(`peer:disconnected:${two.started.nodeId}`);
    expect(events).toContain(`peer:connected:${three.started.nodeId}`);
    // Peers still leaving while it stops are logged between the two.
    expect(events.at(-1)).toBe('stopped:');
    expect(events.indexOf('stopping:')).toBeGreaterThan(events.lastIndexOf(`peer:connected:${three.started.nodeId}`));
  });

  it('serves the browser demo with --web: /config.json names its WebSocket address, / leads to the page, /status', async () => {
    const relay = await startCli('web', '--ws', '127.0.0.1:0', '--web', '127.0.0.1:0');
    expect(relay.started.web).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(relay.started.status).toBeNull();
    const wsAddress = relay.started.listen.find((address) => address.startsWith('ws://'));
    const config = await fetch(`${relay.started.web}/config.json`).then((r) => r.json());
    expect(config).toEqual({ relay: wsAddress, network: 'meshlink' });
    const root = await fetch(`${relay.started.web}/`, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([302, '/demo-web/']);
    expect(await fetch(`${relay.started.web}/status`).then((r) => r.json())).toMatchObject({ nodeId: relay.started.nodeId, peers: [] });
    expect(await stopCli(relay)).toEqual({ code: 0, signal: null });
    expect(relay.stderr()).toBe('');
  });

  it('exits with code 2 and a one-line message on bad flags; --help prints usage', async () => {
    const cases = [
      { args: ['node', '--bogus'], stderr: /^meshlink: unknown flag --bogus/ },
      { args: ['node', '--listen', 'tcp://127.0.0.1:99999'], stderr: /^meshlink: --listen: .*port out of range/ },
      { args: ['node', '--ws', 'localhost'], stderr: /^meshlink: --ws "localhost": expected host:port/ },
      { args: ['node', '--web', '127.0.0.1:0'], stderr: /^meshlink: --web .*add --ws/ },
    ];
    const runs = cases.map((c) => run(CLI, c.args));
    const help = run(CLI, ['--help']);
    const exits = await within(Promise.all([...runs, help].map((child) => child.closed)), START_TIMEOUT_MS, 'exits');
    cases.forEach((c, i) => {
      expect(exits[i]).toEqual({ code: 2, signal: null });
      expect(runs[i]!.stderr()).toMatch(c.stderr);
      expect(runs[i]!.stderr().trimEnd().split('\n')).toHaveLength(1);
      expect(runs[i]!.lines).toEqual([]);
    });
    expect(exits[cases.length]).toEqual({ code: 0, signal: null });
    expect(help.lines[0]).toMatch(/^Usage: meshlink node/);
  });
});

describe('meshlink node: stdout, --version and the home lock (issue 13)', { timeout: 120_000 }, () => {
  it('prints the package version with --version', { timeout: 60_000 }, async () => {
    const child = run(CLI, ['--version']);
    expect(await within(child.closed, 3 * START_TIMEOUT_MS, 'exit')).toEqual({ code: 0, signal: null });
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(child.lines).toEqual([version]);
  });

  it('keeps running when its stdout reader goes away (| head -1): logging stops, the node does not', async () => {
    const node = await startCli('headless', '--status', '127.0.0.1:0');
    node.process.stdout!.destroy(); // the reader read its one line and left
    // Log lines now go to a closed pipe: a peer connects and leaves, each logged.
    const peer = await startCli('visitor', '--persistent', node.started.listen[0]!);
    expect(await pollStatus(node, (ids) => ids.length === 1)).toEqual([peer.started.nodeId]);
    expect(await stopCli(peer)).toEqual({ code: 0, signal: null });
    expect(await pollStatus(node, (ids) => ids.length === 0)).toEqual([]);
    expect(node.process.exitCode).toBeNull();
    const status = (await fetch(`${node.started.status}/status`).then((r) => r.json())) as { nodeId: string };
    expect(status.nodeId).toBe(node.started.nodeId);
    expect(await stopCli(node)).toEqual({ code: 0, signal: null });
    expect(node.stderr()).not.toMatch(/EPIPE|Unhandled|Error/);
  });

  it('refuses a second process on one home with "home … is in use by process N", takes over a stale lock, and frees it on stop', async () => {
    const first = await startCli('shared');
    const lockFile = join(home('shared'), 'meshlink.lock');
    expect((await readFile(lockFile, 'utf8')).trim()).toBe(String(first.process.pid));
    const second = run(CLI, ['node', '--listen', 'tcp://127.0.0.1:0', '--home', home('shared')]);
    expect(await within(second.closed, START_TIMEOUT_MS, 'the second to exit')).toEqual({ code: 1, signal: null });
    expect(second.stderr()).toContain(`home ${home('shared')} is in use by process ${first.process.pid}`);
    expect(second.lines).toEqual([]);

    // A crash leaves the lock behind, naming a process that is gone: the next node takes it over.
    first.process.kill('SIGKILL');
    await within(first.closed, EXIT_TIMEOUT_MS, 'the kill');
    expect((await readFile(lockFile, 'utf8')).trim()).toBe(String(first.process.pid));
    const third = await startCli('shared');
    expect(third.started.nodeId).toBe(first.started.nodeId);
    expect((await readFile(lockFile, 'utf8')).trim()).toBe(String(third.process.pid));
    expect(await stopCli(third)).toEqual({ code: 0, signal: null });
    await expect(readFile(lockFile, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('npm start (demo/start.ts)', { timeout: 120_000 }, () => {
  it('gossips the demo transactions through the relay and, with --once, exits by itself', async () => {
    // Port 0: the default ports (26657, 8080) may be taken on a developer's machine.
    const child = run('demo/start.ts', ['--once', '--ws', '127.0.0.1:0', '--web', '127.0.0.1:0']);
    const exit = await within(child.closed, START_TIMEOUT_MS, 'the demo to finish');
    expect(child.stderr()).toBe('');
    expect(exit).toEqual({ code: 0, signal: null });
    for (const name of ['alice', 'bob']) expect(child.lines).toContain(`relay  connected to ${name} (inbound)`);
    expect(child.lines.some((line) => /^bob {4}← tx "hello from alice" \([0-9a-f]{8}\) from relay$/.test(line))).toBe(true);
    expect(child.lines).toContain('demo   done: relay has 3 txs, alice has 3 txs, bob has 3 txs');
    expect(child.lines.some((line) => /^relay {2}listening on tcp:\/\/[0-9a-f]{40}@127\.0\.0\.1:\d+ and ws:\/\/[0-9a-f]{40}@127\.0\.0\.1:\d+\/$/.test(line))).toBe(true);
    expect(child.lines.some((line) => /^relay {2}status at http:\/\/127\.0\.0\.1:\d+\/status$/.test(line))).toBe(true);
  });
});

describe('Switch.stop() releases everything', { timeout: 120_000 }, () => {
  it('lets a process that ran two connected Switches exit by itself', async () => {
    const child = run(TWO_SWITCHES_FIXTURE, []);
    const exit = await within(child.closed, START_TIMEOUT_MS, 'the fixture to exit by itself');
    expect(child.stderr()).toBe('');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(JSON.parse(child.lines[0]!)).toEqual({ ok: true, replies: ['pong:ping'] });
  });
});
