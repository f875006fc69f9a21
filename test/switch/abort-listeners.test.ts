/**
 * Abort listeners (issue 13): every listener a dial hangs on a caller's signal is removed when the
 * dial ends, and the SDK's own shared signals (the stop deadline, one listener per peer) are marked as
 * shared, so Node never prints MaxListenersExceededWarning, which reads as a leak.
 */
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey } from '../../src/crypto/keys.js';
import { followAbort } from '../../src/util/abort.js';
import { startNode, stopAll } from '../helpers/nodes.js';

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
});
