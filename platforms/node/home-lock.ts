import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MeshlinkError } from '../../src/errors.js';

/** The lock file in a node's home: the pid of the process whose node uses that home. */
export const HOME_LOCK_FILE = 'meshlink.lock';
/** Attempts at taking over a stale lock before giving up (another process may be doing the same). */
const TAKEOVER_ATTEMPTS = 3;
/** A pid is a few digits: this much of a lock file is all that is read. */
const LOCK_FILE_READ_BYTES = 32;

/**
 * Homes locked by nodes of this process (a second node on one home must fail here too), each with
 * its release. One 'exit' listener serves them all, however many nodes the process runs.
 */
const heldHere = new Map<string, () => void>();
const releaseAllAtExit = (): void => {
  for (const release of [...heldHere.values()]) release();
};

export interface HomeLock {
  readonly path: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

/**
 * Locks `home` for this process: two nodes with one home would share a key and meet themselves
 * (ERR_SELF_CONNECTION) with no hint why. Creates `<home>/meshlink.lock` holding our pid; if it
 * exists and names a live process, throws ERR_HOME_IN_USE "home … is in use by process N". A lock
 * whose process is gone (a crash, kill -9) is stale and taken over. Released by `release()` and, as a
 * last resort, when the process exits.
 *
 * Limits: a pid reused by an unrelated process after a crash keeps the lock until that process ends
 * (remove the file); homes on network filesystems shared between machines are not covered.
 */
export function lockHome(home: string): HomeLock {
  const directory = resolve(home);
  const path = join(directory, HOME_LOCK_FILE);
  if (heldHere.has(path)) throw inUse(directory, path, process.pid);
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new MeshlinkError('ERR_STORAGE', `Cannot create the home ${directory}`, { cause: error });
  }
  assertHomeIsOurs(directory);
  for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS; attempt++) {
    if (tryCreate(path)) return held(path);
    const owner = readOwner(path);
    if (owner !== undefined && owner !== process.pid && isProcessAlive(owner)) throw inUse(directory, path, owner);
    // Stale (dead owner, unreadable content) or vanished since: remove it if it still says the same, retry.
    if (readOwner(path) === owner) removeQuietly(path);
  }
  const owner = readOwner(path);
  throw inUse(directory, path, owner ?? 0);
}

/**
 * A home someone else can write to is someone else's node key: another user could put a key file of
 * their own there (or a link to one) before we first start, and be this node. Refused, as ssh refuses
 * such a ~/.ssh: a home writable by everyone, or owned by another user than us or root.
 */
function assertHomeIsOurs(directory: string): void {
  const uid = process.getuid?.();
  if (uid === undefined) return; // Windows: ACLs, not modes
  // A home that is a link of another user's (made in /tmp before we first start) passes the checks below
  // by pointing at a directory of ours, and its owner may point it at their own key a moment later: the
  // key is read after this check, through the link.
  const link = lstatSync(directory);
  if (link.isSymbolicLink() && link.uid !== uid && link.uid !== 0) {
    throw new MeshlinkError('ERR_STORAGE', `home ${directory} is a link that belongs to another user (uid ${link.uid}), who could point it at their node key: use a home of your own`, {
      detail: { home: directory, uid: link.uid },
    });
  }
  const info = statSync(directory);
  const worldWritable = (info.mode & 0o002) !== 0;
  if (!worldWritable && (info.uid === uid || info.uid === 0)) return;
  const why = worldWritable ? 'is writable by every user' : `belongs to another user (uid ${info.uid})`;
  throw new MeshlinkError('ERR_STORAGE', `home ${directory} ${why}, who could plant its node key: use a home of your own (mode 0700)`, {
    detail: { home: directory, mode: info.mode & 0o7777, uid: info.uid },
  });
}

function held(path: string): HomeLock {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    heldHere.delete(path);
    if (heldHere.size === 0) process.off('exit', releaseAllAtExit);
    if (readOwner(path) === process.pid) removeQuietly(path);
  };
  if (heldHere.size === 0) process.on('exit', releaseAllAtExit);
  heldHere.set(path, release);
  return { path, release };
}

function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new MeshlinkError('ERR_STORAGE', `Cannot create the lock file ${path}`, { cause: error });
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The pid in the lock file; undefined when it is missing or does not hold one. */
function readOwner(path: string): number | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO at the path would otherwise block the whole process until something wrote to it.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    return undefined;
  }
  try {
    // A FIFO or a device (a link to /dev/zero, read whole up to 2 GiB) is no lock: stale, like garbage.
    if (!fstatSync(fd).isFile()) return undefined;
    const bytes = Buffer.alloc(LOCK_FILE_READ_BYTES);
    const length = readSync(fd, bytes, 0, bytes.length, 0);
    const pid = Number.parseInt(bytes.toString('utf8', 0, length).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Whether process `pid` exists (EPERM: it does, under another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already: someone else took it over or released it.
  }
}

function inUse(directory: string, path: string, pid: number): MeshlinkError {
  const who = pid === process.pid ? `this process (${pid}), by another node` : `process ${pid}`;
  return new MeshlinkError('ERR_HOME_IN_USE', `home ${directory} is in use by ${who}: give each node its own home (lock file ${path})`, {
    detail: { home: directory, pid, lockFile: path },
  });
}
