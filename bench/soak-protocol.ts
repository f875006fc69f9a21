/**
 * What the soak parent (bench/soak-run.ts) and its node processes (bench/soak-node.ts) share: the IPC
 * messages, the per-session records a node reports, and the app message format on the wire.
 *
 * A "session" is one direction of one connection instance: the sender picks a random nonce when the
 * peer connects and numbers its messages 1, 2, 3… The receiver keys what it gets by (sender, nonce), so
 * a reconnect starts a new, separately checked sequence and a message can never be matched to the wrong
 * connection.
 */
import type { ChannelDescriptor } from '../src/conn/channel-descriptor.js';

export const SOAK_CHANNEL_ID = 0x40;
export const SOAK_NETWORK = 'meshlink-soak';
export const SOAK_CHANNELS: readonly ChannelDescriptor[] = [{ id: SOAK_CHANNEL_ID, priority: 5 }];

/** 8-byte session nonce + 4-byte sequence number, then padding up to the configured size. */
export const SOAK_HEADER_BYTES = 12;
const NONCE_BYTES = 8;

/** Monikers carry slot and incarnation, so either end of a connection knows which processes it joins. */
export function soakMoniker(slot: number, incarnation: number): string {
  return `soak-${slot}-${incarnation}`;
}

export function parseSoakMoniker(moniker: string): { slot: number; incarnation: number } | undefined {
  const match = /^soak-(\d+)-(\d+)$/.exec(moniker);
  return match === null ? undefined : { slot: Number(match[1]), incarnation: Number(match[2]) };
}

export function encodeSoakMessage(nonce: Uint8Array, seq: number, sizeBytes: number): Uint8Array {
  const out = new Uint8Array(Math.max(SOAK_HEADER_BYTES, sizeBytes));
  out.set(nonce.subarray(0, NONCE_BYTES), 0);
  new DataView(out.buffer).setUint32(NONCE_BYTES, seq);
  return out;
}

/** Undefined for a message too short to be ours (counted as malformed by the receiver). */
export function decodeSoakMessage(message: Uint8Array): { nonceHex: string; seq: number } | undefined {
  if (message.length < SOAK_HEADER_BYTES) return undefined;
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  return { nonceHex: Buffer.from(message.subarray(0, NONCE_BYTES)).toString('hex'), seq: view.getUint32(NONCE_BYTES) };
}

/** Where a connection ended, as one end saw it. 'graceful' includes the remote end closing (or dying: only the parent knows). */
export type SessionEnd = 'open' | 'graceful' | 'error';

/** Who a session joins: node slots and process incarnations at both ends. */
export interface SessionEnds {
  nonce: string;
  senderSlot: number;
  senderIncarnation: number;
  receiverSlot: number;
  receiverIncarnation: number;
}

export interface SenderRecord extends SessionEnds {
  /** Messages for which peer.send() resolved true. */
  sent: number;
  end: SessionEnd;
  endReason?: string;
  /** Wall clock (Date.now()) when this end saw the connection close. */
  endedAtMs?: number;
}

export interface ReceiverRecord extends SessionEnds {
  /** Distinct messages received (in order or after a gap). */
  delivered: number;
  /** Highest sequence number seen. */
  lastSeq: number;
  /** Sequence numbers skipped over (seq > previous + 1). */
  gaps: number;
  /** Messages whose seq was not above the previous one. */
  duplicated: number;
  /**
   * The receiver's own outgoing nonce on the same connection: proof, for the parent, that this
   * connection was up at the other end too (it sent on it), even if our messages never got there.
   */
  replyNonce?: string;
  end: SessionEnd;
  endReason?: string;
  endedAtMs?: number;
}

export interface MemorySample {
  heapUsedBytes: number;
  rssBytes: number;
  externalBytes: number;
}

/**
 * Parent → node. The node's configuration travels on the command line (see soak-run.ts).
 * quiesce: send nothing new and answer once what was accepted has left the queues. stop: Switch.stop().
 */
export type ToSoakNode = { kind: 'quiesce' } | { kind: 'stop' };

/** Node → parent. */
export type FromSoakNode =
  | { kind: 'ready'; address: string }
  | { kind: 'failed'; error: string }
  /** `drained` false: the queues were still not empty when the node gave up waiting. */
  | { kind: 'quiesced'; drained: boolean }
  | { kind: 'report'; memory: MemorySample; senders: SenderRecord[]; receivers: ReceiverRecord[] }
  /** After Switch.stop() resolved: every record, final. */
  | { kind: 'final'; memory: MemorySample; senders: SenderRecord[]; receivers: ReceiverRecord[]; malformed: number };

export interface SoakNodeConfig {
  slot: number;
  incarnation: number;
  /** 32-byte key seed, hex: a slot keeps its node id across restarts. */
  secretHex: string;
  port: number;
  /** Full addresses (with node id) of the neighbours this node keeps connected. */
  persistentPeers: string[];
  messagesPerSecondPerLink: number;
  messageBytes: number;
  reportIntervalMs: number;
}
