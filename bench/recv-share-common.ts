/** What bench/recv-share.ts and its peer processes (bench/recv-share-peers.ts) share. */
import type { ChannelDescriptor } from '../src/conn/channel-descriptor.js';

export const SHARE_NETWORK = 'recv-share';
export const PUSH_CH = 0x40;
export const PULL_CH = 0x41;

export type PeersRole = 'honest' | 'flood';
export type ToPeers = { cmd: 'start' } | { cmd: 'stop' } | { cmd: 'exit' };
export type FromPeers = { ready: string[] } | { sent: number } | { exited: true } | { error: string };

/** A timestamp comparable across processes of one machine (ms, sub-ms precision). */
export const wallNow = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function shareChannels(): ChannelDescriptor[] {
  return [PUSH_CH, PULL_CH].map((id) => ({ id, priority: 1, sendQueueCapacity: 1024, recvMessageCapacity: 128 * 1024 }));
}
