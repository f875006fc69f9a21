import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BAN_ENTRIES } from '../../src/switch/constants.js';
import { backoffDelayMs, DEFAULT_BACKOFF_POLICY } from '../../src/switch/backoff.js';
import { BanList } from '../../src/switch/ban-list.js';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { Switch } from '../../src/switch/switch.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';
import { steppableWallClock } from '../helpers/wall-clock-step.js';

const wallClock = steppableWallClock();
afterEach(stopAll);

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

  it('bans a place under every spelling of it: IPv6 forms, an IPv4-mapped host, path escapes, a query the dialer ignores', () => {
    const bans = new BanList(() => 0);
    bans.ban('tcp://[2606:4700::1]:26656', 1000);
    bans.ban('ws://8.8.4.4:443/ab', 1000);
    const respelt = [
      'tcp://[2606:4700:0:0:0:0:0:1]:26656',
      'tcp://[2606:4700:0000::0001]:26656',
      'ws://[::ffff:8.8.4.4]:443/ab',
      'ws://[::ffff:808:404]:443/%61%62',
      'ws://8.8.4.4:443/a%62?x=1',
      'ws://8.8.4.4:443/x/../ab#1',
    ];
    // Made-up ids at the banned place (before: each of these was not banned, and PEX dialled it).
    for (const place of respelt) expect(bans.isBanned(place.replace('://', `://${generateNodeKey().nodeId}@`)), place).toBe(true);
    expect(bans.isBanned('ws://8.8.4.4:443/ab/')).toBe(false);
  });

  it('full, gives way to a new ban without scanning every ban: keys are kept and dropped exactly as before', () => {
    let now = 0;
    const full = (size: number): BanList => {
      const bans = new BanList(() => now, size);
      for (let i = 0; i < size; i++) bans.ban(i.toString(16).padStart(40, '0'), 1_000_000 + i);
      return bans;
    };
    const cpuOfBans = (bans: BanList): number => {
      const start = process.cpuUsage();
      for (let i = 0; i < 3000; i++) bans.ban(`tcp://${(1e9 + i).toString(16).padStart(40, 'f')}@9.9.9.9:${i + 1}`, 2_000_000);
      const used = process.cpuUsage(start);
      return used.user + used.system;
    };
    const small = full(100);
    const large = full(MAX_BAN_ENTRIES);
    cpuOfBans(full(100)); // warm up
    // A ban of an address is two keys: each found the soonest ban by scanning them all (and swept them all
    // for expired ones first), ~100 times dearer at 10,000 than at 100. Now a heap: log n.
    const ratio = cpuOfBans(large) / Math.max(1, cpuOfBans(small));
    expect(ratio).toBeLessThan(10);
    expect(large.size).toBe(MAX_BAN_ENTRIES);
    // The new bans' 6,000 keys (an address and its id each) took the places of the 6,000 that end soonest.
    expect(large.isBanned('0'.repeat(40))).toBe(false);
    expect(large.isBanned((5999).toString(16).padStart(40, '0'))).toBe(false);
    expect(large.isBanned((6000).toString(16).padStart(40, '0'))).toBe(true);
    expect(large.isBanned((1e9 + 2999).toString(16).padStart(40, 'f'))).toBe(true);
    // Expired bans go first, all of them, when a new one needs room.
    now = 1_000_000 + MAX_BAN_ENTRIES;
    large.ban('e'.repeat(40), 5);
    expect(large.size).toBe(2 * 3000 + 1);
  });
});

describe('the Switch ban list across a wall-clock step', () => {
  it('a ban lasts its duration across a one-hour step back, and entries() still report wall-clock ends (before: banned for the hour more)', async () => {
    let stepMs = 0;
    // Only the wall clock steps (NTP correcting a fast clock, a VM restored); timers and monotonic time do not.
    const clock: Clock = { ...systemClock, now: () => Date.now() + stepMs };
    const sw = new Switch({ identity: generateNodeKey(), network: 'bans', transports: [new MemoryNetwork().transport()], listen: [], clock });
    const id = generateNodeKey().nodeId;
    sw.ban(id, 200);
    stepMs = -3_600_000;
    expect(sw.bans.isBanned(id)).toBe(true);
    expect(Math.abs(sw.bans.entries()[0]!.untilMs - (clock.now() + 200))).toBeLessThan(100);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sw.bans.isBanned(id)).toBe(false);
  });
});

describe('the reconnect backoff across a wall-clock step', () => {
  it('a persistent peer that keeps hanging up backs off on: a one-hour step forward does not make its short connection look stable (before: back to the base delay)', async () => {
    const a = await startNode({ reconnect: { baseDelayMs: 100, maxDelayMs: 60_000, jitterRatio: 0 } });
    const b = await startNode();
    await a.sw.dial(b.address, { persistent: true });
    const gaps: number[] = [];
    for (let hangUp = 0; hangUp < 3; hangUp++) {
      await waitFor(() => b.sw.getPeer(a.sw.nodeId)?.isConnected === true, 5000, 'connected');
      // NTP, or a VM's clock catching up, while the third connection is up: the wall clock jumps an hour.
      if (hangUp === 2) wallClock.step(3_600_000);
      const hungUpAt = performance.now();
      await b.sw.disconnect(b.sw.getPeer(a.sw.nodeId)!);
      await waitFor(() => b.sw.getPeer(a.sw.nodeId)?.isConnected === true, 5000, 'redialled');
      gaps.push(performance.now() - hungUpAt);
    }
    // Each connection lasted a moment (< RECONNECT_STABLE_AFTER_MS): the redials wait 200, 400, 800 ms.
    // Before: the third, timed on the wall clock, lasted an hour, so the count of short connections started
    // over and the redial came after the 100 ms base delay.
    expect(gaps[1]!).toBeGreaterThanOrEqual(350);
    expect(gaps[2]!).toBeGreaterThanOrEqual(700);
  });
});
