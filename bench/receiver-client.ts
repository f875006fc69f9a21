/** The parent's side of bench/receiver-process.ts: a ReceiverHandle per kind, driven over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import type { FromReceiver, ReceiverKind, SinkMode, ToReceiver } from './common.js';
import { connectSender, type ReceiverHandle } from './transports.js';
import type { BenchConnection } from './workloads.js';

type Command = ToReceiver extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;

/** Node flags of this process (tsx's loader) plus `extra`, for children that run .ts files. */
export function childExecArgv(extra: string[] = []): string[] {
  return [...process.execArgv, ...extra];
}

export class ReceiverProcess {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: FromReceiver) => void; reject: (e: Error) => void }>();

  constructor() {
    this.child = fork(new URL('./receiver-process.ts', import.meta.url).pathname, [], {
      execArgv: childExecArgv(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: FromReceiver) => {
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      waiter?.resolve(message);
    });
    this.child.on('exit', (code) => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`receiver process exited with ${code}`));
      this.waiting.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private async call(command: Command): Promise<FromReceiver & { ok: true }> {
    const id = this.nextId++;
    const reply = await new Promise<FromReceiver>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ ...command, id } as ToReceiver);
    });
    if (!reply.ok) throw new Error(`receiver process: ${reply.error}`);
    return reply;
  }

  async start(kind: ReceiverKind): Promise<ReceiverHandle> {
    const reply = await this.call({ cmd: 'setup', kind });
    return {
      ready: reply.ready!,
      setMode: async (mode: SinkMode) => {
        await this.call({ cmd: 'mode', kind, mode });
      },
      // Stopping is done for all kinds at once by close().
      stop: async () => undefined,
    };
  }

  /** CPU time (user + system) the receiver process has used so far, in µs. */
  async cpuMicros(): Promise<number> {
    return (await this.cpuUsage()).total;
  }

  /** CPU time (total, and of it in the kernel) the receiver process has used so far, in µs. */
  async cpuUsage(): Promise<{ total: number; system: number }> {
    const reply = await this.call({ cmd: 'cpu' });
    return { total: reply.cpuMicros!, system: reply.systemCpuMicros! };
  }

  /** Starts a CPU profile in the receiver process (bench/cpu-profile.ts). */
  async startCpuProfile(): Promise<void> {
    await this.call({ cmd: 'profile-start' });
  }

  /** Stops it and returns its self time per function, in µs. */
  async stopCpuProfile(): Promise<Array<[string, number]>> {
    return (await this.call({ cmd: 'profile-stop' })).selfTimes!;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.call({ cmd: 'stop' }).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill(), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * For the focus scripts (bench/bulk-focus.ts, bench/rtt-focus.ts): one receiver process hosting every
 * kind in `kinds`, and a connection to each from this process.
 */
export async function connectKinds(kinds: readonly ReceiverKind[]): Promise<{ receivers: ReceiverProcess; conns: BenchConnection[] }> {
  const receivers = new ReceiverProcess();
  const conns: BenchConnection[] = [];
  for (const kind of kinds) {
    const receiver = await receivers.start(kind);
    conns.push({ name: kind, sender: await connectSender(kind, receiver.ready.address), receiver, receiverPlacement: 'process' });
  }
  return { receivers, conns };
}
