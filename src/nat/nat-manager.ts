import { ClosedError, ConfigError, toError } from '../errors.js';
import { formatAddress, isNodeId, parseAddress, type PeerAddress } from '../transport/address.js';
import { delay, withDeadline } from '../util/abort.js';
import {
  DEFAULT_LEASE_SECONDS,
  DEFAULT_MAPPING_DESCRIPTION,
  DEFAULT_RETRY_INTERVAL_MS,
  DEFAULT_STOP_TIMEOUT_MS,
  MAX_LEASE_SECONDS,
  MAX_PORT,
  MIN_RENEW_RETRY_MS,
  RENEW_AT_LEASE_FRACTION,
} from './constants.js';
import { classifyExternalIp, isLoopbackHost, isWildcardHost } from './ip.js';
import { NatError, UPNP_ERROR, UpnpError, hasUpnpCode, type Mapping, type MapRequest, type PortMapper } from './port-mapper.js';
import { TypedEventTarget } from '../util/events.js';

/** Transports whose listening ports a NatManager maps (all TCP underneath). */
export type NatTransport = 'tcp' | 'ws' | 'wss';

/** One listening port of the node. */
export interface NatPort {
  transport: NatTransport;
  /** The bound port (not 0). */
  port: number;
  /** The bound host; wildcard or undefined = the address facing the gateway. Loopback can't be mapped. */
  host?: string | undefined;
  /** Path of a ws/wss listener, kept in the advertised address. @default '/' */
  path?: string | undefined;
}

export interface NatManagerOptions {
  /** How ports get opened; the NatManager owns it from now on and closes it on stop(). */
  mapper: PortMapper;
  /** This node's id (40 hex), put in advertised addresses. */
  nodeId: string;
  /** The node's listening ports; see natPortsFromListenAddresses(). */
  ports: readonly NatPort[];
  /** Lease asked for each mapping, in seconds; renewed at half of it. @default 3600 (1 h) */
  leaseSeconds?: number;
  /** Delay before trying again after a failure, in ms. @default 300_000 (5 min) */
  retryIntervalMs?: number;
  /** Label of the mappings in the gateway's table. @default 'meshlink' */
  description?: string;
  /** Advertise a private external address (lab setups, carrier networks that route 100.64/10). @default false */
  allowPrivateExternalIp?: boolean;
  /** stop() waits this long for a mapping in flight and for each removal, in ms. @default 5000 */
  stopTimeoutMs?: number;
}

export interface NatManagerConfig {
  leaseSeconds: number;
  retryIntervalMs: number;
  description: string;
  allowPrivateExternalIp: boolean;
  stopTimeoutMs: number;
}

export const DEFAULT_NAT_MANAGER_CONFIG: Readonly<NatManagerConfig> = Object.freeze({
  leaseSeconds: DEFAULT_LEASE_SECONDS,
  retryIntervalMs: DEFAULT_RETRY_INTERVAL_MS,
  description: DEFAULT_MAPPING_DESCRIPTION,
  allowPrivateExternalIp: false,
  stopTimeoutMs: DEFAULT_STOP_TIMEOUT_MS,
});

/** Merges options over DEFAULT_NAT_MANAGER_CONFIG; throws ConfigError('ERR_INVALID_CONFIG') on nonsense. */
export function resolveNatManagerConfig(options: Partial<NatManagerConfig> = {}): NatManagerConfig {
  const config: NatManagerConfig = { ...DEFAULT_NAT_MANAGER_CONFIG };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  }
  const bad = (why: string): never => {
    throw new ConfigError('ERR_INVALID_CONFIG', `Invalid NatManager config: ${why}`, { detail: { ...config } });
  };
  if (!Number.isInteger(config.leaseSeconds) || config.leaseSeconds < 1 || config.leaseSeconds > MAX_LEASE_SECONDS) {
    bad(`leaseSeconds must be an integer in 1..${MAX_LEASE_SECONDS}`);
  }
  if (!(config.retryIntervalMs > 0) || !Number.isFinite(config.retryIntervalMs)) bad('retryIntervalMs must be > 0');
  if (!(config.stopTimeoutMs > 0) || !Number.isFinite(config.stopTimeoutMs)) bad('stopTimeoutMs must be > 0');
  if (typeof config.description !== 'string' || config.description.length === 0 || config.description.length > 256) {
    bad('description must be 1..256 characters');
  }
  return config;
}

