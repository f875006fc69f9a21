import { AbortError, ClosedError, ConfigError, isOwnDialLimit, NotRunningError, PeerRejectedError, toError } from '../errors.js';
import { formatAddress, parseAddress } from '../transport/address.js';
import { abortReason, followAbort, raceAbort, whenAborted, withDeadline } from '../util/abort.js';
import { monotonicNow, type TimerHandle } from '../util/clock.js';
import { backoffDelayMs } from './backoff.js';
import { RECONNECT_DUPLICATE_MIN_ATTEMPT, RECONNECT_STABLE_AFTER_MS } from './constants.js';
import type { Peer } from './peer.js';
import type { Switch } from './switch.js';

export interface DialOptions {
  signal?: AbortSignal;
  /** Keep this peer connected: redial after any disconnect, with backoff. @default false */
  persistent?: boolean;
  /**
   * Dial an address without a node id (`tcp://host:port`) and accept whichever node answers there:
   * the handshake still authenticates and encrypts, but nothing checks WHO it is, so anyone on the path
   * can stand in. Without this, such an address is refused with ConfigError ERR_NO_PEER_ID.
   * @default false
   */
  allowUnknownId?: boolean;
  /**
   * A feeler: a short probe that the caller closes as soon as it is up (PEX tests addresses with it).
   * It may take one outbound slot beyond maxOutbound, so that a node at its target can still probe.
   * @default false
   */
  feeler?: boolean;
}

/**
 * A dial in flight, shared by every caller dialling the same peer meanwhile. It is abandoned only when
 * every caller gave up (each one's signal fired) and none dials without a signal: one caller's abort
 * must not fail the others' wait (a persistent peer's redial took such an AbortError as a stop, and
 * was never redialled), and a caller's signal must end its own wait at once.
 */
class SharedDial {
  /** Callers whose signal has not fired; Infinity once one dials without a signal. */
  private waiting = 0;

  constructor(
    /** The address being dialled (canonical). */
    readonly address: string,
    /** Aborts the dial: fired when the last caller gave up. */
    private readonly controller: AbortController,
    readonly promise: Promise<Peer>,
  ) {}

  /** The caller's view of the dial: rejects with AbortError when `signal` fires. */
  join(signal: AbortSignal | undefined): Promise<Peer> {
    if (signal === undefined) {
      this.waiting = Number.POSITIVE_INFINITY;
      return this.promise;
    }
    if (signal.aborted) return Promise.reject(abortReason(signal));
    // Through followAbort: callers pass one long-lived signal to many dials at once, and it must carry
    // one listener, not one per dial.
    this.waiting += 1;
    let gaveUp!: () => void;
    const givenUp = new Promise<never>((_, reject) => {
      gaveUp = () => {
        this.waiting -= 1;
        if (this.waiting === 0) this.controller.abort(signal.reason);
        reject(abortReason(signal));
      };
    });
    givenUp.catch(() => undefined);
    const unfollow = whenAborted(signal, gaveUp);
    this.promise.then(unfollow, unfollow);
    return Promise.race([this.promise, givenUp]);
  }
}

interface PersistentState {
  address: string;
  attempt: number;
  /** Connections in a row that lasted under RECONNECT_STABLE_AFTER_MS (a flapping peer's count). */
  shortLived: number;
  timer: TimerHandle | undefined;
}

/**
 * Outbound connections for a Switch: one dial per peer id at a time, self and ban checks before any
 * socket is opened, and redialling of persistent peers with exponential backoff and jitter.
 */
export class Dialer {
  private readonly inFlight = new Map<string, SharedDial>();
  private readonly persistent = new Map<string, PersistentState>();
  private stopped = false;

  constructor(private readonly sw: Switch) {}

  get dialingCount(): number {
    return this.inFlight.size;
  }

  pendingDialTo(peerId: string): Promise<Peer> | undefined {
    return this.inFlight.get(peerId)?.promise;
  }

  isPersistent(peerId: string): boolean {
    return this.persistent.has(peerId);
  }

  /** Keeps `address` connected from now on: dials it (after a jitter) and redials after failures. */
  addPersistent(address: string): void {
    const parsed = parseAddress(address);
    if (parsed.nodeId === undefined) throw new ConfigError('ERR_INVALID_ADDRESS', `Persistent peer ${address} needs a node id`);
    if (this.persistent.has(parsed.nodeId)) return;
    const state: PersistentState = { address: formatAddress(parsed), attempt: 0, shortLived: 0, timer: undefined };
    this.persistent.set(parsed.nodeId, state);
    if (this.sw.getPeer(parsed.nodeId) === undefined) this.schedule(parsed.nodeId, state, 0);
  }

