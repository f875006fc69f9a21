/**
 * The home lock (issue 13): one node per home, across processes and within one; a stale lock (its
 * process is gone) is taken over; stop() and the process's exit give it back. The two-process case
 * with the CLI is in test/cli/cli.test.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, HOME_LOCK_FILE, MemoryStorage, type Switch } from '../../platforms/node/index.js';
import { within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const nodes: Switch[] = [];
const homes: string[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((sw) => sw.stop()));
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

function freshHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'meshlink-lock-'));
  homes.push(home);
  return home;
}

async function node(home: string): Promise<Switch> {
  const sw = await createNode({ home, listen: [] });
  nodes.push(sw);
  return sw;
}

/** Runs a child process to its end; resolves with its exit code and stdout. */
function runToEnd(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  return within(new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout }))), 60_000, 'child exit');
}

describe('home lock', () => {
  it('holds our pid while the node lives, refuses a second node on the same home, and is freed by stop()', async () => {
    const home = freshHome();
    const first = await node(home);
    expect(readFileSync(join(home, HOME_LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    const error = await createNode({ home, listen: [] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_HOME_IN_USE', detail: { pid: process.pid } });
    expect((error as Error).message).toMatch(/^home .* is in use by this process/);
    await first.stop();
    expect(existsSync(join(home, HOME_LOCK_FILE))).toBe(false);
    const again = await node(home);
    expect(again.nodeId).toBe(first.nodeId); // same home, same key
  });

  it('is held until every agent has stopped, the app\'s own included, and is no agent itself', async () => {
    const home = freshHome();
    const sw = await node(home);
    let heldWhileAgentStopped: boolean | undefined;
    sw.addAgent('app', { channels: [], stop: () => void (heldWhileAgentStopped = existsSync(join(home, HOME_LOCK_FILE))) });
    expect(sw.getAgent('home-lock')).toBeUndefined();
    await sw.start();
    await sw.stop();
    expect(heldWhileAgentStopped).toBe(true);
    expect(existsSync(join(home, HOME_LOCK_FILE))).toBe(false);
  });

  it('takes over a lock whose process is gone, or that holds no pid', { timeout: 90_000 }, async () => {
    const home = freshHome();
    const gone = await runToEnd(['-e', 'process.stdout.write(String(process.pid))']);
    writeFileSync(join(home, HOME_LOCK_FILE), `${gone.stdout}\n`);
    await node(home);
    expect(readFileSync(join(home, HOME_LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    await nodes.pop()!.stop();
    writeFileSync(join(home, HOME_LOCK_FILE), 'not a pid');
    await node(home);
    expect(readFileSync(join(home, HOME_LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
  });

  it('is released when the process exits without stop()', { timeout: 90_000 }, async () => {
    const home = freshHome();
    const run = await runToEnd(['--import', 'tsx', 'test/platforms/fixtures/lock-then-exit.ts', home]);
    expect(run).toEqual({ code: 0, stdout: 'locked\n' });
    expect(existsSync(join(home, HOME_LOCK_FILE))).toBe(false);
  });

  it('takes over a FIFO or a link to a device at the lock path at once, reading no more than a pid', { skip: process.platform === 'win32' }, async () => {
    const home = freshHome();
    const lock = join(home, HOME_LOCK_FILE);
    execFileSync('mkfifo', [lock]);
    // Something that opens the FIFO for writing from 2 s on, again and again: code that opens it blocking
    // (the whole process waits, it is a sync read) is freed then, so a failure here cannot hang the run.
    const writer = spawn(process.execPath, ['-e', `const fs = require('node:fs');
      setTimeout(() => setInterval(() => { try { fs.closeSync(fs.openSync(${JSON.stringify(lock)}, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); } catch {} }, 20), 2000);`], { stdio: 'ignore' });
    try {
      const started = performance.now();
      await node(home);
      expect(performance.now() - started).toBeLessThan(1500);
      expect(readFileSync(lock, 'utf8').trim()).toBe(String(process.pid));
      await nodes.pop()!.stop();
    } finally {
      writer.kill();
    }
    rmSync(lock, { force: true });
    symlinkSync('/dev/zero', lock);
    const before = process.memoryUsage().arrayBuffers;
    await node(home);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    expect(readFileSync(lock, 'utf8').trim()).toBe(String(process.pid));
  });

  it('refuses a home every user may write to, or one of another user, where anyone could have planted the key', { skip: process.getuid === undefined }, async () => {
    for (const mode of [0o777, 0o1777, 0o757]) {
      const home = freshHome();
      // Another user's key, put there before our first start: using it would make them this node.
      writeFileSync(join(home, 'node-key'), Buffer.alloc(32, 7));
      chmodSync(home, mode);
      const error = await createNode({ home, listen: [] }).catch((e: unknown) => e);
      expect([mode.toString(8), error]).toMatchObject([mode.toString(8), { code: 'ERR_STORAGE', detail: { home, mode } }]);
      expect(readdirSync(home)).toEqual(['node-key']);
    }
    if (process.getuid!() === 0) {
      const home = freshHome();
      chownSync(home, 65534, 65534);
      await expect(createNode({ home, listen: [] })).rejects.toMatchObject({ code: 'ERR_STORAGE', detail: { uid: 65534 } });
    }
    // Group-writable (a shared group) and our own 0700 still start.
    const shared = freshHome();
    chmodSync(shared, 0o770);
    await node(shared);
  });

  it("refuses a home that is another user's link, which its owner may repoint at their key while we start", { skip: process.getuid?.() !== 0 }, async () => {
    // Another user's link to a directory of ours (it passes every check made through it); its owner can
    // replace it (in a sticky /tmp too) between the check and the key's read.
    const ours = freshHome();
    const link = join(freshHome(), 'home');
    symlinkSync(ours, link);
    lchownSync(link, 65534, 65534);
    // Before: the node started in it.
    await expect(createNode({ home: link, listen: [] })).rejects.toMatchObject({ code: 'ERR_STORAGE', detail: { home: link, uid: 65534 } });
    expect(readdirSync(ours)).toEqual([]);
    // A link of our own (or root's: secret mounts) is fine.
    lchownSync(link, process.getuid!(), process.getgid!());
    await node(link);
  });

  it('is not taken when the node is given storage instead of a home', async () => {
    const home = freshHome();
    const sw = await createNode({ storage: new MemoryStorage(), listen: [], home });
    nodes.push(sw);
    expect(existsSync(join(home, HOME_LOCK_FILE))).toBe(false);
  });
});
