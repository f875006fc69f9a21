/**
 * One listening port's lease on the gateway: the mapping held (if any), when to try next, and which
 * external port to ask for. NatManager decides when to act and what to announce; a PortLease knows
 * how to map or renew its port and what a success or failure means for its schedule.
 *
 * A NatManager runs at most one attempt per port at a time, and nothing else changes `current`
 * while an attempt is in flight (stop() waits for the attempt before releasing), so `current` read
 * after an attempt is still the mapping that attempt set out to renew.
 */
import { toError } from '../errors.js';
import { MIN_RENEW_RETRY_MS, RENEW_AT_LEASE_FRACTION } from './constants.js';
import { isWildcardHost } from './ip.js';
import { errorWarningFields, failureReasonOf, type NatManagerEvents, type NatMapping, type NatWarning } from './nat-events.js';
import type { NatPort } from './nat-ports.js';
import { UPNP_ERROR, hasUpnpCode, type Mapping, type MapRequest, type NatCallOptions, type PortMapper } from './port-mapper.js';

/**
 * Every `now` here, and `nextAttemptAt`, is on the manager clock's monotonicNow(), which never steps:
 * on the wall clock, a step back (NTP, a VM restored) put the renewal off for as long as the step, and
 * the gateway's lease ran out under an address we still advertised. `current`'s mappedAt and
 * expiresAt, which the events carry, stay on the wall clock.
 */
export class PortLease {
  readonly spec: NatPort;
  /** The mapping obtained last; it may have lapsed until the manager drops it (see dropIfExpired). */
  current: NatMapping | undefined = undefined;
  /** When `current`'s lease runs out, on the monotonic scale; undefined for none or a permanent one. */
  private expiresAtMonotonic: number | undefined = undefined;
  /** Next attempt to map or renew (monotonic ms); 0 = at the first opportunity. */
  nextAttemptAt = 0;
  /** External port asked for next time: the last one granted, else the internal one. */
  private preferredExternalPort: number;

  constructor(spec: NatPort) {
    this.spec = spec;
    this.preferredExternalPort = spec.port;
  }

  /** The mapping while its lease runs (a permanent one always), else undefined. */
  liveMapping(now: number): NatMapping | undefined {
    const current = this.current;
    return current !== undefined && (this.expiresAtMonotonic === undefined || this.expiresAtMonotonic > now) ? current : undefined;
  }

  /** When this port next needs the manager: its next attempt, or its lease running out if sooner. */
  nextEventAt(): number {
    const expiresAt = this.expiresAtMonotonic;
    return expiresAt === undefined ? this.nextAttemptAt : Math.min(this.nextAttemptAt, expiresAt);
  }

  /** How long to wait after a failure: a port with a live mapping retries before its lease runs out. */
  retryDelay(now: number, retryIntervalMs: number): number {
    const expiresAt = this.expiresAtMonotonic;
    if (expiresAt === undefined || expiresAt <= now) return retryIntervalMs;
    return Math.min(retryIntervalMs, Math.max(MIN_RENEW_RETRY_MS, (expiresAt - now) / 2));
  }

  /** Schedules the next attempt after a failure; returns the wait, in ms. */
  postpone(now: number, retryIntervalMs: number): number {
    const wait = this.retryDelay(now, retryIntervalMs);
    this.nextAttemptAt = now + wait;
    return wait;
  }

  /**
   * Asks the gateway for this port, or to renew the mapping held (exactly its external port).
   * Rejects with what the mapper rejected with; call failed() or granted() with the outcome.
   */
  async obtain(mapper: PortMapper, terms: Pick<MapRequest, 'ttlSeconds' | 'description'>, options: NatCallOptions): Promise<Mapping> {
    const previous = this.current;
    const request: MapRequest = {
      protocol: 'TCP',
      internalPort: this.spec.port,
      internalHost: this.spec.host !== undefined && !isWildcardHost(this.spec.host) ? this.spec.host : undefined,
      ttlSeconds: terms.ttlSeconds,
      description: terms.description,
    };
    if (previous !== undefined) {
      try {
        return await mapper.map({ ...request, externalPort: previous.externalPort, exactExternalPort: true }, options);
      } catch (error) {
        // Our lease lapsed and someone else took the port: map afresh, on another port if need be.
        if (!hasUpnpCode(error, UPNP_ERROR.ConflictInMappingEntry)) throw error;
        return await mapper.map({ ...request, externalPort: this.preferredExternalPort }, options);
      }
    }
    return await mapper.map({ ...request, externalPort: this.preferredExternalPort }, options);
  }

