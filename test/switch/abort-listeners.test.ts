/**
 * Abort listeners (issue 13): every listener a dial hangs on a caller's signal is removed when the
 * dial ends, and the SDK's own shared signals (the stop deadline, one listener per peer) are marked as
 * shared, so Node never prints MaxListenersExceededWarning, which reads as a leak.
 */
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { followAbort, withAnySignal } from '../../src/util/abort.js';
import { startNode, stopAll } from '../helpers/nodes.js';
import { waitFor } from '../helpers/wait.js';

afterEach(stopAll);

/** Collects process warnings from now until `stop()`. */
function recordWarnings(): { warnings: Error[]; stop: () => void } {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning);
  process.on('warning', onWarning);
  return { warnings, stop: () => void process.off('warning', onWarning) };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

describe('abort listeners', () => {
  it('1,000 dials with one caller signal, 100 at a time, leave no listener behind and no warning', { timeout: 120_000 }, async () => {
    const target = await startNode();
    const dialer = await startNode({ maxOutbound: 2000 });
    const controller = new AbortController();
    const baseline = getEventListeners(controller.signal, 'abort').length;
    const recorder = recordWarnings();
    // A port nobody listens on (bound and closed): each dial fails fast, after hanging its listeners.
    const closed = await startNode();
    const closedPort = closed.address.split(':').pop()!;
    await closed.sw.stop();
    let failures = 0;
    for (let batch = 0; batch < 10; batch++) {
      const dials = Array.from({ length: 100 }, () =>
        dialer.sw.dial(`tcp://${generateNodeKey().nodeId}@127.0.0.1:${closedPort}`, { signal: controller.signal }).catch(() => void failures++),
      );
      await Promise.all(dials);
    }
    expect(failures).toBe(1000);
    // And dials that succeed: each connects, then is disconnected.
    for (let i = 0; i < 20; i++) {
      const peer = await dialer.sw.dial(target.address, { signal: controller.signal });
      await dialer.sw.disconnect(peer);
    }
    await settle();
    recorder.stop();
    expect(getEventListeners(controller.signal, 'abort').length).toBe(baseline);
    expect(dialer.sw.peerCounts().dialing).toBe(0);
    expect(recorder.warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('withAnySignal: the task sees either signal fire, with its reason; once settled (resolved or rejected) the signals carry nothing of it', async () => {
    const caller = new AbortController();
    const closing = new AbortController();
    for (let i = 0; i < 100; i++) {
      await withAnySignal([caller.signal, undefined, closing.signal], async (signal) => {
        expect(getEventListeners(closing.signal, 'abort')).toHaveLength(1);
        return signal.aborted;
      });
      await expect(withAnySignal([caller.signal, closing.signal], () => Promise.reject(new Error('gateway said no')))).rejects.toThrow('gateway said no');
    }
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(closing.signal, 'abort')).toHaveLength(0);
    const reason = new Error('mapper closed');
    const seen = withAnySignal([caller.signal, closing.signal], (signal) => new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason))));
    closing.abort(reason);
    expect(await seen).toBe(reason);
  });

  it('followAbort: one listener on the followed signal however many follow it, every follower aborted with its reason, nothing left once they stop', () => {
    const source = new AbortController();
    const followers = Array.from({ length: 50 }, () => new AbortController());
    const unfollows = followers.map((follower) => followAbort(source.signal, follower));
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(1);
    unfollows.slice(10).forEach((unfollow) => unfollow());
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(1);
    const reason = new Error('caller gave up');
    source.abort(reason);
    expect(followers.slice(0, 10).every((follower) => follower.signal.reason === reason)).toBe(true);
    expect(followers.slice(10).some((follower) => follower.signal.aborted)).toBe(false);
    unfollows.slice(0, 10).forEach((unfollow) => unfollow());

    const longLived = new AbortController();
    for (let i = 0; i < 100; i++) followAbort(longLived.signal, new AbortController())();
    expect(getEventListeners(longLived.signal, 'abort')).toHaveLength(0);
    const late = new AbortController();
    followAbort(source.signal, late)();
    expect(late.signal.reason).toBe(reason);
  });

  it('stop() with 30 peers shares one deadline signal among them without a warning', { timeout: 60_000 }, async () => {
    const hub = await startNode({ maxInbound: 100 });
    const spokes = await Promise.all(Array.from({ length: 30 }, () => startNode()));
    await Promise.all(spokes.map((spoke) => spoke.sw.dial(hub.address)));
    expect(hub.sw.peers).toHaveLength(30);
    const recorder = recordWarnings();
    await hub.sw.stop();
    await settle();
    recorder.stop();
    expect(recorder.warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('40 sends waiting for room with one caller signal (a broadcast to slow peers) leave one listener on it, none after, and no warning', async () => {
    const reader = await startNode();
    const writer = await startNode({ channels: [{ id: 0x20, priority: 1, sendQueueCapacity: 1, recvMessageCapacity: 64 * 1024 }] });
    const peer = await writer.sw.dial(reader.address);
    await waitFor(() => reader.sw.getPeer(writer.sw.nodeId) !== undefined, 3000, 'the reader to see the writer');
    reader.sw.getPeer(writer.sw.nodeId)!.connection.pause(); // its queue to the reader fills and stays full
    const controller = new AbortController();
    const baseline = getEventListeners(controller.signal, 'abort').length;
    const recorder = recordWarnings();
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, getEventListeners(controller.signal, 'abort').length - baseline)), 5);
    const sends = Array.from({ length: 40 }, () => peer.send(0x20, new Uint8Array(60 * 1024), { signal: controller.signal, timeoutMs: 1000 }).catch(() => false));
    most = Math.max(most, getEventListeners(controller.signal, 'abort').length - baseline);
    await new Promise((resolve) => setTimeout(resolve, 200));
    clearInterval(sampler);
    // Before: one listener per waiting send (up to 40), and MaxListenersExceededWarning past ten.
    expect(most).toBeLessThanOrEqual(1);
    controller.abort();
    await Promise.all(sends);
    await settle();
    recorder.stop();
    expect(getEventListeners(controller.signal, 'abort').length).toBe(baseline);
    expect(recorder.warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
