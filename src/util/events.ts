/**
 * A typed wrapper over the standard EventTarget, so that Node and browsers share one event model.
 * `addEventListener` listeners receive `CustomEvent<Detail>`; `on()` hands over the detail and returns
 * the function that removes the listener. A listener (either way) that throws or, async, rejects is
 * reported through `reportListenerError` and never breaks the emitter or the process.
 */
export type TypedListener<Detail> = (event: CustomEvent<Detail>) => void;

export class TypedEventTarget<Events extends object> extends EventTarget {
  override addEventListener<K extends keyof Events & string>(
    type: K,
    listener: TypedListener<Events[K]> | null,
    options?: AddEventListenerOptions | boolean,
  ): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void;
  override addEventListener(type: string, listener: unknown, options?: AddEventListenerOptions | boolean): void {
    super.addEventListener(type, this.guard(type, listener, options, true), options);
  }

  override removeEventListener<K extends keyof Events & string>(
    type: K,
    listener: TypedListener<Events[K]> | null,
    options?: EventListenerOptions | boolean,
  ): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void;
  override removeEventListener(type: string, listener: unknown, options?: EventListenerOptions | boolean): void {
    super.removeEventListener(type, this.guard(type, listener, options, false), options);
  }

  /**
   * Node turns a throw out of an EventTarget listener into an uncaught exception, which ends the
   * process: `node.addEventListener('peer:connected', (e) => e.detail.peer.trySend(…))` would die at the
   * first peer whose NodeInfo lacks the channel. So each listener runs inside a guard that reports
   * instead, one guard per listener, type and capture flag (as the EventTarget keys them), so that
   * adding it twice adds it once and removing it finds it.
   */
  private readonly guards = new WeakMap<object, Map<string, EventListener>>();

  private guard(type: string, listener: unknown, options: EventListenerOptions | boolean | undefined, create: boolean): EventListener | null {
    if (listener === null || (typeof listener !== 'function' && typeof listener !== 'object')) return listener as null;
    const key = `${(typeof options === 'boolean' ? options : options?.capture === true) ? 'capture' : 'bubble'}:${type}`;
    let byKey = this.guards.get(listener);
    let guard = byKey?.get(key);
    if (guard === undefined && create) {
      const original = listener as EventListenerOrEventListenerObject;
      guard = (event) => this.runGuarded(type, () => (typeof original === 'function' ? original.call(this, event) : original.handleEvent(event)));
      if (byKey === undefined) this.guards.set(listener, (byKey = new Map()));
      byKey.set(key, guard);
    }
    return guard ?? (listener as EventListener);
  }

  /** Runs a listener; its throw or (async) rejection goes to reportListenerError. */
  private runGuarded(type: string, run: () => unknown): void {
    try {
      const result = run();
      // An async listener's rejection (say `await peer.send(…)` in 'peer:connected', refused with a
      // SendError because the peer's NodeInfo lacks the channel) would be an unhandled rejection,
      // which ends a Node process: a peer could crash any app that greets its peers that way.
      if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.reportListenerError(type, error));
    } catch (error) {
      this.reportListenerError(type, error);
    }
  }

  on<K extends keyof Events & string>(type: K, listener: (detail: Events[K]) => void): () => void {
    const wrapped = (event: Event): void => this.runGuarded(type, () => listener((event as CustomEvent<Events[K]>).detail));
    super.addEventListener(type, wrapped);
    return () => super.removeEventListener(type, wrapped);
  }

  /** Resolves with the next event of `type`; rejects when `signal` fires. */
  once<K extends keyof Events & string>(type: K, options: { signal?: AbortSignal } = {}): Promise<Events[K]> {
    const aborted = (): Error => (options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    // A listener added to a signal that has fired never runs: the wait would last until the event.
    if (options.signal?.aborted === true) return Promise.reject(aborted());
    return new Promise((resolve, reject) => {
      const off = this.on(type, (detail) => {
        off();
        options.signal?.removeEventListener('abort', onAbort);
        resolve(detail);
      });
      const onAbort = (): void => {
        off();
        reject(aborted());
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  protected emit<K extends keyof Events & string>(type: K, detail: Events[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Override to log; the default keeps the error visible without crashing the emitter. */
  protected reportListenerError(type: string, error: unknown): void {
    queueMicrotask(() => {
      console.error(`meshlink: a '${type}' listener threw`, error);
    });
  }
}

/** True for what `await` would wait on (a listener or agent hook declared `void` may still be async). */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
