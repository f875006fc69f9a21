/**
 * CPU profiles of a benchmark phase, taken with the V8 profiler through `node:inspector` in this
 * process (and, over IPC, in the receiver process): self time per function, so that a few µs per round
 * trip can be traced to the function that spends them. Sampling itself slows the code several-fold, so
 * compare profiles with each other, never with unprofiled timings.
 */
import { Session } from 'node:inspector/promises';

/** V8's sampling interval; finer catches the short functions of a round trip. */
export const PROFILE_SAMPLING_INTERVAL_US = 20;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** µs of self time per function ("name file:line"). */
export type SelfTimes = Map<string, number>;

let session: Session | undefined;

export async function startCpuProfile(): Promise<void> {
  session ??= new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: PROFILE_SAMPLING_INTERVAL_US });
  await session.post('Profiler.start');
}

/** Stops the profile started by startCpuProfile and adds its self times into `into`. */
export async function stopCpuProfile(into: SelfTimes = new Map()): Promise<SelfTimes> {
  if (session === undefined) throw new Error('stopCpuProfile without startCpuProfile');
  const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
  await session.post('Profiler.disable');
  session.disconnect();
  return addSelfTimes(profile, into);
}

function addSelfTimes(profile: Profile, into: SelfTimes): SelfTimes {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i]!)!.callFrame;
    // A sample's delta is the time since the previous sample: it belongs to this sample's function.
    const delta = profile.timeDeltas[i] ?? 0;
    const file = frame.url.replace(/^.*\/(node_modules\/|src\/|platforms\/|bench\/)/, '$1');
    const key = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    into.set(key, (into.get(key) ?? 0) + delta);
  }
  return into;
}

/** The `top` functions by self time, idle excluded, per `per` units (e.g. round trips). */
export function formatSelfTimes(times: SelfTimes, per: number, top = 40): string {
  const busy = [...times].filter(([key]) => !key.startsWith('(idle)'));
  const total = busy.reduce((sum, [, us]) => sum + us, 0);
  const lines = busy
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => `${(us / per).toFixed(2).padStart(8)} µs  ${key}`);
  const groups = new Map<string, number>();
  for (const [key, us] of busy) groups.set(groupOf(key), (groups.get(groupOf(key)) ?? 0) + us);
  const byGroup = [...groups]
    .sort((a, b) => b[1] - a[1])
    .map(([group, us]) => `${group} ${(us / per).toFixed(1)}`)
    .join(' · ');
  return [`busy ${(total / per).toFixed(1)} µs per unit: ${byGroup}`, ...lines].join('\n');
}

/** Where a function lives: a package, a folder of ours, Node's internals, or native code. */
function groupOf(key: string): string {
  const file = key.slice(key.lastIndexOf(' ') + 1);
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg !== null) return pkg[1]!;
  const ours = /^(src\/[^/]+|platforms\/[^/]+|bench)\//.exec(file);
  if (ours !== null) return ours[1]!;
  if (file.startsWith('node:')) return 'node';
  return 'native';
}

/** Self times as plain entries, to cross the IPC channel. */
export function selfTimesToEntries(times: SelfTimes): Array<[string, number]> {
  return [...times];
}
