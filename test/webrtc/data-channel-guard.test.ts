/**
 * The data channel guard's reading of a remote's first channel (src/webrtc/data-channel-guard.ts), with a
 * stand-in RTCPeerConnection: the reliability limits as a browser reports them (null when unset) and as
 * @roamhq/wrtc does (65535 when unset, so both at 65535). The real-channel cases are in
 * test/hostile/webrtc-data-channels.test.ts; a browser's reading cannot be had from @roamhq/wrtc.
 */
import { describe, expect, it } from 'vitest';
import { admitOneDataChannel } from '../../src/webrtc/data-channel-guard.js';
import type { SimplePeerLike } from '../../src/webrtc/simple-peer-like.js';

interface Limits {
  ordered?: boolean;
  maxRetransmits: number | null;
  maxPacketLifeTime: number | null;
}

/** Offers one remote channel with `limits` to a guarded stand-in peer: what simple-peer got, and the peer's error. */
function firstChannel(limits: Limits): { setUp: boolean; closed: boolean; error: (Error & { reason?: string }) | undefined } {
  const outcome = { setUp: false, closed: false, error: undefined as (Error & { reason?: string }) | undefined };
  const pc = { ondatachannel: (() => (outcome.setUp = true)) as ((event: unknown) => void) | null };
  const peer = {
    _pc: pc,
    destroyed: false,
    destroy(error?: Error) {
      outcome.error = error as Error & { reason?: string };
    },
  } as unknown as SimplePeerLike;
  admitOneDataChannel(peer);
  const channel = { label: 'x', ordered: limits.ordered ?? true, maxRetransmits: limits.maxRetransmits, maxPacketLifeTime: limits.maxPacketLifeTime, close: () => (outcome.closed = true) };
  pc.ondatachannel!({ channel });
  return outcome;
}

describe('the data channel guard reads a first remote channel', () => {
  it('takes a reliable, ordered one, as a browser (null limits) and @roamhq/wrtc (both 65535) report it', () => {
    for (const limits of [{ maxRetransmits: null, maxPacketLifeTime: null }, { maxRetransmits: 65_535, maxPacketLifeTime: 65_535 }]) {
      expect(firstChannel(limits)).toEqual({ setUp: true, closed: false, error: undefined });
    }
  });

  it('refuses one with a limit of 65535 beside an unset one (a browser\'s report of a 65.5 s lifetime or 65535 retransmits)', () => {
    // Before: 65535 counted as unset wherever it appeared, so a browser took such a channel as reliable.
    for (const limits of [{ maxRetransmits: null, maxPacketLifeTime: 65_535 }, { maxRetransmits: 65_535, maxPacketLifeTime: null }]) {
      const outcome = firstChannel(limits);
      expect(outcome.setUp).toBe(false);
      expect(outcome.closed).toBe(true);
      expect(outcome.error).toMatchObject({ code: 'ERR_DATA_CHANNEL', reason: 'unreliable-data-channel' });
    }
  });

  it('refuses other limits and unordered ones, as either reports them', () => {
    for (const limits of [
      { maxRetransmits: 3, maxPacketLifeTime: 65_535 },
      { maxRetransmits: 65_535, maxPacketLifeTime: 100 },
      { maxRetransmits: 0, maxPacketLifeTime: null },
      { maxRetransmits: null, maxPacketLifeTime: 0 },
      { ordered: false, maxRetransmits: null, maxPacketLifeTime: null },
      { ordered: false, maxRetransmits: 65_535, maxPacketLifeTime: 65_535 },
    ]) {
      expect(firstChannel(limits).error).toMatchObject({ reason: 'unreliable-data-channel' });
    }
  });
});
