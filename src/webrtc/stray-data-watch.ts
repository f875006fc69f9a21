import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';
import {
  WEBRTC_STRAY_DATA_BYTES_PER_SECOND,
  WEBRTC_STRAY_DATA_CHECK_MS,
  WEBRTC_STRAY_DATA_OVERHEAD_PER_MESSAGE_BYTES,
  WEBRTC_STRAY_DATA_OVERHEAD_RECEIVED_RATIO,
  WEBRTC_STRAY_DATA_OVERHEAD_SENT_RATIO,
  WEBRTC_STRAY_DATA_SLACK_BYTES,
} from './constants.js';
import type { SimplePeerLike } from './simple-peer-like.js';

/** The parts of an RTCStatsReport the watch reads (the DOM type is not in `src/`'s lib). */
interface StatsReportLike {
  forEach(callback: (stats: { type?: unknown; bytesReceived?: unknown; bytesSent?: unknown; messagesReceived?: unknown; messagesSent?: unknown }) => void): void;
}

interface PeerConnectionLike {
  getStats(): Promise<StatsReportLike>;
}

/** Bytes the connection received (at the DTLS transport), and its data channels received and sent (bytes, and messages where reported). */
export interface ConnectionBytes {
  readonly received: number;
  readonly channelReceived: number;
  readonly channelSent: number;
  readonly channelMessages?: number;
}

/**
 * Sums a stats report: the transports' bytes received, or the candidate pairs' where a browser reports no
 * transport (Firefox), and the data channels' bytes and messages. Undefined when either side is missing:
 * an implementation that counted no channel bytes would make every honest byte look stray, and one that
 * counted no messages every honest small message's headers.
 */
export function connectionBytesOf(report: StatsReportLike): ConnectionBytes | undefined {
  let transport: number | undefined;
  let pairs: number | undefined;
  let channelReceived: number | undefined;
  let channelSent = 0;
  let channelMessages = 0;
  let messagesMissing = false;
  const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  report.forEach(({ type, bytesReceived, bytesSent, messagesReceived, messagesSent }) => {
    const received = count(bytesReceived);
    if (type === 'transport') transport = (transport ?? 0) + received;
    else if (type === 'candidate-pair') pairs = (pairs ?? 0) + received;
    else if (type === 'data-channel' && typeof bytesReceived === 'number') {
      channelReceived = (channelReceived ?? 0) + received;
      channelSent += count(bytesSent);
      if (typeof messagesReceived !== 'number' || typeof messagesSent !== 'number') messagesMissing = true;
      channelMessages += count(messagesReceived) + count(messagesSent);
    }
  });
  const received = transport ?? pairs;
  return received === undefined || channelReceived === undefined || messagesMissing ? undefined : { received, channelReceived, channelSent, channelMessages };
}

/**
 * What the connection received beyond what its data channels account for: their bytes and overhead, and
 * the overhead a second over `elapsedMs`. Negative while within that allowance.
 */
export function unaccountedBytes(bytes: ConnectionBytes, elapsedMs: number): number {
  const accounted = bytes.channelReceived * (1 + WEBRTC_STRAY_DATA_OVERHEAD_RECEIVED_RATIO)
    + bytes.channelSent * WEBRTC_STRAY_DATA_OVERHEAD_SENT_RATIO
    + (bytes.channelMessages ?? 0) * WEBRTC_STRAY_DATA_OVERHEAD_PER_MESSAGE_BYTES
    + (Math.max(0, elapsedMs) / 1000) * WEBRTC_STRAY_DATA_BYTES_PER_SECOND;
  return bytes.received - accounted;
}

/**
 * Watches `peer`'s RTCPeerConnection for data the remote sends outside our data channel: on an SCTP stream
 * it opened as a pre-negotiated channel (no DCEP open, so no `datachannel` event and no guard), the
 * WebRTC stack drops it unseen, after decrypting it, and nothing of ours counts it (no byte limit, no
 * rate limit, no cut): a remote could keep us decrypting at line rate for free. Every
 * WEBRTC_STRAY_DATA_CHECK_MS the connection's counters are compared; the allowance for overhead grows with
 * time, but what the remote does not use is not kept (a leaky account), so a quiet hour buys no flood.
 * `onStray` is called once. Returns the stop. HACK: simple-peer's RTCPeerConnection is `_pc` (as in
 * data-channel-guard.ts); a stand-in without one (tests) is not watched.
 */
export function watchStrayData(peer: SimplePeerLike, clock: Clock, onStray: (excessBytes: number) => void): () => void {
  const pc = (peer as { _pc?: PeerConnectionLike | null })._pc;
  if (pc === undefined || pc === null || typeof pc.getStats !== 'function') return () => {};
  let stopped = false;
  let timer: TimerHandle | undefined;
  // The account: what came in unaccounted for, less the allowance, never below 0 (leaky).
  let owed = 0;
  let last: ConnectionBytes = { received: 0, channelReceived: 0, channelSent: 0, channelMessages: 0 };
  let lastAt = monotonicNow(clock);
  const check = async (): Promise<void> => {
    const bytes = await pc.getStats().then(connectionBytesOf, () => undefined);
    if (stopped) return;
    if (bytes !== undefined) {
      const now = monotonicNow(clock);
      const window = {
        received: bytes.received - last.received,
        channelReceived: bytes.channelReceived - last.channelReceived,
        channelSent: bytes.channelSent - last.channelSent,
        channelMessages: (bytes.channelMessages ?? 0) - (last.channelMessages ?? 0),
      };
      owed = Math.max(0, owed + unaccountedBytes(window, now - lastAt));
      last = bytes;
      lastAt = now;
      if (owed > WEBRTC_STRAY_DATA_SLACK_BYTES) {
        stopped = true;
        onStray(owed);
        return;
      }
    }
    timer = clock.setTimeout(() => void check(), WEBRTC_STRAY_DATA_CHECK_MS);
  };
  timer = clock.setTimeout(() => void check(), WEBRTC_STRAY_DATA_CHECK_MS);
  return () => {
    stopped = true;
    clock.clearTimeout(timer);
  };
}
