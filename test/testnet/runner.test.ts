/**
 * The testnet runner end to end on a tiny manifest: real `meshlink node` processes in namespaces,
 * shaped links, a NAT, a kill and a restart; then the lab must be gone, also after SIGINT.
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labSupport } from '../../testnet/lab/network.js';
import type { Report } from '../../testnet/metrics.js';
import { REPO_ROOT } from '../upnp/helpers/lab.js';

const support = labSupport();
const MANIFEST = path.join(REPO_ROOT, 'test/testnet/fixtures/tiny.json');
const RUN_TIMEOUT_MS = 100_000;

function labNamespacesOf(pid: number): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((line) => line.split(' ')[0]!).filter((name) => name.startsWith(`mlab-${pid}-`));
}

function runner(args: string[]): { pid: number; done: Promise<{ code: number | null; stdout: string; stderr: string }>; stderrSoFar: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'testnet/run.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  void done.then(() => clearTimeout(timer));
  return { pid: child.pid!, done, stderrSoFar: () => stderr };
}

describe.skipIf(!support.ok)(`the testnet runner${support.ok ? '' : ` (skipped: ${support.why})`}`, () => {
  it('runs a manifest, reports delivery, duplicates, links and the restart, and leaves no namespace behind', async () => {
    const run = runner([MANIFEST, '--json']);
    const { code, stdout, stderr } = await run.done;
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as Report;
    expect(report.meshFormed).toBe(true);
    expect(report.gossip.stableReceivers).toBe(3);
    expect(report.gossip.originated).toBeGreaterThan(20);
    expect(report.gossip.deliveryRatio).toBe(1);
    expect(report.gossip.duplicates).toBe(0);
    expect(report.gossip.latencyMs.p50).toBeGreaterThanOrEqual(20); // two shaped access links of 10 ms ± 2 ms
    expect(report.links.tcpToRelay).toBeGreaterThanOrEqual(3);
    expect(report.reconnect['restart→first peer']).toMatchObject({ count: 1, never: 0 });
    expect(report.perNode.find((node) => node.name === 'churn')?.restarts).toBe(1);
    expect(report.perNode.every((node) => node.maxRssMiB !== null && node.maxRssMiB > 10)).toBe(true);
    expect(labNamespacesOf(run.pid)).toEqual([]);
  }, RUN_TIMEOUT_MS + 10_000);

  it('tears the lab down on SIGINT', async () => {
    const run = runner([MANIFEST]);
    const deadline = Date.now() + 60_000;
    while (!run.stderrSoFar().includes('started 4 nodes') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(labNamespacesOf(run.pid).length).toBeGreaterThan(4);
    process.kill(run.pid, 'SIGINT');
    const { code } = await run.done;
    expect(code).toBe(130);
    expect(labNamespacesOf(run.pid)).toEqual([]);
  }, 90_000);
});
