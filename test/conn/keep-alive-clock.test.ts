/**
 * The keep-alive's "the peer read nothing we sent" rule measures a stall with the wall clock (the
 * Switch's clock: Date.now). A clock stepping forward (NTP, a VM's clock catching up) must not make a
 * moment of backpressure look like minutes and cut a peer that reads. Real TCP on 127.0.0.1; the
 * ping ticks are fired by the test, so every step is deterministic.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TimeoutError } from '../../src/errors.js';
import { parseAddress } from '../../src/transport/address.js';
import type { Link } from '../../src/transport/link.js';
import type { Listener } from '../../src/transport/transport.js';
import { systemClock, type Clock, type TimerHandle } from '../../src/util/clock.js';
import { MConnection } from '../../src/conn/mconnection.js';
import { KeepAlive } from '../../src/conn/keep-alive.js';
import { tcpTransport } from '../../platforms/node/tcp.js';
import { endpoint, memoryPair, type Endpoint } from '../helpers/mconn-pair.js';
import { steppableWallClock } from '../helpers/wall-clock-step.js';
import { waitFor } from '../helpers/wait.js';

const PING_INTERVAL_MS = 60_000;
const PONG_TIMEOUT_MS = 45_000;
const CHANNELS = [{ id: 0x10, priority: 1, sendQueueCapacity: 4096, recvMessageCapacity: 64 * 1024 }];

/** The system clock, shifted by `offsetMs`, whose ping interval only fires when the test says. */
class SteppingClock implements Clock {
  offsetMs = 0;
  private readonly ticks: (() => void)[] = [];
  now = (): number => Date.now() + this.offsetMs;
  setTimeout = (callback: () => void, delayMs: number): TimerHandle => systemClock.setTimeout(callback, delayMs);
  clearTimeout = (handle: TimerHandle | undefined): void => systemClock.clearTimeout(handle);
  setInterval = (callback: () => void, periodMs: number): TimerHandle => {
    if (periodMs !== PING_INTERVAL_MS) return systemClock.setInterval(callback, periodMs);
    this.ticks.push(callback);
    return { tick: callback } as unknown as TimerHandle;
  };
  clearInterval = (handle: TimerHandle | undefined): void => {
    const tick = (handle as { tick?: () => void } | undefined)?.tick;
    if (tick === undefined) systemClock.clearInterval(handle);
    else this.ticks.splice(this.ticks.indexOf(tick), 1);
  };
  afterBurst = (callback: () => void): void => systemClock.afterBurst(callback);
  pingTick(): void {
    for (const tick of [...this.ticks]) tick();
  }
}

const wallClock = steppableWallClock();
const opened: { links: Link[]; listener: Listener }[] = [];
afterEach(async () => {
  for (const { links, listener } of opened.splice(0)) {
    for (const link of links) link.destroy();
    await listener.close();
  }
});

/** Our MConnection (on `clock`) over a dialled TCP link to a peer's MConnection that we can pause. */
async function pair(clock: SteppingClock) {
  const accepted: Link[] = [];
  const listener = await tcpTransport().listen!(parseAddress('tcp://127.0.0.1:0'), (link) => void accepted.push(link));
  const link = await tcpTransport().dial({ ...listener.addresses[0]!, host: '127.0.0.1' });
  await waitFor(() => accepted.length === 1, 2000, 'the accepted link');
  opened.push({ links: [link, accepted[0]!], listener });
  const errors: Error[] = [];
  const ours = new MConnection(link, CHANNELS, { onMessage: () => undefined, onClose: (error) => void (error && errors.push(error)) }, { pingIntervalMs: PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS }, clock);
  ours.start();
  const theirs = endpoint(accepted[0]!, CHANNELS);
  return { ours, theirs, errors };
}

/** Sends until our link pushes back (the peer is paused, so its TCP window closes). */
async function stall(ours: MConnection): Promise<void> {
  const chunk = new Uint8Array(60 * 1024);
  await waitFor(() => {
    while (ours.trySend(0x10, chunk)) {
      // fill the queue
    }
    return ours.status().linkBufferedBytes > 0 && (ours as unknown as { writeStalledSinceMs?: number }).writeStalledSinceMs !== undefined;
  }, 5000, 'our writes to stall');
}

