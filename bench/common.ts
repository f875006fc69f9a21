/**
 * Shared pieces of the benchmark: the channel used, the receiving side's logic (count or echo), the
 * messages exchanged with a receiver living in another process, and small statistics helpers.
 */
import type { ChannelDescriptor } from '../src/conn/channel-descriptor.js';

/** The one application channel the benchmark uses. */
export const BENCH_CHANNEL_ID = 0x40;
export const BENCH_CHANNELS: readonly ChannelDescriptor[] = [
  // Default priority and queue capacities (1024 messages, 1 MiB): nothing tuned for the benchmark.
  { id: BENCH_CHANNEL_ID, name: 'bench', recvMessageCapacity: 1024 * 1024 },
];

export const KIB = 1024;
export const MIB = 1024 * 1024;

/** Receiver modes: count messages and answer once with one byte when all arrived; or echo each message. */
export type SinkMode = { kind: 'count'; expectedMessages: number; expectedBytes: number } | { kind: 'echo' };

/** Reply byte for a finished count: all messages and bytes arrived. */
export const COUNT_OK = 1;
/** Reply byte for a finished count whose byte total differs (a bug, reported as an error). */
export const COUNT_BAD = 0;

/**
 * The receiving side of every benchmarked transport: counts or echoes. `reply` sends one message
 * back over the same connection (raw frame, or the agent answering through `peer.trySend`).
 */
export class Sink {
  private mode: SinkMode = { kind: 'echo' };
  private messages = 0;
  private bytes = 0;

  setMode(mode: SinkMode): void {
    this.mode = mode;
    this.messages = 0;
    this.bytes = 0;
  }

  onMessage(message: Uint8Array, reply: (message: Uint8Array) => void): void {
    const mode = this.mode;
    if (mode.kind === 'echo') {
      reply(message);
      return;
    }
    this.messages += 1;
    this.bytes += message.length;
    if (this.messages === mode.expectedMessages) {
      reply(Uint8Array.of(this.bytes === mode.expectedBytes ? COUNT_OK : COUNT_BAD));
      this.setMode({ kind: 'echo' });
    }
  }
}

/** What a transport set up in the receiver process tells the parent. */
export interface ReceiverReady {
  /** Where the sender connects: a meshlink address with node id, host:port for bare TCP, ws://… for bare ws. */
  address: string;
}

/** IPC from the bench process to a receiver child. */
export type ToReceiver =
  | { id: number; cmd: 'setup'; kind: ReceiverKind }
  | { id: number; cmd: 'mode'; kind: ReceiverKind; mode: SinkMode }
  | { id: number; cmd: 'cpu' }
  | { id: number; cmd: 'profile-start' }
  | { id: number; cmd: 'profile-stop' }
  | { id: number; cmd: 'stop' };

/** IPC answers from a receiver child. */
export type FromReceiver =
  | { id: number; ok: true; ready?: ReceiverReady; cpuMicros?: number; systemCpuMicros?: number; selfTimes?: Array<[string, number]> }
  | { id: number; ok: false; error: string };

/** Receiving sides that can run in another process (memory links cannot; WebRTC pairs run in-process). */
export type ReceiverKind = 'raw-tcp' | 'meshlink-tcp' | 'meshlink-tcp-plain' | 'meshlink-tcp-secure' | 'raw-ws' | 'meshlink-ws';

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

/** Nearest-rank percentile of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** A message of `length` bytes with a recognisable pattern (content is not checked on the hot path). */
export function payload(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed + i * 31) & 0xff;
  return out;
}
