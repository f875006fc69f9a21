/** Flooding keys in a child process (test/hostile/fixtures/flood-keys.ts), so their CPU is not the victim's. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.js';
import type { FloodShape } from './fixtures/flood-shapes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const children = new Set<ChildProcess>();

/**
 * Starts `count` keys flooding `channelId` of the victim at `victimAddress`; resolves once all flood.
 * `shape`: tiny messages, or messages cut into one-byte fragments (fixtures/flood-shapes.ts).
 */
export async function startFloodKeys(victimAddress: string, count: number, network: string, channelId: number, shape: FloodShape = 'tiny'): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/hostile/fixtures/flood-keys.ts', victimAddress, String(count), network, String(channelId), shape], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  await waitFor(() => stdout.includes('ready\n'), 30_000, 'flooders connected');
}

/** Ends every flooding process started. */
export function stopFloodKeys(): void {
  for (const child of children) child.kill();
  children.clear();
}