  dial(address: string, options: DialOptions): Promise<Peer> {
    let parsed;
    try {
      parsed = parseAddress(address);
    } catch (error) {
      return Promise.reject(error);
    }
    const text = formatAddress(parsed);
    const peerId = parsed.nodeId;
    if (this.stopped || !this.sw.isRunning) return Promise.reject(this.sw.notRunningError());
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    if (peerId === undefined && options.allowUnknownId !== true) {
      return Promise.reject(
        new ConfigError('ERR_NO_PEER_ID', `${text} names no node id, so nothing would check who answers: dial <protocol>://<nodeId>@host…, or pass { allowUnknownId: true } to accept any node there`, {
          detail: { address: text },
        }),
      );
    }
    if (peerId === this.sw.nodeId || this.sw.isOwnAddress(parsed)) {
      return Promise.reject(new PeerRejectedError('ERR_SELF_CONNECTION', `Refusing to dial ourselves (${text})`));
    }
    if (this.sw.bans.isBanned(text)) return Promise.reject(new PeerRejectedError('ERR_BANNED', `${text} is banned`, { peerId }));
    if (options.persistent === true && peerId !== undefined && !this.persistent.has(peerId)) {
      this.persistent.set(peerId, { address: text, attempt: 0, shortLived: 0, timer: undefined });
    }
    if (peerId !== undefined) {
      const existing = this.sw.getPeer(peerId);
      if (existing !== undefined) return Promise.resolve(existing);
      const pending = this.inFlight.get(peerId);
      if (pending !== undefined) return pending.address === text ? pending.join(options.signal) : this.dialAfter(pending, address, options);
      // Its own connection to us is past admission: a second one now would race it, and each end
      // could keep a different one. That peer is about to be connected: answer with it.
      if (this.sw.isAdmitting(peerId)) {
        return raceAbort(this.connectedAnyway(peerId, new PeerRejectedError('ERR_DUPLICATE_PEER', `${peerId} is connecting to us right now`, { peerId })), options.signal);
      }
    }
    const persistent = peerId !== undefined && this.persistent.has(peerId);
    const outboundLimit = this.sw.options.maxOutbound + (options.feeler === true ? 1 : 0);
    if (!persistent && this.sw.peerCounts().outbound + this.inFlight.size >= outboundLimit) {
      return Promise.reject(new PeerRejectedError('ERR_PEER_LIMIT', `Outbound limit ${this.sw.options.maxOutbound} reached`, { peerId }));
    }
    const callers = new AbortController();
    const attempt = this.connect(text, peerId, persistent, callers.signal).catch((error: unknown) => this.connectedAnyway(peerId, error));
    const shared = new SharedDial(text, callers, attempt);
    if (peerId !== undefined) {
      this.inFlight.set(peerId, shared);
      const forget = (): void => {
        if (this.inFlight.get(peerId) === shared) this.inFlight.delete(peerId);
      };
      attempt.then(forget, (error: unknown) => {
        forget();
        // A persistent peer whose dial failed (the app's first `persistent: true` dial, or anyone's) is
        // redialled: only its timer's own dials used to be, so a peer that was down at the first dial was
        // never dialled again, and later addPersistent calls found it already listed. The redial timer's
        // own dial may end up here too: redialAfter schedules once, whoever calls it first.
        // Only a dial of the address we keep the peer at: another one (a made-up address PEX heard for
        // that id) failing says nothing of it, and must not back the peer's redials off.
        const state = this.persistent.get(peerId);
        if (state !== undefined && state.address === text) this.redialAfter(peerId, state, error);
      });
    }
    return shared.join(options.signal);
  }

  /**
   * The node is being dialled at another address (one dial per node id at a time, or both ends could
   * keep a different connection): wait for that dial, and when it fails, dial ours. Anyone may tell PEX
   * a made-up address for a node id, and a silent host there failed every dial of the real one that
   * came meanwhile (a persistent peer's redial, the app's dial) with that dial's timeout.
   */
  private async dialAfter(other: SharedDial, address: string, options: DialOptions): Promise<Peer> {
    try {
      return await other.join(options.signal);
    } catch (error) {
      if (options.signal?.aborted === true) throw error;
      return this.dial(address, options);
    }
  }

  /**
   * A dial refused as a duplicate (ERR_DUPLICATE_PEER) lost a simultaneous dial: the peer's own
   * connection to us won, so the dial answers with that Peer once it is set up (bounded by its
   * handshake deadline). Any other failure, or a duplicate with no connection from that peer, stands.
   */
  private async connectedAnyway(peerId: string | undefined, error: unknown): Promise<Peer> {
    if (peerId === undefined || !(error instanceof PeerRejectedError) || error.code !== 'ERR_DUPLICATE_PEER') throw error;
    await this.sw.admissionOf(peerId);
    const peer = this.sw.getPeer(peerId);
    if (peer === undefined) throw error;
    return peer;
  }

