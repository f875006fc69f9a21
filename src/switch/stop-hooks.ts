import { ConfigError, toError } from '../errors.js';
import { withDeadline } from '../util/abort.js';
import type { Clock } from '../util/clock.js';
import { MAX_STOP_HOOKS } from './constants.js';

/**
 * Cleanup that `Switch.stop()` runs last: `signal` fires when the hook's time (the Switch's
 * stopTimeoutMs) is up, so a hook that waits on I/O can give up.
 */
export type StopHook = (signal: AbortSignal) => void | Promise<void>;

/**
 * Cleanup a Switch owes to resources that live exactly as long as the node (a lock on its home, a file
 * handle) but are no agent: they take no channel and hear of no peer.
 */
export class StopHooks {
  private readonly hooks = new Map<string, StopHook>();

  add(name: string, hook: StopHook): void {
    if (typeof hook !== 'function') throw new ConfigError('ERR_INVALID_ARGUMENT', `Stop hook "${name}" is not a function`);
    if (this.hooks.has(name)) throw new ConfigError('ERR_INVALID_CONFIG', `A stop hook named "${name}" is already added`);
    if (this.hooks.size >= MAX_STOP_HOOKS) throw new ConfigError('ERR_INVALID_CONFIG', `At most ${MAX_STOP_HOOKS} stop hooks`);
    this.hooks.set(name, hook);
  }

  /**
   * Runs every hook once, the last added first (as `DisposableStack` does: what was set up later may
   * rely on what came before), each awaited for at most `timeoutMs`. A hook that throws, rejects or
   * overruns is reported through `onError` (a TimeoutError for an overrun), and the next one still runs.
   */
  async runAll(options: { timeoutMs: number; clock: Clock; onError: (hook: string, error: Error) => void }): Promise<void> {
    const hooks = [...this.hooks].reverse();
    this.hooks.clear();
    for (const [name, hook] of hooks) {
      try {
        await withDeadline(async (signal) => hook(signal), { timeoutMs: options.timeoutMs, clock: options.clock, what: `Stop hook "${name}"` });
      } catch (error) {
        options.onError(name, toError(error));
      }
    }
  }
}
