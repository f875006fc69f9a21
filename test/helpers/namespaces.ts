import { execFile, execFileSync } from 'node:child_process';

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

/**
 * Runs `fixture` (a TypeScript file, with `args`) under Node in a network namespace of its own (`unshare -rn`)
 * where 11.0.0.0/8 and 12.0.0.0/8 are local, so the nodes it starts have public addresses (PEX's rules
 * for public addresses apply), after any `routes` (`ip route` arguments); resolves with the JSON of its
 * last line of output.
 */
export function runPublicFixture<T>(fixture: string, options: { args?: readonly (string | number)[]; routes?: readonly string[]; timeoutMs: number }): Promise<T> {
  const routes = ['add local 11.0.0.0/8 dev lo table local', 'add local 12.0.0.0/8 dev lo table local', ...(options.routes ?? [])];
  const script = ['ip link set lo up', ...routes.map((route) => `ip route ${route}`), `exec "${process.execPath}" --import tsx ${fixture} ${(options.args ?? []).join(' ')}`].join(' && ');
  return new Promise((resolve, reject) => {
    execFile('unshare', ['-rn', 'sh', '-c', script], { timeout: options.timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stdout, stderr }));
      else resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as T);
    });
  });
}
