/**
 * Child-process entry: hosts the receiving sides of the benchmark so that sender and receiver each get
 * a core of their own (on a 2-core machine, one process would make them take turns on one core).
 * Driven over the IPC channel by bench/receiver-client.ts.
 */
import type { FromReceiver, ReceiverKind, ToReceiver } from './common.js';
import { selfTimesToEntries, startCpuProfile, stopCpuProfile } from './cpu-profile.js';
import { startReceiver, type ReceiverHandle } from './transports.js';

const receivers = new Map<ReceiverKind, ReceiverHandle>();

function answer(message: FromReceiver): void {
  process.send!(message);
}

// If the bench process goes away (crash, Ctrl-C), do not linger holding sockets.
process.once('disconnect', () => process.exit(0));

process.on('message', (raw) => {
  const message = raw as ToReceiver;
  void (async () => {
    try {
      if (message.cmd === 'setup') {
        const handle = await startReceiver(message.kind);
        receivers.set(message.kind, handle);
        answer({ id: message.id, ok: true, ready: handle.ready });
      } else if (message.cmd === 'mode') {
        await receivers.get(message.kind)!.setMode(message.mode);
        answer({ id: message.id, ok: true });
      } else if (message.cmd === 'cpu') {
        const usage = process.cpuUsage();
        answer({ id: message.id, ok: true, cpuMicros: usage.user + usage.system, systemCpuMicros: usage.system });
      } else if (message.cmd === 'profile-start') {
        await startCpuProfile();
        answer({ id: message.id, ok: true });
      } else if (message.cmd === 'profile-stop') {
        answer({ id: message.id, ok: true, selfTimes: selfTimesToEntries(await stopCpuProfile()) });
      } else {
        await Promise.all([...receivers.values()].map((handle) => handle.stop()));
        receivers.clear();
        answer({ id: message.id, ok: true });
        process.disconnect();
      }
    } catch (error) {
      answer({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  })();
});