/** A port the NatManager holds open on the gateway. */
export interface NatMapping {
  readonly transport: NatTransport;
  readonly internalPort: number;
  readonly externalIp: string;
  readonly externalPort: number;
  /** What to advertise: `tcp://<id>@<externalIp>:<externalPort>` (ws/wss keep their path). */
  readonly address: string;
  /** Lease granted in seconds; 0 = permanent (a gateway that only supports those). */
  readonly ttlSeconds: number;
  /** When the gateway granted or last renewed it (ms since epoch). */
  readonly mappedAt: number;
  /** When the lease runs out unless renewed (ms since epoch); undefined for permanent mappings. */
  readonly expiresAt: number | undefined;
  /** The mapper's record (internal host, description...). */
  readonly mapping: Mapping;
}

export type NatWarningReason = NatWarning['reason'];

interface WarningBase {
  /** One line for humans; branch on `reason`. */
  message: string;
  /** When the failed step will be tried again (ms from now); undefined when it won't be. */
  retryInMs: number | undefined;
}

interface ErrorWarningBase extends WarningBase {
  error: Error;
  /** The UPnP error code the gateway sent (606, 718, ...), when it sent one. */
  upnpCode: number | undefined;
  upnpDescription: string | undefined;
  /** The internal port concerned; undefined when the failure concerns the gateway as a whole. */
  port: number | undefined;
}

/**
 * Why the node is not (or no longer) reachable through the gateway. The node keeps running on its
 * local addresses whatever the reason; retryInMs says when the manager tries again.
 */
export type NatWarning =
  /** Discovery found no gateway in time. */
  | (ErrorWarningBase & { reason: 'no-gateway' })
  /** The gateway refused (UPnP error code in upnpCode: 606 not authorized, 718 conflict, 728 no ports...). */
  | (ErrorWarningBase & { reason: 'refused' })
  /** The gateway was found but did not answer properly (network, HTTP, timeout). */
  | (ErrorWarningBase & { reason: 'gateway-error' })
  /** A mapping could not be renewed; it stays advertised until expiresAt. */
  | (ErrorWarningBase & { reason: 'renew-failed'; expiresAt: number | undefined })
  /** stop() could not remove a mapping; it lapses with its lease. */
  | (ErrorWarningBase & { reason: 'unmap-failed' })
  /** The gateway's external address is private or shared (double NAT, CGNAT): mapping here won't help. */
  | (WarningBase & { reason: 'private-external-ip'; externalIp: string })
  /** The gateway reports no (or an unusable) external address: not connected, or double NAT. */
  | (WarningBase & { reason: 'no-external-ip'; externalIp: string })
  /** A listener bound to loopback can't be reached through any gateway; it is skipped. */
  | (WarningBase & { reason: 'unmappable-listener'; port: number; host: string });

export interface NatManagerEvents {
  /** A port was mapped (renewed: false) or its lease renewed (renewed: true). */
  mapped: { mapping: NatMapping; renewed: boolean };
  /** A mapping is gone: removed by stop(), or lapsed after failed renewals. */
  unmapped: { mapping: NatMapping; reason: 'stopped' | 'expired' };
  /** The set of advertised addresses changed. */
  addresses: { addresses: string[] };
  warning: NatWarning;
}

export type NatManagerState = 'idle' | 'running' | 'stopping' | 'stopped';

