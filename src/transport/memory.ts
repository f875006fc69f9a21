import { AbortError, TransportError } from '../errors.js';
import { systemClock, type Clock } from '../util/clock.js';
import { runInMicrotask } from '../util/schedule.js';
import { formatAddress, type PeerAddress } from './address.js';
import type { Link, LinkHandlers } from './link.js';
import type { DialOptions, Listener, Transport } from './transport.js';

/**
 * An in-memory transport for unit tests and many-node simulations. Not a stand-in for a real
 * transport's own tests: it has no kernel buffers, no partial writes, no real latency.
 */

export const MEMORY_LINK_HIGH_WATER_MARK_BYTES = 256 * 1024;

export interface MemoryNetworkOptions {
  /** One-way delay applied to every chunk, in ms. @default 0 */
  latencyMs?: number;
  /** Probability (0..1) that a dial fails as if the packet were lost. @default 0 */
  dialLossRate?: number;
  /** Random source for loss, so simulations can be seeded. @default Math.random */
  random?: () => number;
  /** Per-link write high-water mark in bytes. @default 256 KiB */
  highWaterMarkBytes?: number;
  /** Runs the latency; a simulator passes its simulated clock. @default systemClock */
  clock?: Clock;
}

type Accept = (link: Link) => void;

/** A namespace of listeners; links connect only within one network. */
export class MemoryNetwork {
  readonly latencyMs: number;
  readonly dialLossRate: number;
  readonly random: () => number;
  readonly highWaterMarkBytes: number;
  readonly clock: Clock;
  private readonly listeners = new Map<string, Accept>();
  private nextPort = 1;

  constructor(options: MemoryNetworkOptions = {}) {
    this.latencyMs = options.latencyMs ?? 0;
    this.dialLossRate = options.dialLossRate ?? 0;
    this.random = options.random ?? Math.random;
    this.highWaterMarkBytes = options.highWaterMarkBytes ?? MEMORY_LINK_HIGH_WATER_MARK_BYTES;
    this.clock = options.clock ?? systemClock;
  }

  transport(): Transport {
    return new MemoryTransport(this);
  }

  /** @internal */
  register(name: string, accept: Accept): string {
    const bound = name === '' || name === '0' ? `auto-${this.nextPort++}` : name;
    if (this.listeners.has(bound)) throw new TransportError(`memory address "${bound}" is in use`);
    this.listeners.set(bound, accept);
    return bound;
  }

  /** @internal */
  unregister(name: string): void {
    this.listeners.delete(name);
  }

  /** @internal */
  lookup(name: string): Accept | undefined {
    return this.listeners.get(name);
  }
}

class MemoryTransport implements Transport {
  readonly protocols = ['memory'] as const;
  private dialCount = 0;
  constructor(private readonly network: MemoryNetwork) {}

  async dial(address: PeerAddress, options: DialOptions = {}): Promise<Link> {
    if (options.signal?.aborted) throw new AbortError();
    const network = this.network;
    const accept = network.lookup(address.host);
    if (network.latencyMs > 0) await new Promise((r) => network.clock.setTimeout(() => r(undefined), network.latencyMs));
    if (options.signal?.aborted) throw new AbortError();
    if (accept === undefined || network.random() < network.dialLossRate) {
      throw new TransportError(`memory dial to ${formatAddress(address)} failed: connection refused`, {
        detail: { address: formatAddress(address) },
      });
    }
    const [local, remote] = createMemoryLinkPair({
      latencyMs: network.latencyMs,
      highWaterMarkBytes: network.highWaterMarkBytes,
      names: [address.host, `dialer-${++this.dialCount}`],
      clock: network.clock,
    });
    accept(remote);
    return local;
  }

  async listen(address: PeerAddress, onLink: (link: Link) => void): Promise<Listener> {
    const bound = this.network.register(address.host, onLink);
    const network = this.network;
    return {
      addresses: [{ ...address, host: bound, nodeId: undefined }],
      async close() {
        network.unregister(bound);
      },
    };
  }
}

export interface MemoryLinkPairOptions {
  latencyMs?: number;
  highWaterMarkBytes?: number;
  /** remoteAddress as seen from [first, second]. */
  names?: [string, string];
  /** @default systemClock */
  clock?: Clock;
  /**
   * The links' `transport`, as peers report it. A simulation whose addresses say `tcp://` passes 'tcp': a
   * peer's inbound address is read as `<transport>://<id>@<remoteAddress>`. @default 'memory'
   */
  transport?: string;
}

