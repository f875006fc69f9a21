/**
 * A typed wrapper over the standard EventTarget, so that Node and browsers share one event model.
 * `addEventListener` listeners receive `CustomEvent<Detail>`; `on()` hands over the detail and returns
 * the function that removes the listener. An `on()` listener that throws (or, async, rejects) is reported
 * through `reportListenerError` and never breaks the emitter.
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
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  override removeEventListener<K extends keyof Events & string>(
    type: K,
    listener: TypedListener<Events[K]> | null,
    options?: EventListenerOptions | boolean,
  ): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void;
  override removeEventListener(type: string, listener: unknown, options?: EventListenerOptions | boolean): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  on<K extends keyof Events & string>(type: K, listener: (detail: Events[K]) => void): () => void {
    const wrapped = (event: Event): void => {
      try {
        const result: unknown = listener((event as CustomEvent<Events[K]>).detail);
        // An async listener's rejection (say `await peer.send(…)` in 'peer:connected', refused with a
        // SendError because the peer's NodeInfo lacks the channel) would be an unhandled rejection,
        // which ends a Node process: a peer could crash any app that greets its peers that way.
        if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.reportListenerError(type, error));
      } catch (error) {
        this.reportListenerError(type, error);
      }
    };
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
