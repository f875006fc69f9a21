/**
 * NatManager: keeps the node's listening ports mapped on the local gateway, over whichever
 * PortMapper the platform supplies. Its options live in nat-manager-config.ts, what it reports in
 * nat-events.ts, and each port's map/renew state machine in port-lease.ts; this file is the
 * lifecycle, the scheduling and the external address.
 */
import { ClosedError, ConfigError, toError } from '../errors.js';
import { isNodeId } from '../transport/address.js';
import { delay, sharedAbortController, withDeadline } from '../util/abort.js';
import { MAX_TIMER_DELAY_MS, monotonicNow, systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { TypedEventTarget } from '../util/events.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import { classifyExternalIp } from './ip.js';
import { resolveNatManagerConfig, type NatManagerConfig, type NatManagerOptions } from './nat-manager-config.js';
import { errorWarningFields, failureReasonOf, type NatManagerEvents, type NatMapping } from './nat-events.js';
import { externalAddressOf, selectMappablePorts, type NatPort } from './nat-ports.js';
import { PortLease } from './port-lease.js';
import { GatewayBudgetError, type GatewayRequestBudget, type Mapping, type NatCallOptions, type PortMapper } from './port-mapper.js';

const MS_PER_MINUTE = 60 * 1000;

export type NatManagerState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Keeps the node's listening ports mapped on the local gateway and says which addresses to advertise.
 *
 * Lifecycle: idle --start()--> running --stop()--> stopping --> stopped. start() makes a first attempt
 * and resolves with the addresses it obtained (possibly none: failures become `warning` events, never
 * rejections). While running, each mapping is renewed at half its lease, and whatever failed is tried
 * again every retryIntervalMs. stop() removes the mappings this manager made (only those: the
 * mapper checks each entry still forwards to us), closes the mapper and clears every timer.
 *
 * Timers are unref'd where the platform allows: a NatManager alone never keeps a Node process alive.
 * Not re-entrant across instances on one mapper: give each NatManager its own PortMapper.
 */
export class NatManager extends TypedEventTarget<NatManagerEvents> {
  readonly config: Readonly<NatManagerConfig>;
  private readonly mapper: PortMapper;
  private readonly nodeId: string;
  private readonly leases: PortLease[];
  /** Listeners bound to loopback: warned about at start(), never mapped. */
  private readonly skipped: NatPort[];
  private stateValue: NatManagerState = 'idle';
  private externalIpValue: string | undefined;
  private timer: TimerHandle | undefined;
  private readonly clock: Clock;
  private cycle: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private mapsInFlight = 0;
  private lastAddresses: string[] = [];
  private readonly controller = sharedAbortController();
  /** Requests the gateway may still be sent (each SOAP call, each datagram): DEFAULT_MAX_GATEWAY_REQUESTS_PER_MINUTE's bucket. */
  private readonly requests: TokenBucketState;

  constructor(options: NatManagerOptions) {
    super();
    const { mapper, nodeId, ports, clock, ...rest } = options;
    this.clock = clock ?? systemClock;
    this.config = Object.freeze(resolveNatManagerConfig(rest));
    if (mapper === undefined || mapper === null) throw new ConfigError('ERR_INVALID_CONFIG', 'NatManager needs a PortMapper');
    if (!isNodeId(nodeId)) throw new ConfigError('ERR_INVALID_CONFIG', 'NatManager needs the node id (40 lower-case hex)');
    this.mapper = mapper;
    this.nodeId = nodeId;
    const { mappable, loopback } = selectMappablePorts(ports);
    this.leases = mappable.map((spec) => new PortLease(spec));
    this.skipped = loopback;
    this.requests = fullBucket(this.config.maxGatewayRequestsPerMinute, this.monotonicMs());
  }

  get state(): NatManagerState {
    return this.stateValue;
  }

  /** The gateway's external address, once a usable one was obtained. */
  get externalIp(): string | undefined {
    return this.externalIpValue;
  }

  /** Addresses reachable from outside through the gateway: `tcp://<id>@<externalIp>:<externalPort>`; none unless running. */
  advertisedAddresses(): string[] {
    // once stop() began, the mappings are being withdrawn: advertise nothing
    if (this.stateValue !== 'running' || this.externalIpValue === undefined) return [];
    return this.mappings().map((m) => m.address);
  }

  /** The live mappings (lease not run out). */
  mappings(): NatMapping[] {
    const now = this.monotonicMs();
    const live: NatMapping[] = [];
    for (const lease of this.leases) {
      const mapping = lease.liveMapping(now);
      if (mapping !== undefined) live.push(mapping);
    }
    return live;
  }

  /**
   * Maps every port once and resolves with the advertised addresses (none when it failed: see the
   * `warning` events). Rejects only with ClosedError after stop(). Calling it again while running
   * waits for the attempt in progress.
   */
  async start(): Promise<string[]> {
    if (this.stateValue === 'stopping' || this.stateValue === 'stopped') throw new ClosedError('NatManager is stopped');
    if (this.stateValue === 'idle') {
      this.stateValue = 'running';
      for (const spec of this.skipped) {
        this.emit('warning', {
          reason: 'unmappable-listener',
          message: `Listener ${spec.host ?? ''}:${spec.port} is bound to loopback; a gateway can't forward to it`,
          retryInMs: undefined,
          port: spec.port,
          host: spec.host ?? '',
        });
      }
    }
    await this.runCycle();
    return this.advertisedAddresses();
  }

  /**
   * Removes this manager's mappings, closes the mapper, clears all timers. Never rejects: a removal
   * that fails becomes an `unmap-failed` warning (the mapping then lapses with its lease).
   * Idempotent; concurrent calls share one stop.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    const wasRunning = this.stateValue === 'running';
    this.stateValue = 'stopping';
    this.clearTimer();
    if (wasRunning) {
      // Let a mapping request in flight finish (bounded), so a port the gateway is granting right
      // now gets recorded and removed below rather than left open until its lease runs out.
      if (this.mapsInFlight > 0 && this.cycle !== undefined) {
        const pause = new AbortController();
        await Promise.race([this.cycle, delay(this.config.stopTimeoutMs, pause.signal, this.clock).catch(() => undefined)]);
        pause.abort();
      }
      this.controller.abort(new ClosedError('NatManager stopped'));
      await this.cycle?.catch(() => undefined);
      for (const lease of this.leases) {
        const mapping = lease.release();
        if (mapping !== undefined) await this.removeMapping(mapping);
      }
      this.externalIpValue = undefined;
      this.publishAddresses();
    }
    try {
      await this.mapper.close();
    } finally {
      this.stateValue = 'stopped';
    }
  }

  /** Removes one of our mappings from the gateway (bounded); a failure only warns. */
  private async removeMapping(mapping: NatMapping): Promise<void> {
    try {
      await withDeadline(
        (signal) =>
          this.mapper.unmap(
            {
              protocol: mapping.mapping.protocol,
              externalPort: mapping.externalPort,
              internalHost: mapping.mapping.internalHost,
              internalPort: mapping.internalPort,
            },
            { signal },
          ),
        { timeoutMs: this.config.stopTimeoutMs, what: 'Removing a port mapping', clock: this.clock },
      );
      this.emit('unmapped', { mapping, reason: 'stopped' });
    } catch (error) {
      this.emit('warning', {
        ...errorWarningFields(error, mapping.internalPort),
        reason: 'unmap-failed',
        message: `Could not remove mapping ${mapping.externalPort} -> ${mapping.internalPort}: ${toError(error).message}`,
        retryInMs: undefined,
      });
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private runCycle(): Promise<void> {
    if (this.cycle !== undefined) return this.cycle;
    this.clearTimer();
    const cycle = this.reconcile()
      .catch((error: unknown) => {
        // reconcile handles every expected failure itself; this is a last line of defence
        if (this.stateValue === 'running') {
          this.emit('warning', {
            ...errorWarningFields(error, undefined),
            reason: 'gateway-error',
            message: `NAT maintenance failed: ${toError(error).message}`,
            retryInMs: this.config.retryIntervalMs,
          });
          for (const lease of this.leases) lease.nextAttemptAt = Math.max(lease.nextAttemptAt, this.monotonicMs() + this.config.retryIntervalMs);
        }
      })
      .finally(() => {
        this.cycle = undefined;
        if (this.stateValue === 'running') this.schedule();
      });
    this.cycle = cycle;
    return cycle;
  }

  private schedule(): void {
    this.clearTimer();
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.leases) next = Math.min(next, lease.nextEventAt());
    if (next === Number.POSITIVE_INFINITY) return;
    // The next event can lie further ahead than a timer reaches: a gateway may grant any lease (NAT-PMP:
    // up to 2^32 - 1 s), and a longer delay fires after 1 ms, with a warning, again and again. A cycle
    // that finds nothing due just schedules the next one.
    const timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.stateValue === 'running') void this.runCycle();
    }, Math.min(MAX_TIMER_DELAY_MS, Math.max(0, next - this.monotonicMs())));
    (timer as { unref?: () => void }).unref?.();
    this.timer = timer;
  }

  /**
   * The time every schedule here runs on (the leases' attempts and expiries, the gateway's allowance):
   * it never steps, so a wall-clock step back does not put renewals off until the lease has run out.
   */
  private monotonicMs(): number {
    return monotonicNow(this.clock);
  }

  private isRunning(): boolean {
    return this.stateValue === 'running';
  }

  /** One pass: learn the external address, map or renew every port that is due, drop what lapsed. */
  private async reconcile(): Promise<void> {
    const signal = this.controller.signal;
    const started = this.monotonicMs();
    let due = this.leases.filter((lease) => lease.nextAttemptAt <= started);
    if (due.length > 0 && this.hasRequest(due)) {
      const previousIp = this.externalIpValue;
      const externalIp = await this.learnExternalIp(due, signal);
      if (externalIp !== undefined) {
        // A new external address changes every advertised address: refresh all mappings at once.
        if (previousIp !== undefined && previousIp !== externalIp) due = this.leases;
        for (const [index, lease] of due.entries()) {
          if (!this.isRunning()) return;
          if (!this.hasRequest(due.slice(index))) break;
          await this.mapPort(lease, externalIp, signal);
        }
      }
    }
    if (!this.isRunning()) return;
    this.dropExpired();
    this.publishAddresses();
  }

  /** The usable external address, or undefined after warning and scheduling a retry of `due`. */
  private async learnExternalIp(due: PortLease[], signal: AbortSignal): Promise<string | undefined> {
    let externalIp: string;
    try {
      externalIp = await this.spending(signal, (options) => this.mapper.externalIp(options));
    } catch (error) {
      if (!this.isRunning()) return undefined;
      const retryInMs = this.postponeAfterFailure(due, this.retryWaitAfter(error));
      const fields = errorWarningFields(error, undefined);
      const reason = failureReasonOf(error);
      const what = reason === 'no-gateway' ? `No ${this.mapper.kind === 'nat-pmp' ? 'NAT-PMP' : 'UPnP'} gateway found` : 'The gateway did not tell its external address';
      this.emit('warning', { ...fields, reason, message: `${what}: ${toError(error).message}`, retryInMs });
      return undefined;
    }
    if (!this.isRunning()) return undefined;
    const kind = classifyExternalIp(externalIp);
    if (kind === 'public' || (kind === 'private' && this.config.allowPrivateExternalIp)) {
      this.externalIpValue = externalIp.trim();
      return this.externalIpValue;
    }
    // Double NAT or a disconnected gateway: a mapping here would not make the node reachable.
    this.externalIpValue = undefined;
    const retryInMs = this.config.retryIntervalMs;
    for (const lease of due) lease.nextAttemptAt = this.monotonicMs() + retryInMs;
    if (kind === 'private') {
      this.emit('warning', {
        reason: 'private-external-ip',
        message: `The gateway's external address ${externalIp} is private: another NAT sits above it (double NAT); not advertising`,
        retryInMs,
        externalIp,
      });
    } else {
      this.emit('warning', {
        reason: 'no-external-ip',
        message: `The gateway reports ${kind === 'empty' ? 'no' : `an unusable (${JSON.stringify(externalIp.slice(0, 64))})`} external address: not connected, or behind another NAT`,
        retryInMs,
        externalIp,
      });
    }
    return undefined;
  }

  /**
   * Whether the gateway's allowance holds a request; when it doesn't, puts `waiting` off until it does
   * (they keep their mappings meanwhile, which lapse if the wait outlasts them) and returns false.
   */
  private hasRequest(waiting: readonly PortLease[]): boolean {
    if (this.refillRequests()) return true;
    const nextAt = this.monotonicMs() + Math.ceil((1 - this.requests.tokens) / this.requestsPerMs());
    for (const lease of waiting) lease.nextAttemptAt = Math.max(lease.nextAttemptAt, nextAt);
    return false;
  }

  private requestsPerMs(): number {
    return this.config.maxGatewayRequestsPerMinute / MS_PER_MINUTE;
  }

  private refillRequests(): boolean {
    return refillBucket(this.requests, this.config.maxGatewayRequestsPerMinute, this.requestsPerMs(), this.monotonicMs());
  }

  /**
   * Runs one mapper call with the gateway's allowance as its budget: the mapper spends a request per SOAP
   * call or datagram, so a map() that tries port after port pays for each. A mapper that never consults
   * the budget is charged one request for the call.
   */
  private async spending<T>(signal: AbortSignal, call: (options: NatCallOptions) => Promise<T>): Promise<T> {
    let spent = 0;
    const budget: GatewayRequestBudget = {
      take: () => {
        if (!this.refillRequests()) return false;
        this.requests.tokens -= 1;
        spent += 1;
        return true;
      },
    };
    try {
      return await call({ signal, budget });
    } finally {
      if (spent === 0) this.requests.tokens -= 1;
    }
  }

  /** The wait before trying again after `error`: until the allowance is whole again when it ran out, else retryIntervalMs. */
  private retryWaitAfter(error: unknown): number {
    if (!(error instanceof GatewayBudgetError)) return this.config.retryIntervalMs;
    this.refillRequests();
    return Math.max(1, Math.ceil((this.config.maxGatewayRequestsPerMinute - this.requests.tokens) / this.requestsPerMs()));
  }

  /** Schedules the next attempt for `leases` after a failure; returns the shortest wait, for the warning. */
  private postponeAfterFailure(leases: PortLease[], retryIntervalMs: number): number {
    const now = this.monotonicMs();
    let shortest = retryIntervalMs;
    for (const lease of leases) shortest = Math.min(shortest, lease.postpone(now, retryIntervalMs));
    return shortest;
  }

  private async mapPort(lease: PortLease, externalIp: string, signal: AbortSignal): Promise<void> {
    // Counted so that stop() knows to let the gateway's answer arrive before removing mappings.
    this.mapsInFlight += 1;
    let mapping: Mapping;
    try {
      const terms = { ttlSeconds: this.config.leaseSeconds, description: this.config.description };
      mapping = await this.spending(signal, (options) => lease.obtain(this.mapper, terms, options));
    } catch (error) {
      if (!this.isRunning()) return;
      this.emit('warning', lease.failed(error, this.monotonicMs(), this.retryWaitAfter(error)));
      return;
    } finally {
      this.mapsInFlight -= 1;
    }
    const address = externalAddressOf(lease.spec, this.nodeId, externalIp, mapping.externalPort);
    const mapped = lease.granted(mapping, externalIp, address, { monotonic: this.monotonicMs(), wall: this.clock.now() }, this.config.leaseSeconds, this.config.minRenewIntervalMs);
    // Stopped while the gateway answered: stop() removes it; don't announce it.
    if (this.isRunning()) this.emit('mapped', mapped);
  }

  private dropExpired(): void {
    const now = this.monotonicMs();
    for (const lease of this.leases) {
      const expired = lease.dropIfExpired(now);
      if (expired !== undefined) this.emit('unmapped', { mapping: expired, reason: 'expired' });
    }
  }

  private publishAddresses(): void {
    const addresses = this.advertisedAddresses();
    const same = addresses.length === this.lastAddresses.length && addresses.every((a, i) => a === this.lastAddresses[i]);
    if (same) return;
    this.lastAddresses = addresses;
    this.emit('addresses', { addresses: [...addresses] });
  }
}
