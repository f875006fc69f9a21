import { AbortError, TimeoutError } from '../errors.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

/** Throws AbortError if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** The Error to throw for an aborted signal: its reason when that is a meaningful Error, else AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error && reason.name !== 'AbortError' ? reason : new AbortError();
}

/**
 * Runs `task` with a deadline and an optional caller signal. `task` receives a signal that fires on
 * either, so it can release what it holds (sockets, timers). Rejects with TimeoutError or AbortError.
 */
export async function withDeadline<T>(
  task: (signal: AbortSignal) => Promise<T>,
  options: { timeoutMs: number; signal?: AbortSignal | undefined; what: string; peerId?: string | undefined; clock?: Clock | undefined },
): Promise<T> {
  throwIfAborted(options.signal);
  const clock = options.clock ?? systemClock;
  const controller = new AbortController();
  let timer: TimerHandle | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => {
      const error = new TimeoutError(`${options.what} timed out after ${options.timeoutMs} ms`, {
        peerId: options.peerId,
        detail: { timeoutMs: options.timeoutMs },
      });
      controller.abort(error);
      reject(error);
    }, options.timeoutMs);
    onAbort = () => {
      const error = abortReason(options.signal!);
      controller.abort(error);
      reject(error);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  stopped.catch(() => undefined);
  try {
    return await Promise.race([task(controller.signal), stopped]);
  } finally {
    clock.clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * `promise`, or a rejection with `signal`'s reason (AbortError) as soon as it fires: for a caller
 * waiting on work it shares with others, which goes on for them. Keeps no listener once settled.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const done = whenAborted(signal, () => reject(abortReason(signal)));
    promise.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

/** Resolves after `ms`, or rejects with AbortError when `signal` fires first. */
export function delay(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `task` with a signal that fires when any of `signals` does (undefined ones are skipped). Unlike
 * AbortSignal.any, the signals keep nothing of the call once it settles (see followAbort): long-lived
 * signals shared by many calls, such as a port mapper's close signal, do not grow with them.
 */
export async function withAnySignal<T>(signals: readonly (AbortSignal | undefined)[], task: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const releases = signals.filter((signal): signal is AbortSignal => signal !== undefined).map((signal) => followAbort(signal, controller));
  try {
    return await task(controller.signal);
  } finally {
    for (const release of releases) release();
  }
}

interface Followers {
  readonly controllers: Set<AbortController>;
  readonly onAbort: () => void;
}

/** The controllers following each signal (see followAbort); an entry lives while one follows. */
const followersBySignal = new WeakMap<AbortSignal, Followers>();

/**
 * Aborts `controller` with `signal`'s reason when `signal` fires, until the returned function is
 * called. However many controllers follow one signal at a time, the signal carries one listener,
 * removed when the last of them stops following: a caller's long-lived signal shared by many
 * operations keeps nothing of those that ended (AbortSignal.any leaves an entry on it per call, which
 * Node 20 never prunes) and never trips MaxListenersExceededWarning.
 */
export function followAbort(signal: AbortSignal, controller: AbortController): () => void {
  if (signal.aborted) {
    controller.abort(signal.reason);
    return () => undefined;
  }
  let followers = followersBySignal.get(signal);
  if (followers === undefined) {
    const controllers = new Set<AbortController>();
    const onAbort = (): void => {
      followersBySignal.delete(signal);
      for (const follower of controllers) follower.abort(signal.reason);
    };
    followers = { controllers, onAbort };
    followersBySignal.set(signal, followers);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  const { controllers, onAbort } = followers;
  controllers.add(controller);
  return () => {
    if (!controllers.delete(controller) || controllers.size > 0) return;
    signal.removeEventListener('abort', onAbort);
    if (followersBySignal.get(signal)?.controllers === controllers) followersBySignal.delete(signal);
  };
}

/**
 * Calls `onAbort` once when `signal` fires, through followAbort: one caller signal shared by many
 * waits (sends to slow peers, dials) carries one listener, not one per wait. Returns the cancel.
 */
export function whenAborted(signal: AbortSignal, onAbort: () => void): () => void {
  const follower = new AbortController();
  follower.signal.addEventListener('abort', onAbort, { once: true });
  return followAbort(signal, follower);
}

type SetMaxListeners = (n: number, ...targets: EventTarget[]) => void;
/**
 * Node's events.setMaxListeners, reached without importing node:events (src stays isomorphic, and
 * the browser build refuses any "node:" module name, so the id is the bare 'events'):
 * `process.getBuiltinModule` exists from Node 20.16. Browsers have no listener warning to silence.
 */
const setMaxListeners = ((): SetMaxListeners | undefined => {
  const processLike = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const events = processLike?.getBuiltinModule?.('events') as { setMaxListeners?: SetMaxListeners } | undefined;
  return events?.setMaxListeners;
})();

/**
 * Marks one of the SDK's own long-lived signals as shared by design (one listener per peer, per
 * mapping, …), so Node does not print MaxListenersExceededWarning for it. Never used on a caller's
 * signal: every listener we add to those is removed when its operation ends.
 */
export function allowManyAbortListeners<T extends AbortSignal>(signal: T): T {
  setMaxListeners?.(0, signal);
  return signal;
}

/** An AbortController whose signal is one of the SDK's shared, long-lived ones (see above). */
export function sharedAbortController(): AbortController {
  const controller = new AbortController();
  allowManyAbortListeners(controller.signal);
  return controller;
}
