/**
 * Runs `callback` once the current burst of synchronous work and promise continuations is done.
 * This is what lets a loop of `await conn.send(...)` fill one frame before anything is written:
 * a microtask would flush after every single message. Node has setImmediate; browsers get the
 * MessageChannel trick, which is not clamped to 4 ms like nested setTimeout.
 */
type Callback = () => void;

const nodeSetImmediate = (globalThis as { setImmediate?: (cb: Callback) => unknown }).setImmediate;

function createMessageChannelScheduler(): (cb: Callback) => void {
  const queue: Callback[] = [];
  const channel = new MessageChannel();
  channel.port1.onmessage = () => {
    const batch = queue.splice(0, queue.length);
    for (const cb of batch) cb();
  };
  return (cb) => {
    queue.push(cb);
    if (queue.length === 1) channel.port2.postMessage(null);
  };
}

export const scheduleAfterBurst: (cb: Callback) => void =
  nodeSetImmediate !== undefined
    ? (cb) => {
        nodeSetImmediate(cb);
      }
    : typeof MessageChannel !== 'undefined'
      ? createMessageChannelScheduler()
      : (cb) => {
          // Neither host facility exists: a host timer is all that is left (systemClock.afterBurst only;
          // a simulated clock keeps its own burst queue).
          setTimeout(cb, 0);
        };

const settled = Promise.resolve();

/**
 * Runs `callback` in a microtask, as queueMicrotask does, without the AsyncResource that Node wraps
 * around every queueMicrotask callback (a few percent of a simulation that delivers millions of
 * chunks over memory links). A callback that throws becomes an unhandled rejection, which Node, like
 * an uncaught exception, reports and exits on.
 */
export function runInMicrotask(callback: Callback): void {
  void settled.then(callback);
}
