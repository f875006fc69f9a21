import { TokenBucket } from './agents/token-bucket.js';
import { levelEnabled, type Logger } from './log.js';

/**
 * Log lines that anyone who can open a connection causes, one per attempt (a rejected inbound
 * connection, a failed handshake, a peer coming and going, a misbehaving peer): written as they come,
 * they let an attacker set how fast the log grows (~100 KB/s measured with handshakes that fail at
 * once). Each such event may write a burst of lines, then lines at a steady rate; what is held back
 * is counted and told in one 'log:suppressed' line per event per interval, so no failure goes unseen
 * and the log grows at a rate the operator chose. One bucket per event, not one for all: a flood of
 * rejected connections does not hide an agent error.
 */
export const PEER_DRIVEN_LOG_EVENTS: readonly string[] = Object.freeze([
  'inbound:rejected',
  'peer:connected',
  'peer:disconnected',
  'peer:error',
  'dial:failed',
  'agent:error',
  'pex:misbehaviour',
  'pex:warning',
  'webrtc:route',
  // Each key (free to make) may have us take 10 chat messages a second after a burst of 50.
  'chat',
]);
/** Lines one peer-driven event may write at once (a restart that reconnects a few dozen peers fits). */
export const LOG_BURST_LINES = 50;
/** Lines per second one peer-driven event may write after its burst. */
export const LOG_LINES_PER_SEC = 2;
/** How often the count of lines held back is written (one line per event that had any). */
export const LOG_SUPPRESSED_SUMMARY_MS = 10 * 1000;

export interface LogLimitOptions {
  events?: readonly string[];
  burstLines?: number;
  linesPerSec?: number;
  summaryIntervalMs?: number;
  now?: () => number;
}

export interface LimitedLogger {
  log: Logger;
  /** Writes what is still counted and stops the summary timer. Idempotent. */
  stop(): void;
}

export function limitPeerDrivenLogs(log: Logger, options: LogLimitOptions = {}): LimitedLogger {
  const burst = options.burstLines ?? LOG_BURST_LINES;
  const rate = options.linesPerSec ?? LOG_LINES_PER_SEC;
  const intervalMs = options.summaryIntervalMs ?? LOG_SUPPRESSED_SUMMARY_MS;
  const now = options.now ?? Date.now;
  // Keyed by our own event names only, never by anything a peer sends: bounded by the list.
  const buckets = new Map<string, TokenBucket>();
  for (const event of options.events ?? PEER_DRIVEN_LOG_EVENTS) buckets.set(event, new TokenBucket(burst, rate, now));
  const suppressed = new Map<string, { level: Parameters<Logger>[0]; count: number }>();

  const summarize = (): void => {
    for (const [event, { level, count }] of suppressed) log(level, 'log:suppressed', { event, suppressed: count, intervalMs });
    suppressed.clear();
  };
  const timer = setInterval(summarize, intervalMs);
  // A summary due must never keep a stopping process alive.
  (timer as { unref?: () => void }).unref?.();

  return {
    log(level, event, fields) {
      const bucket = buckets.get(event);
      if (bucket === undefined || bucket.take()) return log(level, event, fields);
      const held = suppressed.get(event);
      if (held === undefined) suppressed.set(event, { level, count: 1 });
      else {
        held.count++;
        // The summary is written at the most severe level it stands for.
        if (!levelEnabled(held.level, level)) held.level = level;
      }
    },
    stop() {
      clearInterval(timer);
      summarize();
    },
  };
}
