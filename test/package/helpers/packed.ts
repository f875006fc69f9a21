/**
 * The package as npm delivers it: `npm pack` of this checkout (which runs `prepare`, building dist/),
 * installed from the tarball into fresh apps in a temp folder, as a user would. Packing and each install
 * happen once per content of the package's inputs and are shared by the test files (which may run in
 * parallel: a lock directory serialises the work, the others wait for its marker file).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

export const REPO = join(import.meta.dirname, '..', '..', '..');
/** One per checkout, so two worktrees never share (or clean up) each other's packs. */
const CACHE_ROOT = join(tmpdir(), `meshlink-package-test-${createHash('sha256').update(REPO).digest('hex').slice(0, 8)}`);
/** What goes into the tarball or decides how it is built. */
const BUILD_INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'platforms', 'demo'];
const PACKAGE_INPUTS = [...BUILD_INPUTS, 'README.md', 'LICENSE'];
/** Which build inputs dist/ was last built from by a pack here, and what it held then. */
const DIST_RECORD = join(CACHE_ROOT, 'dist-record.json');
const PACK_TIMEOUT_MS = 150_000;
const INSTALL_TIMEOUT_MS = 120_000;
const LOCK_POLL_MS = 250;

const run = promisify(execFile);

/** The apps the tests install; each is `npm install <tarball> ...packages` in a fresh folder. */
export const APPS = {
  /** A browser app: meshlink alone (bundled with esbuild or Vite, type-checked against meshlink/browser). */
  browser: [],
  /** A plain Node app: meshlink alone. */
  node: [],
  /** A Node app that opts into WebRTC and the libsodium fast path. */
  'node-webrtc-sodium': ['@roamhq/wrtc', 'sodium-native'],
  /** A Node app that opts into UPnP discovery. */
  'node-upnp': ['nat-upnp'],
} as const satisfies Record<string, readonly string[]>;
export type AppName = keyof typeof APPS;

/** The folder shared by everything built from the current content of the package's inputs. */
export function cacheDir(): string {
  memoCacheDir ??= join(CACHE_ROOT, contentHash(PACKAGE_INPUTS));
  return memoCacheDir;
}
let memoCacheDir: string | undefined;

/** Path of the tarball `npm pack` makes of this checkout (made once per content). */
export async function packTarball(): Promise<string> {
  const dir = cacheDir();
  const tarball = join(dir, 'meshlink.tgz');
  await once(join(dir, 'pack'), PACK_TIMEOUT_MS, async () => {
    await removeStaleCaches(dir);
    await mkdir(dir, { recursive: true });
    // `prepare` (tsc and the browser build, the slow part) is skipped when only the README or LICENSE
    // changed since a pack here built dist/, and dist/ still holds exactly what that build made.
    const buildHash = contentHash(BUILD_INPUTS);
    const record = JSON.parse(await readFile(DIST_RECORD, 'utf8').catch(() => '{}')) as { buildHash?: string; distHash?: string };
    const distFresh = record.buildHash === buildHash && record.distHash === contentHash(['dist']);
    const args = ['pack', '--json', '--pack-destination', dir, ...(distFresh ? ['--ignore-scripts'] : [])];
    const { stdout } = await run('npm', args, { cwd: REPO, timeout: PACK_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
    if (!distFresh) await writeFile(DIST_RECORD, JSON.stringify({ buildHash, distHash: contentHash(['dist']) }));
    const [{ filename }] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [{ filename: string }];
    await rename(join(dir, filename), tarball);
  });
  return tarball;
}

/** The folder of `app`, with the tarball (and the app's optional packages) installed. */
export async function installApp(app: AppName): Promise<string> {
  const tarball = await packTarball();
  const dir = join(cacheDir(), 'apps', app);
  await once(dir, INSTALL_TIMEOUT_MS, async () => {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: `meshlink-${app}-app`, private: true, type: 'module' }, null, 2));
    // --prefer-offline: packages already in npm's cache (this checkout installed them) are not fetched again.
    await run('npm', ['install', tarball, ...APPS[app], '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: dir,
      timeout: INSTALL_TIMEOUT_MS,
    });
  });
  return dir;
}

/** Names (with scope) of every package installed in `appDir`, from npm's own lockfile. */
export function installedPackages(appDir: string): string[] {
  const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  return Object.keys(lock.packages)
    .filter((path) => path !== '')
    .map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
}

/** Bytes of every file under `dir` (what `du --apparent-size` counts). */
export function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += directoryBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** A child process whose stdout lines can be awaited. */
export interface LineProcess {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
  waitLine: (match: (line: string) => boolean, timeoutMs: number) => Promise<string>;
  /** The exit code once the process exits by itself; rejects after `timeoutMs`. */
  waitExit: (timeoutMs: number) => Promise<number | null>;
  /** SIGINT (SIGKILL 10 s later if needed); resolves with the exit code. */
  stop: () => Promise<number | null>;
}

export function spawnLines(command: string, args: string[], options: { cwd: string }): LineProcess {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters) wake();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    stderr: () => stderr,
    waitLine: (match, timeoutMs) =>
      new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const found = lines.find(match);
          if (found === undefined) return;
          finish();
          resolve(found);
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`Timed out after ${timeoutMs} ms; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    waitExit: (timeoutMs) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Still running after ${timeoutMs} ms; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`)), timeoutMs);
      });
      return Promise.race([exited, late]).finally(() => clearTimeout(timer));
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Runs `work` once for `dir`: the first caller holds `${dir}.lock` while it works and then writes
 * `${dir}.done`; concurrent callers wait for that marker. A lock left by a killed run is taken over.
 */
async function once(dir: string, timeoutMs: number, work: () => Promise<void>): Promise<void> {
  const done = `${dir}.done`;
  const lock = `${dir}.lock`;
  const deadline = Date.now() + timeoutMs + 30_000;
  await mkdir(join(dir, '..'), { recursive: true });
  while (!existsSync(done)) {
    try {
      await mkdir(lock);
    } catch {
      const lockedAt = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - lockedAt > timeoutMs + 10_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${dir}`);
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
      continue;
    }
    try {
      if (!existsSync(done)) {
        await work();
        await writeFile(done, new Date().toISOString());
      }
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

/** Only the current content's cache is kept: disk use stays bounded however often the sources change. */
async function removeStaleCaches(current: string): Promise<void> {
  const entries = await readdir(CACHE_ROOT).catch(() => [] as string[]);
  for (const entry of entries) {
    const path = join(CACHE_ROOT, entry);
    if (path !== current && path !== DIST_RECORD) await rm(path, { recursive: true, force: true });
  }
}

/** A short hash of the content (paths and bytes) of `inputs`, files or folders under the checkout. */
function contentHash(inputs: readonly string[]): string {
  const hash = createHash('sha256');
  const visit = (path: string): void => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return;
    if (stat.isDirectory()) {
      for (const name of readdirSync(path).sort()) if (name !== 'node_modules') visit(join(path, name));
    } else {
      hash.update(path.slice(REPO.length)).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  for (const input of inputs) visit(join(REPO, input));
  return hash.digest('hex').slice(0, 16);
}
