/**
 * SIMULATION ONLY: a transport that claims `tcp://` addresses but carries them over in-memory link
 * pairs, so simulated nodes have IPv4 addresses in distinct /16 groups and every group-based rule of
 * the SDK (address-book buckets, per-source quotas, per-host limits) applies to them as it would on
 * the internet. Latency and lost dials run on the simulator's clock; a partition (network split)
 * refuses dials across it and resets the links that cross it.
 */
import { AbortError, TransportError } from '../src/errors.js';
import { formatAddress, type PeerAddress } from '../src/transport/address.js';
import type { Link } from '../src/transport/link.js';
import { createMemoryLinkPair } from '../src/transport/memory.js';
import type { DialOptions, Listener, Transport } from '../src/transport/transport.js';
import type { Clock } from '../src/util/clock.js';

export interface SimInternetOptions {
  clock: Clock;
  random: () => number;
  /** One-way delay of every chunk and of the connect, in ms. */
  latencyMs: number;
  /** Probability that a dial is lost (it then hangs until the dialler's timeout). */
  lossRate: number;
}

interface LinkPair {
  readonly a: string;
  readonly b: string;
  readonly ends: readonly [Link, Link];
}

/** Ephemeral source ports handed out per host, from here up. */
const FIRST_EPHEMERAL_PORT = 40_000;
const LAST_EPHEMERAL_PORT = 65_535;
const MIN_PRUNE_AT = 1024;

export class SimInternet {
  private readonly listeners = new Map<string, (link: Link) => void>();
  private readonly nextPort = new Map<string, number>();
  /** Live links, so that a split can cut the ones that cross it. */
  private readonly links = new Set<LinkPair>();
  /** Hosts on the far side of a split (undefined: no split). */
  private partition: ((host: string) => number) | undefined;
  private pruneAt = MIN_PRUNE_AT;
  dials = 0;
  lostDials = 0;

  constructor(private readonly options: SimInternetOptions) {}

  /** The transport of the node at `host` (an IPv4 address). */
  transport(host: string): Transport {
    return new SimTransport(this, host);
  }

  /** Splits the network into sides (sideOf(host)); links across sides are reset, dials across refused. */
  split(sideOf: (host: string) => number): void {
    this.partition = sideOf;
    for (const pair of this.links) {
      if (sideOf(pair.a) !== sideOf(pair.b) && !pair.ends[0].closed) pair.ends[0].destroy(new TransportError('simulated network split'));
    }
  }

  heal(): void {
    this.partition = undefined;
  }

  /** @internal */
  listen(endpoint: string, accept: (link: Link) => void): void {
    if (this.listeners.has(endpoint)) throw new TransportError(`${endpoint} is in use`);
    this.listeners.set(endpoint, accept);
  }

  /** @internal */
  unlisten(endpoint: string): void {
    this.listeners.delete(endpoint);
  }

  /** @internal */
  async dial(fromHost: string, address: PeerAddress, options: DialOptions): Promise<Link> {
    const { clock, latencyMs, lossRate, random } = this.options;
    if (options.signal?.aborted) throw new AbortError();
    this.dials++;
    const target = `${address.host}:${address.port}`;
    const blocked = this.partition !== undefined && this.partition(fromHost) !== this.partition(address.host);
    const lost = lossRate > 0 && random() < lossRate;
    if (lost || blocked) {
      this.lostDials++;
      // Nothing answers: the dialler's own deadline (on the same clock) ends the wait.
      await new Promise<never>((_, reject) => {
        if (options.signal === undefined) return;
        options.signal.addEventListener('abort', () => reject(new AbortError()), { once: true });
      });
    }
    await new Promise<void>((resolve) => clock.setTimeout(resolve, latencyMs));
    if (options.signal?.aborted) throw new AbortError();
    const accept = this.listeners.get(target);
    if (accept === undefined) throw new TransportError(`simulated dial to ${formatAddress(address)} failed: connection refused`);
    const port = this.nextPort.get(fromHost) ?? FIRST_EPHEMERAL_PORT;
    this.nextPort.set(fromHost, port >= LAST_EPHEMERAL_PORT ? FIRST_EPHEMERAL_PORT : port + 1);
    // 'tcp' as the addresses say: a peer's inbound address is read as `<transport>://<id>@<host:port>`, and
    // as memory:// its host was not the host its NodeInfo claims, so every honest claim counted as hearsay.
    const ends = createMemoryLinkPair({ latencyMs, clock, names: [target, `${fromHost}:${port}`], transport: 'tcp' });
    this.links.add({ a: fromHost, b: address.host, ends });
    if (this.links.size >= this.pruneAt) this.pruneClosedLinks();
    accept(ends[1]);
    return ends[0];
  }

  /** Forgets closed links; runs when the set doubles, so it costs O(1) per dial on average. */
  private pruneClosedLinks(): void {
    for (const pair of this.links) if (pair.ends[0].closed && pair.ends[1].closed) this.links.delete(pair);
    this.pruneAt = Math.max(MIN_PRUNE_AT, 2 * this.links.size);
  }
}

class SimTransport implements Transport {
  readonly protocols = ['tcp'] as const;

  constructor(
    private readonly internet: SimInternet,
    private readonly host: string,
  ) {}

  dial(address: PeerAddress, options: DialOptions = {}): Promise<Link> {
    return this.internet.dial(this.host, address, options);
  }

  async listen(address: PeerAddress, onLink: (link: Link) => void): Promise<Listener> {
    const endpoint = `${this.host}:${address.port}`;
    this.internet.listen(endpoint, onLink);
    const internet = this.internet;
    return {
      addresses: [{ ...address, host: this.host, nodeId: undefined }],
      async close() {
        internet.unlisten(endpoint);
      },
    };
  }
}
