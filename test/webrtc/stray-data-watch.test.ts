import { describe, expect, it } from 'vitest';
import { WEBRTC_STRAY_DATA_CHECK_MS, WEBRTC_STRAY_DATA_SLACK_BYTES } from '../../src/webrtc/constants.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';
import { connectionBytesOf, unaccountedBytes, watchStrayData } from '../../src/webrtc/stray-data-watch.js';
import type { Clock, TimerHandle } from '../../src/util/clock.js';

type Row = { type: string; bytesReceived?: number; bytesSent?: number; messagesReceived?: number; messagesSent?: number };
const report = (rows: Row[]) => ({ forEach: (callback: (row: Row) => void) => rows.forEach(callback) });
const MB = 1_000_000;

/** A clock whose time and timers the test moves. */
function manualClock(): Clock & { advance(ms: number): Promise<void> } {
  let now = 0;
  let timers: { at: number; callback: () => void; handle: number }[] = [];
  let next = 0;
  return {
    now: () => now,
    monotonicNow: () => now,
    setTimeout: (callback, delayMs) => {
      timers.push({ at: now + delayMs, callback, handle: ++next });
      return next as unknown as TimerHandle;
    },
    clearTimeout: (handle) => void (timers = timers.filter((timer) => timer.handle !== (handle as unknown as number))),
    setInterval: () => 0 as unknown as TimerHandle,
    clearInterval: () => {},
    afterBurst: (callback) => queueMicrotask(callback),
    async advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        timers = timers.filter((timer) => timer !== due);
        now = due.at;
        due.callback();
        for (let i = 0; i < 5; i++) await Promise.resolve();
      }
      now = end;
    },
  };
}

/** A guarded peer whose RTCPeerConnection reports `bytes()` (received at the transport, and by the channel). */
function watched(bytes: () => { received: number; channel: number }, clock: Clock): { stray: number[] } {
  const outcome = { stray: [] as number[] };
  const pc = { getStats: async () => report([{ type: 'transport', bytesReceived: bytes().received }, { type: 'data-channel', bytesReceived: bytes().channel, bytesSent: 0, messagesReceived: 0, messagesSent: 0 }]) };
  watchStrayData({ _pc: pc } as unknown as SimplePeerLike, clock, (excess) => outcome.stray.push(excess));
  return outcome;
}

describe('the stray data watch', () => {
  it('reads a transport, or the candidate pairs where a browser reports none, and the data channels', () => {
    const channel = (bytesReceived: number, bytesSent: number, messages = 0): Row => ({ type: 'data-channel', bytesReceived, bytesSent, messagesReceived: messages, messagesSent: messages });
    expect(connectionBytesOf(report([{ type: 'transport', bytesReceived: 100 }, { type: 'candidate-pair', bytesReceived: 100 }, channel(60, 7, 2)]))).toEqual({ received: 100, channelReceived: 60, channelSent: 7, channelMessages: 4 });
    expect(connectionBytesOf(report([{ type: 'candidate-pair', bytesReceived: 40 }, { type: 'candidate-pair', bytesReceived: 2 }, channel(0, 0)]))).toEqual({ received: 42, channelReceived: 0, channelSent: 0, channelMessages: 0 });
    // Either side missing (no transport figure; no channel figure): nothing to compare.
    expect(connectionBytesOf(report([{ type: 'data-channel', bytesReceived: 60 }]))).toBeUndefined();
    expect(connectionBytesOf(report([{ type: 'transport', bytesReceived: 100 }, { type: 'data-channel' }]))).toBeUndefined();
    // No message counts: small messages' headers could not be told from stray data.
    expect(connectionBytesOf(report([{ type: 'transport', bytesReceived: 100 }, { type: 'data-channel', bytesReceived: 60, bytesSent: 7 }]))).toBeUndefined();
  });

  it('accounts for the overhead measured under @roamhq/wrtc, and not for a stray stream', () => {
    // 64 MiB one way: the receiver's transport 72.4 MB for 67.1 MB on its channel, the sender's 2.1 MB of acknowledgements.
    expect(unaccountedBytes({ received: 72.4 * MB, channelReceived: 67.1 * MB, channelSent: 0 }, 2_000)).toBeLessThan(0);
    expect(unaccountedBytes({ received: 2.1 * MB, channelReceived: 0, channelSent: 67.1 * MB }, 2_000)).toBeLessThan(0);
    // 200 MiB on a stream with no channel: 226 MB at the transport, 0 on the channel.
    expect(unaccountedBytes({ received: 226 * MB, channelReceived: 0, channelSent: 0 }, 8_700)).toBeGreaterThan(200 * MB);
  });

  it('accounts for the headers of small messages: an honest ping-pong of single small messages is never stray', () => {
    // Measured under @roamhq/wrtc over 10 s: 36,420 rounds of one 88-byte message each way, 6.16 MB at
    // the transport for 3.2 MB on the channel. Without a per-message allowance that is 158 KB/s over
    // the rest: the 8 MiB slack gone in 53 s, an honest chatty peer cut.
    const tenSeconds = { received: 6_155_114, channelReceived: 3_204_960, channelSent: 3_204_960, channelMessages: 2 * 36_420 };
    expect(unaccountedBytes(tenSeconds, 10_000)).toBeLessThan(0);
    expect(unaccountedBytes({ ...tenSeconds, channelMessages: 0 }, 10_000)).toBeGreaterThan(1.5 * MB);
    // 20-byte messages: the headers are four times the data, still accounted for.
    expect(unaccountedBytes({ received: 4_057_761, channelReceived: 803_480, channelSent: 803_480, channelMessages: 2 * 40_174 }, 10_000)).toBeLessThan(0);
  });

  it('cuts once the unaccounted bytes pass the slack, checking every few seconds', async () => {
    const clock = manualClock();
    const bytes = { received: 0, channel: 0 };
    const outcome = watched(() => bytes, clock);
    bytes.received = bytes.channel = 50 * MB;
    await clock.advance(WEBRTC_STRAY_DATA_CHECK_MS);
    expect(outcome.stray).toEqual([]);
    bytes.received += WEBRTC_STRAY_DATA_SLACK_BYTES + 1 * MB;
    await clock.advance(WEBRTC_STRAY_DATA_CHECK_MS);
    expect(outcome.stray).toHaveLength(1);
    await clock.advance(10 * WEBRTC_STRAY_DATA_CHECK_MS);
    expect(outcome.stray).toHaveLength(1); // once, and no more checks
  });

  it('keeps no credit from quiet time: an hour idle buys no flood', async () => {
    const clock = manualClock();
    const bytes = { received: 0, channel: 0 };
    const outcome = watched(() => bytes, clock);
    await clock.advance(60 * 60 * 1000);
    bytes.received += WEBRTC_STRAY_DATA_SLACK_BYTES + 1 * MB;
    await clock.advance(WEBRTC_STRAY_DATA_CHECK_MS);
    // With the allowance of a second kept, the hour's 57 MiB would have let this through.
    expect(outcome.stray).toHaveLength(1);
  });
});