  private async connect(address: string, peerId: string | undefined, persistent: boolean, signal: AbortSignal | undefined): Promise<Peer> {
    const parsed = parseAddress(address);
    const transport = this.sw.transportFor(parsed);
    const stop = this.sw.trackInFlight();
    // Not AbortSignal.any: callers pass one long-lived signal to all their dials, and it would keep an
    // entry for every dial ever made with it.
    const unfollow = signal === undefined ? undefined : followAbort(signal, stop);
    try {
      const link = await withDeadline((deadline) => transport.dial(parsed, { signal: deadline }), {
        timeoutMs: this.sw.options.dialTimeoutMs,
        signal: stop.signal,
        what: `Dial to ${address}`,
        peerId,
        clock: this.sw.options.clock,
      });
      const memory = this.sw.meterLink(link);
      const upgraded = await this.sw.upgradeOutbound(link, peerId, stop.signal);
      if (this.stopped) {
        upgraded.link.destroy(new ClosedError('Switch stopped'));
        throw new ClosedError('Switch stopped');
      }
      return this.sw.addPeer(upgraded, 'outbound', address, link.transport, persistent, memory);
    } finally {
      unfollow?.();
      this.sw.untrackInFlight(stop);
    }
  }

  /** A peer disconnected: persistent ones are redialled, sooner after a connection that lasted. */
  onPeerGone(peer: Peer): void {
    const state = this.persistent.get(peer.id);
    if (state === undefined || this.stopped) return;
    // Monotonic: a wall-clock step forward made a flapping peer's short connection look stable (backoff reset).
    const lastedMs = monotonicNow(this.sw.options.clock) - peer.connectedAtMonotonic;
    // The failed dials before this connection were an outage, which it ended: what counts now is how
    // many connections in a row were short (else a peer back from an outage, restarting once more,
    // waited the longest backoff). A peer that accepts and hangs up still backs off by its own count.
    state.shortLived = lastedMs >= RECONNECT_STABLE_AFTER_MS ? 0 : state.shortLived + 1;
    state.attempt = state.shortLived;
    this.schedule(peer.id, state, backoffDelayMs(state.attempt, this.sw.options.reconnect, this.sw.options.random));
  }

  private schedule(peerId: string, state: PersistentState, delayMs: number): void {
    if (this.stopped || state.timer !== undefined) return;
    state.timer = this.sw.options.clock.setTimeout(() => {
      state.timer = undefined;
      if (this.stopped || this.sw.getPeer(peerId) !== undefined) return;
      // Success does not start the backoff over: the connection must last (see onPeerGone). A failure
      // before any attempt was made (a ban, the outbound limit) is handled here; an attempt's own
      // failure has already been, by dial() (redialAfter is then a no-op: the timer is set).
      this.dial(state.address, {}).then(undefined, (error: unknown) => this.redialAfter(peerId, state, error));
    }, delayMs);
  }

  /**
   * A dial of a persistent peer failed: try again after the backoff (not after a stop or an abort).
   * Once per failure: a second report of it finds the redial already scheduled and does nothing.
   */
  private redialAfter(peerId: string, state: PersistentState, error: unknown): void {
    const failure = toError(error);
    if (this.stopped || failure instanceof AbortError || failure instanceof ClosedError || failure instanceof NotRunningError) return;
    if (this.sw.getPeer(peerId) !== undefined || state.timer !== undefined) return;
    // Refused by our own transport's limits (peers' made-up addresses can use them up): not the peer's
    // failure, so its backoff does not grow (it waited up to a minute more once they recovered).
    // Refused as a duplicate (connectedAnyway found no connection of the peer's own): the peer answered
    // and holds an old connection of ours; each refusal doubled the wait, so we came back up to a minute
    // after it let that go. Not a tight loop either: such a redial waits a floor (see the constant).
    const duplicate = failure instanceof PeerRejectedError && failure.code === 'ERR_DUPLICATE_PEER';
    if (!isOwnDialLimit(failure) && !duplicate) state.attempt += 1;
    const attempt = duplicate ? Math.max(state.attempt, RECONNECT_DUPLICATE_MIN_ATTEMPT) : state.attempt;
    const retryIn = backoffDelayMs(attempt, this.sw.options.reconnect, this.sw.options.random);
    this.sw.emitDialFailed(state.address, failure, true);
    this.schedule(peerId, state, retryIn);
  }

  stop(): void {
    this.stopped = true;
    for (const state of this.persistent.values()) {
      this.sw.options.clock.clearTimeout(state.timer);
      state.timer = undefined;
    }
  }
}
