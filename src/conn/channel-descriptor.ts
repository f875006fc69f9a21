import { ConfigError } from '../errors.js';
import { MAX_CHANNEL_ID } from '../wire/constants.js';
import {
  DEFAULT_CHANNEL_PRIORITY,
  DEFAULT_RECV_MESSAGE_CAPACITY_BYTES,
  DEFAULT_SEND_QUEUE_CAPACITY_BYTES,
  DEFAULT_SEND_QUEUE_CAPACITY_MESSAGES,
  MAX_RECV_MESSAGE_CAPACITY_BYTES,
} from './constants.js';

/** What an agent declares for each channel it owns. */
export interface ChannelDescriptor {
  /** 0..255. 0x00 is PEX, 0x01 signalling; apps use their own. */
  readonly id: number;
  /** Relative share of the link under contention: priority 10 gets ~10× the bytes of priority 1. @default 1 */
  readonly priority?: number;
  /** Messages that may wait to be sent on this channel, per peer. @default 1024 */
  readonly sendQueueCapacity?: number;
  /**
   * Bytes of messages that may wait to be sent on this channel, per peer; a message larger than this is
   * still taken into an empty queue. A full queue makes `trySend` return false and `send` wait.
   * @default 1 MiB
   */
  readonly sendQueueCapacityBytes?: number;
  /** Largest message accepted (and sendable) on this channel, in bytes. @default 1 MiB */
  readonly recvMessageCapacity?: number;
  /** For logs and status. */
  readonly name?: string;
  /**
   * Messages a second this node takes from one peer on this channel, sustained, and at once (an agent
   * that cuts a peer past them declares them): announced in NodeInfo, so that peers pace what they send
   * it to them. Unset: none announced (peers assume their defaults). Only the Switch reads these.
   */
  readonly recvMessagesPerSecond?: number;
  readonly recvMessageBurst?: number;
}

type AnnouncedRate = 'recvMessagesPerSecond' | 'recvMessageBurst';
/** Every field filled but the announced rate, which stays unset when the agent declares none. */
export type ResolvedChannelDescriptor = Required<Omit<ChannelDescriptor, AnnouncedRate>> & Pick<ChannelDescriptor, AnnouncedRate>;

/** Fills defaults and rejects impossible values. */
export function resolveChannelDescriptor(descriptor: ChannelDescriptor): ResolvedChannelDescriptor {
  const { id } = descriptor;
  if (!Number.isInteger(id) || id < 0 || id > MAX_CHANNEL_ID) {
    throw new ConfigError('ERR_INVALID_CONFIG', `Channel id must be an integer 0..255, got ${String(id)}`);
  }
  const priority = descriptor.priority ?? DEFAULT_CHANNEL_PRIORITY;
  const sendQueueCapacity = descriptor.sendQueueCapacity ?? DEFAULT_SEND_QUEUE_CAPACITY_MESSAGES;
  const sendQueueCapacityBytes = descriptor.sendQueueCapacityBytes ?? DEFAULT_SEND_QUEUE_CAPACITY_BYTES;
  const recvMessageCapacity = descriptor.recvMessageCapacity ?? DEFAULT_RECV_MESSAGE_CAPACITY_BYTES;
  if (!(priority > 0) || !Number.isFinite(priority)) {
    throw new ConfigError('ERR_INVALID_CONFIG', `Channel 0x${hex(id)}: priority must be > 0`);
  }
  if (!Number.isInteger(sendQueueCapacity) || sendQueueCapacity < 1) {
    throw new ConfigError('ERR_INVALID_CONFIG', `Channel 0x${hex(id)}: sendQueueCapacity must be an integer ≥ 1`);
  }
  if (!Number.isInteger(sendQueueCapacityBytes) || sendQueueCapacityBytes < 1) {
    throw new ConfigError('ERR_INVALID_CONFIG', `Channel 0x${hex(id)}: sendQueueCapacityBytes must be an integer ≥ 1`);
  }
  if (!Number.isInteger(recvMessageCapacity) || recvMessageCapacity < 1 || recvMessageCapacity > MAX_RECV_MESSAGE_CAPACITY_BYTES) {
    throw new ConfigError('ERR_INVALID_CONFIG', `Channel 0x${hex(id)}: recvMessageCapacity must be 1..${MAX_RECV_MESSAGE_CAPACITY_BYTES}`);
  }
  const { recvMessagesPerSecond, recvMessageBurst } = descriptor;
  for (const rate of [recvMessagesPerSecond, recvMessageBurst]) {
    if (rate !== undefined && !(rate >= 0 && Number.isFinite(rate))) {
      throw new ConfigError('ERR_INVALID_CONFIG', `Channel 0x${hex(id)}: recvMessagesPerSecond and recvMessageBurst must be finite and ≥ 0`);
    }
  }
  return {
    id,
    priority,
    sendQueueCapacity,
    sendQueueCapacityBytes,
    recvMessageCapacity,
    name: descriptor.name ?? `0x${hex(id)}`,
    ...(recvMessagesPerSecond === undefined ? {} : { recvMessagesPerSecond }),
    ...(recvMessageBurst === undefined ? {} : { recvMessageBurst }),
  };
}

export function hex(channelId: number): string {
  return channelId.toString(16).padStart(2, '0');
}

/** Resolved descriptors by the descriptor they came from: every connection declares the same ones. */
const resolvedByDescriptor = new WeakMap<ChannelDescriptor, ResolvedChannelDescriptor>();

/**
 * `resolveChannelDescriptor`, frozen and shared by every connection that declares the same
 * descriptor object (resolved again if that object changed since).
 */
export function sharedResolvedDescriptor(descriptor: ChannelDescriptor): ResolvedChannelDescriptor {
  const cached = resolvedByDescriptor.get(descriptor);
  if (
    cached !== undefined &&
    cached.id === descriptor.id &&
    cached.priority === (descriptor.priority ?? DEFAULT_CHANNEL_PRIORITY) &&
    cached.sendQueueCapacity === (descriptor.sendQueueCapacity ?? DEFAULT_SEND_QUEUE_CAPACITY_MESSAGES) &&
    cached.sendQueueCapacityBytes === (descriptor.sendQueueCapacityBytes ?? DEFAULT_SEND_QUEUE_CAPACITY_BYTES) &&
    cached.recvMessageCapacity === (descriptor.recvMessageCapacity ?? DEFAULT_RECV_MESSAGE_CAPACITY_BYTES) &&
    cached.name === (descriptor.name ?? `0x${hex(descriptor.id)}`) &&
    cached.recvMessagesPerSecond === descriptor.recvMessagesPerSecond &&
    cached.recvMessageBurst === descriptor.recvMessageBurst
  ) {
    return cached;
  }
  const resolved = Object.freeze(resolveChannelDescriptor(descriptor));
  resolvedByDescriptor.set(descriptor, resolved);
  return resolved;
}

/** Channel ids are one byte on the wire: anything else is refused as such, never masked. */
export function assertChannelId(channelId: number): void {
  if (!Number.isInteger(channelId) || channelId < 0 || channelId > MAX_CHANNEL_ID) {
    throw new ConfigError('ERR_INVALID_ARGUMENT', `Channel id must be an integer 0..${MAX_CHANNEL_ID}, got ${String(channelId)}`, {
      detail: { channelId },
    });
  }
}