describe('keep-alive and a wall clock that steps', () => {
  it('does not cut a peer that reads when the clock steps forward during a moment of backpressure, and still cuts one that stays stalled', async () => {
    const clock = new SteppingClock();
    const { ours, theirs, errors } = await pair(clock);
    theirs.conn.pause();
    await stall(ours);
    clock.offsetMs += 60 * 60 * 1000; // an hour, in an instant
    clock.pingTick();
    // Before: cut at once, "Peer read nothing we sent for 3600000 ms".
    expect(errors).toEqual([]);
    expect(ours.state).toBe('open');
    // The peer reads again: the stall ends, and the connection lives on.
    theirs.conn.resume();
    await waitFor(() => ours.status().linkBufferedBytes === 0, 5000, 'our writes to drain');
    clock.pingTick();
    expect(ours.state).toBe('open');
    // A real non-reader is still cut: a stall seen at one tick and still there, long enough, at the next.
    theirs.conn.pause();
    await stall(ours);
    clock.pingTick();
    expect(ours.state).toBe('open');
    clock.offsetMs += PING_INTERVAL_MS + PONG_TIMEOUT_MS;
    clock.pingTick();
    await waitFor(() => ours.state === 'closed', 2000, 'the non-reader to be cut');
    expect((errors[0] as TimeoutError).code).toBe('ERR_PONG_TIMEOUT');
    theirs.conn.destroy();
  });

  it('cuts a peer that has read nothing for three ping ticks even when the wall clock stepped back meanwhile', async () => {
    const clock = new SteppingClock();
    const { ours, theirs, errors } = await pair(clock);
    theirs.conn.pause();
    await stall(ours);
    clock.pingTick();
    clock.offsetMs -= 60 * 60 * 1000; // an hour back: by the wall clock, the stall has not begun yet
    clock.pingTick();
    expect(ours.state).toBe('open');
    clock.pingTick();
    // Before: spared until the wall clock caught up (an hour) while its queues stayed full.
    await waitFor(() => ours.state === 'closed', 2000, 'the non-reader to be cut');
    expect((errors[0] as TimeoutError).code).toBe('ERR_PONG_TIMEOUT');
    theirs.conn.destroy();
  });
});

describe('the round trip of a ping across a wall-clock step', () => {
  it('is measured on monotonic time: a one-hour step back between ping and pong is no negative RTT (before: -3600000 ms in status)', () => {
    let wall = Date.now();
    let tick: (() => void) | undefined;
    const clock: Clock = { ...systemClock, now: () => wall, setInterval: (callback) => ((tick = callback), { tick } as unknown as TimerHandle), clearInterval: () => undefined };
    const keepAlive = new KeepAlive({ isOpen: true, queuePing: () => undefined, writeStalledSinceMs: undefined, destroy: () => undefined }, clock, PING_INTERVAL_MS, PONG_TIMEOUT_MS);
    keepAlive.start();
    tick!();
    wall -= 3_600_000;
    keepAlive.onPong();
    keepAlive.stop();
    expect(keepAlive.lastRttMs).toBeGreaterThanOrEqual(0);
    expect(keepAlive.lastRttMs).toBeLessThan(1000);
  });
});

describe('a connection\'s uptime across a wall-clock step', () => {
  it('counts on monotonic time: a one-hour step back or forward does not bend it (before: -3600000 ms, then +3600000 ms, in status)', async () => {
    const open: Endpoint[] = [];
    const [ours] = memoryPair(CHANNELS, open);
    await new Promise((resolve) => setTimeout(resolve, 50));
    wallClock.step(-3_600_000);
    const afterStepBack = ours.conn.status().uptimeMs;
    wallClock.step(7_200_000);
    const afterStepForward = ours.conn.status().uptimeMs;
    for (const end of open) end.conn.destroy();
    for (const uptimeMs of [afterStepBack, afterStepForward]) {
      expect(uptimeMs).toBeGreaterThanOrEqual(40);
      expect(uptimeMs).toBeLessThan(5000);
    }
  });
});
