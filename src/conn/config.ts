import { isIntegerIn, resolveConfig } from '../util/config.js';
import { MAX_PACKET_PAYLOAD_BYTES_LIMIT, MSG_PACKET_HEADER_BYTES } from '../wire/constants.js';
import {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_PACKET_PAYLOAD_BYTES,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PONG_TIMEOUT_MS,
  DEFAULT_RECV_RATE_BYTES_PER_SEC,
  DEFAULT_SEND_RATE_BYTES_PER_SEC,
  DEFAULT_SEND_TIMEOUT_MS,
} from './constants.js';

export interface MConnectionConfig {
  /** Largest payload of one packet. Smaller packets let a high-priority message overtake sooner. @default 16384 */
  maxPacketPayloadBytes: number;
  /** Most bytes packed into one link write. @default 65536 */
  maxBatchBytes: number;
  /** @default 60000 */
  pingIntervalMs: number;
  /** No pong within this time after a ping closes the connection with ERR_PONG_TIMEOUT. @default 45000 */
  pongTimeoutMs: number;
  /** Default wait of `send()` for room in a full queue. @default 10000 */
  sendTimeoutMs: number;
  /** Longest graceful close before the link is destroyed. @default 5000 */
  closeTimeoutMs: number;
  /** Outgoing byte rate limit; 0 = unlimited. @default 0 */
  sendRateBytesPerSec: number;
  /** Incoming byte rate limit (reading pauses above it); 0 = unlimited. @default 0 */
  recvRateBytesPerSec: number;
}

export const DEFAULT_MCONNECTION_CONFIG: Readonly<MConnectionConfig> = Object.freeze({
  maxPacketPayloadBytes: DEFAULT_MAX_PACKET_PAYLOAD_BYTES,
  maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
  pingIntervalMs: DEFAULT_PING_INTERVAL_MS,
  pongTimeoutMs: DEFAULT_PONG_TIMEOUT_MS,
  sendTimeoutMs: DEFAULT_SEND_TIMEOUT_MS,
  closeTimeoutMs: DEFAULT_CLOSE_TIMEOUT_MS,
  sendRateBytesPerSec: DEFAULT_SEND_RATE_BYTES_PER_SEC,
  recvRateBytesPerSec: DEFAULT_RECV_RATE_BYTES_PER_SEC,
});

/** Merges over the defaults and rejects impossible combinations. */
export function resolveMConnectionConfig(partial: Partial<MConnectionConfig> = {}): MConnectionConfig {
  return resolveConfig('MConnection', DEFAULT_MCONNECTION_CONFIG, partial, (config, bad) => {
    for (const [key, value] of Object.entries(config)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) bad(`${key} must be a finite number ≥ 0`);
    }
    if (!isIntegerIn(config.maxPacketPayloadBytes, 1, MAX_PACKET_PAYLOAD_BYTES_LIMIT)) {
      bad(`maxPacketPayloadBytes must be 1..${MAX_PACKET_PAYLOAD_BYTES_LIMIT}`);
    }
    if (config.maxBatchBytes < config.maxPacketPayloadBytes + MSG_PACKET_HEADER_BYTES) {
      bad('maxBatchBytes must hold at least one full packet');
    }
    if (config.pingIntervalMs <= 0 || config.pongTimeoutMs <= 0) bad('pingIntervalMs and pongTimeoutMs must be > 0');
    if (config.pongTimeoutMs >= config.pingIntervalMs) bad('pongTimeoutMs must be less than pingIntervalMs');
  });
}

/** Resolved configs by the partial they came from: a Switch passes the same partial for every peer. */
const resolvedByPartial = new WeakMap<object, Readonly<MConnectionConfig>>();
const NO_OPTIONS: Partial<MConnectionConfig> = Object.freeze({});

/**
 * `resolveMConnectionConfig`, frozen and shared by every connection made with the same `partial`, so
 * that a thousand peers hold one config object rather than a thousand. A partial changed since it was
 * last resolved is resolved again.
 */
export function sharedMConnectionConfig(partial: Partial<MConnectionConfig> = NO_OPTIONS): Readonly<MConnectionConfig> {
  const cached = resolvedByPartial.get(partial);
  if (cached !== undefined && matches(cached, partial)) return cached;
  const resolved = Object.freeze(resolveMConnectionConfig(partial));
  resolvedByPartial.set(partial, resolved);
  return resolved;
}

function matches(resolved: Readonly<MConnectionConfig>, partial: Partial<MConnectionConfig>): boolean {
  for (const key in partial) {
    const value = partial[key as keyof MConnectionConfig];
    if (value !== undefined && resolved[key as keyof MConnectionConfig] !== value) return false;
  }
  return true;
}
