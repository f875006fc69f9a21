/**
 * A typed wrapper over the standard EventTarget, so that Node and browsers share one event model.
 * Listeners receive the event's `detail`; `on()` returns the function that removes the listener.
 * A listener that throws is reported through `reportListenerError` and never breaks the emitter.
 */
export class TypedEventTarget<Events extends Record<string, unknown>> extends EventTarget {
  on<K extends keyof Events & string>(type: K, listener: (detail: Events[K]) => void): () => void {
    const wrapped = (event: Event): void => {
      try {
        listener((event as CustomEvent<Events[K]>).detail);
      } catch (error) {
        this.reportListenerError(type, error);
      }
    };
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  /** Resolves with the next event of `type`; rejects when `signal` fires. */
  once<K extends keyof Events & string>(type: K, options: { signal?: AbortSignal } = {}): Promise<Events[K]> {
    return new Promise((resolve, reject) => {
      const off = this.on(type, (detail) => {
        off();
        options.signal?.removeEventListener('abort', onAbort);
        resolve(detail);
      });
      const onAbort = (): void => {
        off();
        reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
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
