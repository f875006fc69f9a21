import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF_POLICY } from '../../src/switch/backoff.js';
import { BanList } from '../../src/switch/ban-list.js';
import { generateNodeKey } from '../../src/crypto/keys.js';

describe('backoffDelayMs', () => {
  it('doubles from the base, is capped, and jitters within the ratio', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000, jitterRatio: 0.25 };
    expect(backoffDelayMs(0, policy, () => 0.5)).toBe(100);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(800);
    expect(backoffDelayMs(10, policy, () => 0.5)).toBe(1000);
    expect(backoffDelayMs(100, policy, () => 0.5)).toBe(1000);
    expect(backoffDelayMs(2, policy, () => 0)).toBe(300);
    expect(backoffDelayMs(2, policy, () => 1)).toBe(500);
    expect(DEFAULT_BACKOFF_POLICY.maxDelayMs).toBe(60_000);
  });
});

describe('BanList', () => {
  it('bans ids and addresses until they expire', () => {
    let now = 1000;
    const bans = new BanList(() => now);
    const id = generateNodeKey().nodeId;
    bans.ban(`tcp://${id}@10.0.0.1:5`, 100);
    expect(bans.isBanned(id)).toBe(true);
    expect(bans.isBanned(`tcp://${id}@10.0.0.1:5`)).toBe(true);
    // Another node on the same host is not banned.
    expect(bans.isBanned(`tcp://${generateNodeKey().nodeId}@10.0.0.1:6`)).toBe(false);
    now += 101;
    expect(bans.isBanned(id)).toBe(false);
    expect(bans.entries()).toEqual([]);
  });
});