/** Two connected in-memory Links. */
export function createMemoryLinkPair(options: MemoryLinkPairOptions = {}): [Link, Link] {
  const hwm = options.highWaterMarkBytes ?? MEMORY_LINK_HIGH_WATER_MARK_BYTES;
  const names = options.names ?? ['memory-b', 'memory-a'];
  const clock = options.clock ?? systemClock;
  const transport = options.transport ?? 'memory';
  const a = new MemoryLink(names[0], hwm, options.latencyMs ?? 0, clock, transport);
  const b = new MemoryLink(names[1], hwm, options.latencyMs ?? 0, clock, transport);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class MemoryLink implements Link {
  peer: MemoryLink | undefined;
  closed = false;
  private handlers: LinkHandlers | undefined;
  private readonly inbox: Uint8Array[] = [];
  private inboxBytes = 0;
  private paused = false;
  private delivering = false;
  /** Bytes we wrote that the peer has not yet consumed: our honest bufferedAmount. */
  private unconsumedBytes = 0;
  private needDrain = false;
  private ending = false;
  private failure: Error | undefined;

  constructor(
    readonly remoteAddress: string,
    private readonly highWaterMarkBytes: number,
    private readonly latencyMs: number,
    private readonly clock: Clock,
    readonly transport: string,
  ) {}

  get bufferedBytes(): number {
    return this.unconsumedBytes;
  }

  attach(handlers: LinkHandlers): void {
    if (this.closed) {
      // Closed before anyone listened: the contract still owes one onClose.
      queueMicrotask(() => handlers.onClose(this.failure));
      return;
    }
    this.handlers = handlers;
    this.scheduleDelivery();
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.ending || this.peer === undefined) return false;
    if (chunk.length === 0) return this.unconsumedBytes < this.highWaterMarkBytes;
    const copy = chunk.slice();
    this.unconsumedBytes += copy.length;
    const peer = this.peer;
    if (this.latencyMs > 0) this.clock.setTimeout(() => peer.enqueue(copy), this.latencyMs);
    else peer.enqueue(copy);
    if (this.unconsumedBytes >= this.highWaterMarkBytes) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.scheduleDelivery();
  }

  close(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    const peer = this.peer;
    const finish = (): void => {
      peer?.enqueueEnd();
      this.finish(undefined);
    };
    if (this.latencyMs > 0) this.clock.setTimeout(finish, this.latencyMs);
    else queueMicrotask(finish);
  }

  destroy(error?: Error): void {
    if (this.closed) return;
    const peer = this.peer;
    this.finish(error);
    // The other end sees a reset, as a TCP peer would.
    peer?.finish(new TransportError('memory link reset by peer'));
  }

  private enqueue(chunk: Uint8Array): void {
    if (this.closed) return;
    this.inbox.push(chunk);
    this.inboxBytes += chunk.length;
    this.scheduleDelivery();
  }

  private endReceived = false;
  private enqueueEnd(): void {
    this.endReceived = true;
    this.scheduleDelivery();
  }

  private scheduleDelivery(): void {
    if (this.delivering || this.closed) return;
    this.delivering = true;
    runInMicrotask(() => {
      this.delivering = false;
      this.deliver();
    });
  }

  private deliver(): void {
    while (!this.closed && !this.paused && this.handlers !== undefined && this.inbox.length > 0) {
      const chunk = this.inbox.shift()!;
      this.inboxBytes -= chunk.length;
      this.peer?.consumed(chunk.length);
      this.handlers.onData(chunk);
    }
    if (!this.closed && this.endReceived && this.inbox.length === 0 && this.handlers !== undefined) {
      this.finish(undefined);
    }
  }

  private consumed(bytes: number): void {
    this.unconsumedBytes -= bytes;
    if (this.needDrain && this.unconsumedBytes < this.highWaterMarkBytes / 2 && !this.closed) {
      this.needDrain = false;
      const handlers = this.handlers;
      queueMicrotask(() => {
        if (!this.closed) handlers?.onDrain();
      });
    }
  }

  private finish(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    this.inbox.length = 0;
    this.inboxBytes = 0;
    const handlers = this.handlers;
    this.handlers = undefined;
    handlers?.onClose(error);
  }
}
