import { ClosedError } from '../errors.js';

/**
 * One controller per handshake or dial in flight, all aborted when the Switch stops. (A single shared
 * stop signal would collect one listener per pending handshake: hundreds under load.) Holds only what
 * is in flight: each owner untracks its controller when done.
 */
export class InFlightControllers {
  private readonly controllers = new Set<AbortController>();

  /** A controller that `abortAll` aborts; already aborted when `stopped`. */
  track(stopped: boolean): AbortController {
    const controller = new AbortController();
    if (stopped) controller.abort(new ClosedError('Switch stopped'));
    else this.controllers.add(controller);
    return controller;
  }

  untrack(controller: AbortController): void {
    this.controllers.delete(controller);
  }

  abortAll(): void {
    for (const controller of this.controllers) controller.abort(new ClosedError('Switch stopped'));
    this.controllers.clear();
  }
}
