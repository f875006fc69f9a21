import { execFile, execFileSync } from 'node:child_process';

/** Every lab command is bounded: a hung `ip` or `nft` must fail the run, not stall it. */
export const LAB_COMMAND_TIMEOUT_MS = 15 * 1000;

/** A lab command that failed, with what it printed. */
export class LabCommandError extends Error {
  override readonly name = 'LabCommandError';
  constructor(readonly command: string, readonly stderr: string, options?: { cause?: unknown }) {
    super(`${command}: ${stderr.trim().split('\n')[0] ?? 'failed'}`, options);
  }
}

/** Runs `command args…` (with `input` on stdin); resolves with stdout, rejects with LabCommandError. */
export function run(command: string, args: readonly string[], input?: string, timeoutMs = LAB_COMMAND_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new LabCommandError(`${command} ${args.join(' ')}`, stderr || error.message, { cause: error }));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The same, synchronous: for teardown from exit handlers, where nothing async runs any more. */
export function runSync(command: string, args: readonly string[]): string {
  return execFileSync(command, [...args], { timeout: LAB_COMMAND_TIMEOUT_MS, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `ip netns exec <ns> command args…`. */
export function runIn(namespace: string, command: string, args: readonly string[], input?: string): Promise<string> {
  return run('ip', ['netns', 'exec', namespace, command, ...args], input);
}
