import { execFileSync } from 'node:child_process';

/**
 * Whether this machine lets a test make its own namespaces with `unshare <flags>` (`-rn`: user and
 * network; `-rnm`: and mount), and why not when it does not.
 */
export function namespaceSupport(flags: string): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: `not Linux (${process.platform})` };
  try {
    execFileSync('unshare', [flags, 'true'], { stdio: 'pipe', timeout: 5000 });
    return { ok: true };
  } catch (error) {
    return { ok: false, why: `unshare ${flags} failed (${(error as Error).message.split('\n')[0]})` };
  }
}