  /** Records a failed obtain(): schedules the retry; returns the warning to emit. */
  failed(error: unknown, now: number, retryIntervalMs: number): NatWarning {
    const previous = this.current;
    const retryInMs = this.postpone(now, retryIntervalMs);
    const fields = errorWarningFields(error, this.spec.port);
    if (previous !== undefined && this.expiresAtMonotonic !== undefined && this.expiresAtMonotonic > now) {
      return {
        ...fields,
        reason: 'renew-failed',
        message: `Could not renew mapping ${previous.externalPort} -> ${this.spec.port}: ${toError(error).message}`,
        retryInMs,
        expiresAt: previous.expiresAt,
      };
    }
    return {
      ...fields,
      reason: failureReasonOf(error),
      message: `Could not map port ${this.spec.port}: ${toError(error).message}`,
      retryInMs,
    };
  }

  /**
   * Records what the gateway granted (advertised as `address`) and schedules the renewal; returns the
   * `mapped` event. `leaseSeconds` is what was asked for, used to re-assert a permanent mapping;
   * `minRenewIntervalMs` the shortest wait before the renewal, whatever lease was granted.
   */
  granted(mapping: Mapping, externalIp: string, address: string, at: { monotonic: number; wall: number }, leaseSeconds: number, minRenewIntervalMs: number): NatManagerEvents['mapped'] {
    const now = at.monotonic;
    const previous = this.current;
    const ttlSeconds = mapping.ttlSeconds;
    const current: NatMapping = {
      transport: this.spec.transport,
      internalPort: this.spec.port,
      externalIp,
      externalPort: mapping.externalPort,
      address,
      ttlSeconds,
      mappedAt: at.wall,
      expiresAt: ttlSeconds > 0 ? at.wall + ttlSeconds * 1000 : undefined,
      mapping,
    };
    this.current = current;
    this.expiresAtMonotonic = ttlSeconds > 0 ? now + ttlSeconds * 1000 : undefined;
    this.preferredExternalPort = mapping.externalPort;
    // Permanent mappings are still re-asserted each lease period: it notices a rebooted gateway.
    // The gateway chooses the lease (NAT-PMP grants any number of seconds): one granting 1 s had us ask every
    // 0.5 s. A lease under twice the floor lapses before its renewal: dropIfExpired withdraws the address
    // when it runs out, and the renewal, a fresh mapping by then, comes at the floor's pace.
    const renewInMs = (ttlSeconds > 0 ? ttlSeconds : leaseSeconds) * 1000 * RENEW_AT_LEASE_FRACTION;
    this.nextAttemptAt = now + Math.max(minRenewIntervalMs, renewInMs);
    const renewed = previous !== undefined && previous.externalPort === mapping.externalPort && previous.externalIp === externalIp;
    return { mapping: current, renewed };
  }

  /** Forgets the mapping if its lease ran out; returns it so the manager can announce it. */
  dropIfExpired(now: number): NatMapping | undefined {
    const current = this.current;
    if (current === undefined || this.expiresAtMonotonic === undefined || this.expiresAtMonotonic > now) return undefined;
    this.current = undefined;
    this.expiresAtMonotonic = undefined;
    return current;
  }

  /** Forgets the mapping, live or not, and returns it for removal from the gateway (stop()). */
  release(): NatMapping | undefined {
    const current = this.current;
    this.current = undefined;
    this.expiresAtMonotonic = undefined;
    return current;
  }
}