interface PortState {
  readonly spec: NatPort;
  current: NatMapping | undefined;
  /** Next attempt to map or renew (ms since epoch). */
  nextAttemptAt: number;
  /** External port asked for next time: the last one granted, else the internal one. */
  preferredExternalPort: number;
}

/** Turns listen addresses (`tcp://0.0.0.0:26656`, `ws://...:8080/p2p`) into NatPorts; skips the rest. */
export function natPortsFromListenAddresses(addresses: ReadonlyArray<PeerAddress | string>): NatPort[] {
  const ports: NatPort[] = [];
  for (const item of addresses) {
    const address = typeof item === 'string' ? parseAddress(item) : item;
    if (address.protocol !== 'tcp' && address.protocol !== 'ws' && address.protocol !== 'wss') continue;
    if (address.port === 0) continue;
    ports.push({ transport: address.protocol, port: address.port, host: address.host, path: address.path || undefined });
  }
  return ports;
}

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
  private readonly ports: PortState[];
  private readonly skipped: NatPort[] = [];
  private stateValue: NatManagerState = 'idle';
  private externalIpValue: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private cycle: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private mapsInFlight = 0;
  private lastAddresses: string[] = [];
  private readonly controller = new AbortController();

  constructor(options: NatManagerOptions) {
    super();
    const { mapper, nodeId, ports, ...rest } = options;
    this.config = Object.freeze(resolveNatManagerConfig(rest));
    if (mapper === undefined || mapper === null) throw new ConfigError('ERR_INVALID_CONFIG', 'NatManager needs a PortMapper');
    if (!isNodeId(nodeId)) throw new ConfigError('ERR_INVALID_CONFIG', 'NatManager needs the node id (40 lower-case hex)');
    this.mapper = mapper;
    this.nodeId = nodeId;
    this.ports = [];
    const seen = new Set<number>();
    for (const spec of ports) {
      if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > MAX_PORT) {
        throw new ConfigError('ERR_INVALID_CONFIG', `NatManager: bad listening port ${String(spec.port)}`);
      }
      if (spec.transport !== 'tcp' && spec.transport !== 'ws' && spec.transport !== 'wss') {
        throw new ConfigError('ERR_INVALID_CONFIG', `NatManager: transport must be tcp, ws or wss, not ${String(spec.transport)}`);
      }
      if (spec.host !== undefined && isLoopbackHost(spec.host)) {
        this.skipped.push(spec);
        continue;
      }
      // one TCP port is one mapping, whichever transports share it
      if (seen.has(spec.port)) continue;
      seen.add(spec.port);
      this.ports.push({ spec, current: undefined, nextAttemptAt: 0, preferredExternalPort: spec.port });
    }
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
    const now = Date.now();
    const live: NatMapping[] = [];
    for (const port of this.ports) {
      const current = port.current;
      if (current !== undefined && (current.expiresAt === undefined || current.expiresAt > now)) live.push(current);
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
        await Promise.race([this.cycle, delay(this.config.stopTimeoutMs, pause.signal).catch(() => undefined)]);
        pause.abort();
      }
      this.controller.abort(new ClosedError('NatManager stopped'));
      await this.cycle?.catch(() => undefined);
      for (const port of this.ports) {
        const current = port.current;
        if (current === undefined) continue;
        port.current = undefined;
        try {
          await withDeadline(
            (signal) =>
              this.mapper.unmap(
                {
                  protocol: current.mapping.protocol,
                  externalPort: current.externalPort,
                  internalHost: current.mapping.internalHost,
                  internalPort: current.internalPort,
                },
                { signal },
              ),
            { timeoutMs: this.config.stopTimeoutMs, what: 'Removing a port mapping' },
          );
          this.emit('unmapped', { mapping: current, reason: 'stopped' });
        } catch (error) {
          this.emit('warning', {
            ...errorFields(error, current.internalPort),
            reason: 'unmap-failed',
            message: `Could not remove mapping ${current.externalPort} -> ${current.internalPort}: ${toError(error).message}`,
            retryInMs: undefined,
          });
        }
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

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
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
            ...errorFields(error, undefined),
            reason: 'gateway-error',
            message: `NAT maintenance failed: ${toError(error).message}`,
            retryInMs: this.config.retryIntervalMs,
          });
          for (const port of this.ports) port.nextAttemptAt = Math.max(port.nextAttemptAt, Date.now() + this.config.retryIntervalMs);
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
    for (const port of this.ports) {
      next = Math.min(next, port.nextAttemptAt);
      if (port.current?.expiresAt !== undefined) next = Math.min(next, port.current.expiresAt);
    }
    if (next === Number.POSITIVE_INFINITY) return;
    const timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stateValue === 'running') void this.runCycle();
    }, Math.max(0, next - Date.now()));
    (timer as { unref?: () => void }).unref?.();
    this.timer = timer;
  }

  private isRunning(): boolean {
    return this.stateValue === 'running';
  }

  /** One pass: learn the external address, map or renew every port that is due, drop what lapsed. */
  private async reconcile(): Promise<void> {
    const signal = this.controller.signal;
    const started = Date.now();
    let due = this.ports.filter((port) => port.nextAttemptAt <= started);
    if (due.length > 0) {
      const previousIp = this.externalIpValue;
      const externalIp = await this.learnExternalIp(due, signal);
      if (externalIp !== undefined) {
        // A new external address changes every advertised address: refresh all mappings at once.
        if (previousIp !== undefined && previousIp !== externalIp) due = this.ports;
        for (const port of due) {
          if (!this.isRunning()) return;
          await this.mapPort(port, externalIp, signal);
        }
      }
    }
    if (!this.isRunning()) return;
    this.dropExpired();
    this.publishAddresses();
  }

  /** The usable external address, or undefined after warning and scheduling a retry of `due`. */
  private async learnExternalIp(due: PortState[], signal: AbortSignal): Promise<string | undefined> {
    let externalIp: string;
    try {
      externalIp = await this.mapper.externalIp({ signal });
    } catch (error) {
      if (!this.isRunning()) return undefined;
      const retryInMs = this.postponeAfterFailure(due);
      const fields = errorFields(error, undefined);
      const reason = error instanceof NatError ? error.reason : 'gateway-error';
      const what = reason === 'no-gateway' ? 'No UPnP gateway found' : 'The gateway did not tell its external address';
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
    for (const port of due) port.nextAttemptAt = Date.now() + retryInMs;
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

  /** Schedules the next attempt for `ports` after a failure; returns the shortest wait, for the warning. */
  private postponeAfterFailure(ports: PortState[]): number {
    const now = Date.now();
    let shortest = this.config.retryIntervalMs;
    for (const port of ports) {
      const wait = this.retryDelay(port, now);
      port.nextAttemptAt = now + wait;
      shortest = Math.min(shortest, wait);
    }
    return shortest;
  }

  /** A port with a live mapping retries before its lease runs out; others wait retryIntervalMs. */
  private retryDelay(port: PortState, now: number): number {
    const expiresAt = port.current?.expiresAt;
    if (expiresAt === undefined || expiresAt <= now) return this.config.retryIntervalMs;
    return Math.min(this.config.retryIntervalMs, Math.max(MIN_RENEW_RETRY_MS, (expiresAt - now) / 2));
  }

  private async mapPort(port: PortState, externalIp: string, signal: AbortSignal): Promise<void> {
    const previous = port.current;
    const request: MapRequest = {
      protocol: 'TCP',
      internalPort: port.spec.port,
      internalHost: port.spec.host !== undefined && !isWildcardHost(port.spec.host) ? port.spec.host : undefined,
      ttlSeconds: this.config.leaseSeconds,
      description: this.config.description,
    };
    this.mapsInFlight += 1;
    let mapping: Mapping;
    try {
      if (previous !== undefined) {
        try {
          mapping = await this.mapper.map({ ...request, externalPort: previous.externalPort, exactExternalPort: true }, { signal });
        } catch (error) {
          // Our lease lapsed and someone else took the port: map afresh, on another port if need be.
          if (!hasUpnpCode(error, UPNP_ERROR.ConflictInMappingEntry)) throw error;
          mapping = await this.mapper.map({ ...request, externalPort: port.preferredExternalPort }, { signal });
        }
      } else {
        mapping = await this.mapper.map({ ...request, externalPort: port.preferredExternalPort }, { signal });
      }
    } catch (error) {
      if (!this.isRunning()) return;
      const now = Date.now();
      const retryInMs = this.retryDelay(port, now);
      port.nextAttemptAt = now + retryInMs;
      const fields = errorFields(error, port.spec.port);
      if (previous !== undefined && previous.expiresAt !== undefined && previous.expiresAt > now) {
        this.emit('warning', {
          ...fields,
          reason: 'renew-failed',
          message: `Could not renew mapping ${previous.externalPort} -> ${port.spec.port}: ${toError(error).message}`,
          retryInMs,
          expiresAt: previous.expiresAt,
        });
      } else {
        const reason = error instanceof NatError ? error.reason : 'gateway-error';
        this.emit('warning', {
          ...fields,
          reason,
          message: `Could not map port ${port.spec.port}: ${toError(error).message}`,
          retryInMs,
        });
      }
      return;
    } finally {
      this.mapsInFlight -= 1;
    }
    const now = Date.now();
    const ttlSeconds = mapping.ttlSeconds;
    const current: NatMapping = {
      transport: port.spec.transport,
      internalPort: port.spec.port,
      externalIp,
      externalPort: mapping.externalPort,
      address: this.formatExternalAddress(port.spec, externalIp, mapping.externalPort),
      ttlSeconds,
      mappedAt: now,
      expiresAt: ttlSeconds > 0 ? now + ttlSeconds * 1000 : undefined,
      mapping,
    };
    port.current = current;
    port.preferredExternalPort = mapping.externalPort;
    // Permanent mappings are still re-asserted each lease period: it notices a rebooted gateway.
    port.nextAttemptAt = now + (ttlSeconds > 0 ? ttlSeconds : this.config.leaseSeconds) * 1000 * RENEW_AT_LEASE_FRACTION;
    const renewed = previous !== undefined && previous.externalPort === mapping.externalPort && previous.externalIp === externalIp;
    // Stopped while the gateway answered: stop() removes it; don't announce it.
    if (this.isRunning()) this.emit('mapped', { mapping: current, renewed });
  }

  private dropExpired(): void {
    const now = Date.now();
    for (const port of this.ports) {
      const current = port.current;
      if (current?.expiresAt !== undefined && current.expiresAt <= now) {
        port.current = undefined;
        this.emit('unmapped', { mapping: current, reason: 'expired' });
      }
    }
  }

  private publishAddresses(): void {
    const addresses = this.advertisedAddresses();
    const same = addresses.length === this.lastAddresses.length && addresses.every((a, i) => a === this.lastAddresses[i]);
    if (same) return;
    this.lastAddresses = addresses;
    this.emit('addresses', { addresses: [...addresses] });
  }

  private formatExternalAddress(spec: NatPort, externalIp: string, externalPort: number): string {
    return formatAddress({
      protocol: spec.transport,
      nodeId: this.nodeId,
      host: externalIp,
      port: externalPort,
      path: spec.transport === 'tcp' ? '' : (spec.path ?? '/'),
      params: {},
    });
  }
}

function errorFields(error: unknown, port: number | undefined): { error: Error; upnpCode: number | undefined; upnpDescription: string | undefined; port: number | undefined } {
  return {
    error: toError(error),
    upnpCode: error instanceof UpnpError ? error.upnpCode : undefined,
    upnpDescription: error instanceof UpnpError ? error.upnpDescription : undefined,
    port,
  };
}
