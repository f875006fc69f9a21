/** Messages and settings shared by the idle-peers hub, its dialers and the bench process. */
import type { ChannelDescriptor } from '../src/conn/channel-descriptor.js';

/** Three channels, as a small application would declare (control, data, bulk). */
export const IDLE_CHANNELS: readonly ChannelDescriptor[] = [
  { id: 0x50, priority: 10, name: 'control' },
  { id: 0x51, priority: 5, name: 'data' },
  { id: 0x52, priority: 1, name: 'bulk', recvMessageCapacity: 4 * 1024 * 1024 },
];

export interface MemorySnapshot {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

export type ToHub = { kind: 'start'; peers: number } | { kind: 'stop' };
export type FromHub =
  | { kind: 'ready'; address: string; pid: number }
  | { kind: 'connected'; peerCount: number; allConnectedAtMs: number; before: MemorySnapshot; after: MemorySnapshot }
  | { kind: 'stopped'; disconnectedBeforeStop: number };

export type ToDialers = { kind: 'dial'; address: string; peers: number; concurrency: number } | { kind: 'stop' };
export type FromDialers =
  | { kind: 'dialled'; connected: number; failed: number; firstError: string | undefined; startedAtMs: number }
  | { kind: 'stopped' };
