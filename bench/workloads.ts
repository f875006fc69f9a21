/** The measured workloads, identical for every transport: only the SenderPort differs. */
import { COUNT_OK, payload } from './common.js';
import type { ReceiverHandle, SenderPort } from './transports.js';

export interface BenchConnection {
  readonly name: string;
  readonly sender: SenderPort;
  readonly receiver: ReceiverHandle;
  /** Where the receiving side runs, for the output. */
  readonly receiverPlacement: 'process' | 'inproc';
}

const WORKLOAD_TIMEOUT_MS = 60 * 1000;

function nextReply(port: SenderPort): Promise<Uint8Array> {
  return new Promise((resolve) => {
    port.onReply = resolve;
  });
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${WORKLOAD_TIMEOUT_MS} ms`)), WORKLOAD_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Sends `count` messages of `messageBytes` as fast as the API accepts them (waiting whenever it asks
 * to), and stops the clock when the receiver reports that all of them arrived. Returns seconds.
 */
export async function runThroughput(conn: BenchConnection, messageBytes: number, count: number): Promise<number> {
  await conn.receiver.setMode({ kind: 'count', expectedMessages: count, expectedBytes: count * messageBytes });
  const message = payload(messageBytes);
  const { sender } = conn;
  const done = nextReply(sender);
  const started = performance.now();
  const sending = (async () => {
    for (let i = 0; i < count; i++) {
      const accepted = sender.send(message);
      // meshlink: `trySend`, or `await peer.send(...)` when the queue is full; raw TCP: wait for 'drain'.
      if (accepted !== true && !(await accepted)) throw new Error(`${conn.name}: send refused`);
    }
  })();
  const [reply] = await withTimeout(Promise.all([done, sending]), `${conn.name} ${count}×${messageBytes} B`);
  const seconds = (performance.now() - started) / 1000;
  if (reply[0] !== COUNT_OK) throw new Error(`${conn.name}: receiver counted the wrong number of bytes`);
  return seconds;
}

/** One message out, the receiver answers, repeat. Returns each round trip in µs. */
export async function runPingPong(conn: BenchConnection, rounds: number, messageBytes = 64): Promise<number[]> {
  await conn.receiver.setMode({ kind: 'echo' });
  const message = payload(messageBytes);
  const { sender } = conn;
  const samples: number[] = new Array<number>(rounds);
  const run = async (): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      const reply = nextReply(sender);
      const started = performance.now();
      const accepted = sender.send(message);
      if (accepted !== true && !(await accepted)) throw new Error(`${conn.name}: send refused`);
      await reply;
      samples[i] = (performance.now() - started) * 1000;
    }
  };
  await withTimeout(run(), `${conn.name} ping-pong`);
  return samples;
}

/** MB = 10^6 bytes. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}
