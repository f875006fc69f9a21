/** The command line of `npm run bench` (see bench/index.ts for the flags). */

export const GROUPS = ['tcp', 'memory', 'ws', 'webrtc', 'idle'] as const;
export type Group = (typeof GROUPS)[number];

export interface Args {
  json: boolean;
  profile: boolean;
  quick: boolean;
  inproc: boolean;
  idlePeers: number | undefined;
  reps: number | undefined;
  groups: Set<Group>;
}

export function parseArgs(argv: string[]): Args {
  const idle = argv.find((a) => a.startsWith('--idle-peers='));
  const reps = argv.find((a) => a.startsWith('--reps='));
  const onlyAt = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  const onlyArg = onlyAt < 0 ? undefined : argv[onlyAt]!.startsWith('--only=') ? argv[onlyAt]!.slice('--only='.length) : argv[onlyAt + 1];
  const groups = new Set<Group>(GROUPS);
  if (onlyAt >= 0) {
    groups.clear();
    for (const name of (onlyArg ?? '').split(',').filter((n) => n !== '')) {
      if (!(GROUPS as readonly string[]).includes(name)) throw new Error(`--only: unknown group '${name}' (groups: ${GROUPS.join(', ')})`);
      groups.add(name as Group);
    }
    if (groups.size === 0) throw new Error(`--only needs groups: ${GROUPS.join(',')}`);
  }
  if (argv.includes('--no-memory')) groups.delete('memory');
  return {
    json: argv.includes('--json'),
    profile: argv.includes('--profile'),
    quick: argv.includes('--quick'),
    inproc: argv.includes('--inproc'),
    idlePeers: idle === undefined ? undefined : Number(idle.split('=')[1]),
    reps: reps === undefined ? undefined : Math.max(1, Math.floor(Number(reps.split('=')[1]))),
    groups,
  };
}
