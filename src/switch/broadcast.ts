import { followAbort } from '../util/abort.js';
import { monotonicNow, type Clock, type TimerHandle } from '../util/clock.js';
import type { Peer } from './peer.js';

export interface BroadcastOptions {
  /** The longest a broadcast waits when no peer has room (default: the connection's send timeout). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Switch.broadcast: queues `message` for every peer in `peers` that has room now. Only when none had
 * room (we outrun them all) does it wait, and then for the others only as long again as the first to
 * make room took: a broadcast is paced by the peers that keep up, never by the slowest.
 *
 * Waiting for every peer's room let one key that stops reading pace every broadcast: an app awaiting
 * its broadcasts in a loop sent its honest peers one message per send timeout (10 s by default) for as
 * long as that peer stayed (for ever, reading a trickle; the keep-alive cuts only one reading nothing),
 * and keys are free. A peer whose queue is full while others take the message at once gets `false`
 * (not taken, as on a timeout): the price is that a slower honest peer misses what it cannot keep up
 * with, which a loop of `send`s to that peer alone gives it at its own pace.
 */
export async function broadcastTo(
  peers: readonly Peer[],
  channelId: number,
  message: Uint8Array,
  options: BroadcastOptions,
  clock: Clock,
): Promise<Map<string, boolean>> {
  const results = new Map<string, boolean>();
  // As `send` with a fired signal: nothing is taken.
  if (options.signal?.aborted) return new Map(peers.map((peer) => [peer.id, false]));
  const full: Peer[] = [];
  let anyTaken = false;
  for (const peer of peers) {
    let taken = false;
    try {
      taken = peer.trySend(channelId, message);
      if (!taken) full.push(peer);
    } catch {
      // It can never go to this peer (over its recvMessageCapacity): not taken, nothing to wait for.
    }
    anyTaken ||= taken;
    results.set(peer.id, taken);
  }
  if (anyTaken || full.length === 0) return results;

  const othersDone = new AbortController();
  const unfollow = options.signal === undefined ? undefined : followAbort(options.signal, othersDone);
  const sendOptions = { signal: othersDone.signal, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) };
  const startedMs = monotonicNow(clock);
  let graceTimer: TimerHandle | undefined;
  try {
    await Promise.all(
      full.map(async (peer) => {
        const taken = await peer.send(channelId, message, sendOptions).catch(() => false);
        results.set(peer.id, taken);
        if (taken && graceTimer === undefined && !othersDone.signal.aborted) {
          graceTimer = clock.setTimeout(() => othersDone.abort(), monotonicNow(clock) - startedMs);
        }
      }),
    );
  } finally {
    clock.clearTimeout(graceTimer);
    unfollow?.();
  }
  return results;
}
