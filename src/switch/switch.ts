import { ConfigError, MeshlinkError, NotRunningError, PeerRejectedError, toError } from '../errors.js';
import type { PeerAddress } from '../transport/address.js';
import type { Link } from '../transport/link.js';
import type { Transport } from '../transport/transport.js';
import { sharedAbortController, withDeadline } from '../util/abort.js';
import { TypedEventTarget } from '../util/events.js';
import { monotonicNow } from '../util/clock.js';
import type { BudgetAccount } from '../util/budget-account.js';
import { MemoryBudget } from '../util/memory-budget.js';
import { Acceptor } from './acceptor.js';
import type { Agent } from './agent.js';
import { AgentRegistry } from './agent-registry.js';
import { BanList } from './ban-list.js';
import { broadcastTo, type BroadcastOptions } from './broadcast.js';
import { peerMemoryBudgetBytes, resolveSwitchOptions, type ResolvedSwitchOptions, type SwitchOptions } from './config.js';
import { DEFAULT_BAN_DURATION_MS, MAX_BAN_ENTRIES } from './constants.js';
import { Dialer, type DialOptions } from './dialer.js';
import { InFlightControllers } from './in-flight.js';
import type { Envelope } from './inbox.js';
import { ListenAddresses } from './listen-addresses.js';
import { Router } from './router.js';
import { localNodeInfo, type NodeInfo } from './node-info.js';
import type { Peer } from './peer.js';
import { PeerRegistry } from './peer-registry.js';
import { StopHooks, type StopHook } from './stop-hooks.js';
import type { SwitchEvents, SwitchStatus } from './switch-events.js';
import { switchUpgradeOptions, upgradeLink, type Direction, type UpgradedLink, type UpgradeOptions } from './upgrade.js';

export type { SwitchEvents, SwitchStatus } from './switch-events.js';
export type { DialOptions } from './dialer.js';

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * The Switch owns every peer of a node: it listens and dials through the transports, upgrades each
 * link (secure handshake, NodeInfo, admission), keeps at most one connection per peer, enforces limits
 * and bans, routes messages to the agent that owns the channel, and tells agents when peers come and go.
 */
export class Switch extends TypedEventTarget<SwitchEvents> {
  readonly options: ResolvedSwitchOptions;
  readonly nodeId: string;
  readonly bans: BanList;
  private state: State = 'new';
  /** The one run of start(), shared by concurrent callers and by dials made while it runs. */
  private startRun: Promise<void> | undefined;
  private readonly agents: AgentRegistry;
  private readonly router: Router;
  private readonly peerRegistry: PeerRegistry;
  private readonly listenAddresses: ListenAddresses;
  private readonly dialer: Dialer;
  private readonly acceptor: Acceptor;
  private readonly stopHooks = new StopHooks();
  private readonly inFlight = new InFlightControllers();
  /** What every connection holds on its peer's behalf, capped at peerMemoryBudgetBytes together. */
  private readonly memory: MemoryBudget;

  constructor(options: SwitchOptions) {
    super();
    this.options = resolveSwitchOptions(options);
    this.nodeId = this.options.identity.nodeId;
    this.memory = new MemoryBudget(peerMemoryBudgetBytes(this.options, 0), () => monotonicNow(this.options.clock));
    this.listenAddresses = new ListenAddresses(this.nodeId);
    this.bans = new BanList(() => monotonicNow(this.options.clock), MAX_BAN_ENTRIES, () => this.options.clock.now());
    this.agents = new AgentRegistry((agent, error) => this.emit('agent:error', { agent, error }));
    this.dialer = new Dialer(this);
    this.acceptor = new Acceptor(this, this.dialer);
    this.router = new Router(
      this.options.inboxCapacity,
      this.options.inboxCapacityBytes,
      (agent, error, suppressed) => this.emit('agent:error', { agent, error, ...(suppressed === undefined ? {} : { suppressed }) }),
      () => this.options.clock.now(),
    );
    this.peerRegistry = new PeerRegistry({
      options: this.options,
      router: this.router,
      agents: this.agents,
      emit: (type, detail) => this.emit(type, detail),
      stopPeerForError: (peer, error) => this.stopPeerForError(peer, error),
      onPeerGone: (peer) => {
        if (this.state === 'running') this.dialer.onPeerGone(peer);
      },
    });
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** Registers an agent under a unique name. Only before start(). */
  addAgent(name: string, agent: Agent): this {
    if (this.state !== 'new') throw new ConfigError('ERR_INVALID_CONFIG', 'Agents must be added before start()');
    this.agents.add(name, agent);
    return this;
  }

  getAgent<T extends Agent>(name: string): T | undefined {
    return this.agents.get(name) as T | undefined;
  }

  /**
   * Starts agents, listeners and persistent peers. Calls while it runs share its result; once running,
   * it resolves at once. Rejects on a channel claimed twice (ConfigError; fix it and start again), and
   * with NotRunningError ERR_STOPPED after `stop()` or a failed start: a Switch runs once (as CometBFT's
   * services do). To run again, make a new node; `createNode` with the same home keeps the key.
   */
  start(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return Promise.reject(this.notRunningError());
    this.startRun ??= this.runStart().catch((error: unknown) => {
      if (this.state === 'new') this.startRun = undefined; // a config error: nothing started, may retry
      throw error;
    });
    return this.startRun;
  }

  private async runStart(): Promise<void> {
    this.state = 'starting';
    try {
      this.router.assign(this.agents.all);
      this.memory.limitBytes = peerMemoryBudgetBytes(this.options, this.router.connectionBoundBytes());
    } catch (error) {
      this.state = 'new';
      throw error;
    }
    try {
      // Listen first so agents (NAT, PEX) can read our addresses; links arriving before we are
      // running are refused, so no peer reaches an agent that has not started.
      for (const text of this.options.listen) await this.listenAddresses.listen(text, (address) => this.transportFor(address), (link) => this.acceptor.onLink(link));
      await this.agents.startAll(this);
    } catch (error) {
      await this.stop();
      throw error;
    }
    // stop() during start() wins: the node does not come up behind the caller's back.
    if (this.state !== 'starting') throw this.notRunningError();
    this.state = 'running';
    for (const address of this.options.persistentPeers) this.dialer.addPersistent(address);
  }

  /** Full addresses (with our id) we listen on, plus external ones. */
  get addresses(): string[] {
    return this.listenAddresses.all(this.options.externalAddresses);
  }

  /** Adds an address to advertise (e.g. a NAT mapping learned after start). */
  addExternalAddress(address: string): void {
    this.listenAddresses.addExternal(address);
  }

  removeExternalAddress(address: string): void {
    this.listenAddresses.removeExternal(address);
  }

  nodeInfo(): NodeInfo {
    return localNodeInfo(this.nodeId, this.options.network, this.options.moniker, this.router.channels, this.addresses, this.options.connection);
  }

  /**
   * Connects to `address`, which must carry the node id (`tcp://<id>@host:port`): the peer must prove
   * that id in the handshake (ERR_WRONG_PEER_ID). An address without one is refused (ConfigError
   * ERR_NO_PEER_ID) unless `allowUnknownId` says to accept whoever answers. Resolves with the Peer, or
   * the existing Peer when already connected. Non-persistent dials are tried once; persistent ones are
   * also redialled after any later disconnect.
   *
   * A dial made while `start()` runs waits for it (bounded by dialTimeoutMs and `signal`). Before
   * `start()` it rejects with NotRunningError ERR_NOT_STARTED, after `stop()` with ERR_STOPPED.
   */
  dial(address: string, options: DialOptions = {}): Promise<Peer> {
    if (this.state === 'starting' && this.startRun !== undefined) {
      const started = this.startRun;
      const waited = withDeadline(() => started, { timeoutMs: this.options.dialTimeoutMs, signal: options.signal, what: 'Waiting for start() to dial' });
      return waited.then(
        () => this.dialer.dial(address, options),
        (error: unknown) => {
          // The start failed: the dial fails as a dial on a stopped node, naming why.
          if (this.state === 'stopped' || this.state === 'stopping') throw this.notRunningError(error);
          throw error;
        },
      );
    }
    return this.dialer.dial(address, options);
  }

  get peers(): Peer[] {
    return this.peerRegistry.list();
  }

  getPeer(id: string): Peer | undefined {
    return this.peerRegistry.get(id);
  }

  /**
   * Counts for limits: established peers, plus accepted-but-starting inbound, plus departed peers
   * whose links are still closing (cut with a reason they may read for up to 2 s).
   */
  peerCounts(): { inbound: number; outbound: number; dialing: number } {
    const { inbound, outbound } = this.peerRegistry.counts();
    return { inbound: inbound + this.acceptor.admittedCount, outbound, dialing: this.dialer.dialingCount };
  }

  /**
   * Sends to every peer that has the channel (both ends declared it). Resolves with each peer's result
   * (true = queued; false for a peer whose queue was full while others took it, or whose
   * recvMessageCapacity the message exceeds). Waits (at most `timeoutMs`, default: the connection's send
   * timeout) only when no peer has room, and then for the others only as long again as the first took:
   * a peer that does not read never paces the broadcast (see broadcastTo).
   */
  broadcast(channelId: number, message: Uint8Array, options: BroadcastOptions = {}): Promise<Map<string, boolean>> {
    const targets = this.peers.filter((peer) => peer.hasChannel(channelId));
    return broadcastTo(targets, channelId, message, options, this.options.clock);
  }

  /**
   * Pull-style reading of a channel whose agent has no `receive` method. Ends when the switch stops;
   * with `signal`, a wait for the next message rejects with the signal's reason (an AbortError if it
   * gives none) when it fires. Several readers share the messages (each message goes to one reader).
   */
  receive(channelId: number, options: { signal?: AbortSignal } = {}): AsyncIterable<Envelope> {
    return this.router.receive(channelId, options.signal);
  }

  /**
   * Closes a peer gracefully: what was queued for it is sent first (bounded by the connection's
   * closeTimeoutMs). A persistent peer will be redialled; use `ban` to keep a peer out.
   */
  disconnect(peer: Peer): Promise<void> {
    return peer.connection.close();
  }

  /** Disconnects a misbehaving peer now. It may reconnect (use `ban` to keep it out). */
  stopPeerForError(peer: Peer, error: unknown): void {
    const failure = toError(error);
    // Closing gracefully too: a peer flooding refused messages through our close had each forgiven until
    // closeTimeoutMs cut it as merely slow.
    if (peer.connection.state === 'closed') return;
    peer.connection.destroy(failure instanceof MeshlinkError ? failure.withPeer(peer.id) : failure);
  }

  /** Keeps a node id or address out (no dials, inbound refused) for `durationMs`; disconnects it now. */
  ban(target: string, durationMs = DEFAULT_BAN_DURATION_MS, reason?: Error): void {
    this.bans.ban(target, durationMs);
    for (const peer of this.peers) {
      if (this.isBannedPeer(peer.id, peer.direction, peer.address)) this.stopPeerForError(peer, reason ?? new PeerRejectedError('ERR_BANNED', `Banned for ${durationMs} ms`, { peerId: peer.id }));
    }
  }

  status(): SwitchStatus {
    return {
      nodeId: this.nodeId,
      network: this.options.network,
      moniker: this.options.moniker,
      listen: this.addresses,
      peers: this.peers.map((peer) => peer.status()),
    };
  }

  /**
   * Adds cleanup for something that lives as long as this node but is no agent (the Node platform's
   * home lock is one). `stop()` runs the hooks last, after agents and transports have stopped, the
   * last added first, each awaited for at most stopTimeoutMs (its `signal` fires then); one that
   * throws, rejects or overruns is reported as 'stop-hook:error' and the others still run. Names are
   * unique; at most MAX_STOP_HOOKS (32). Throws NotRunningError ERR_STOPPED once `stop()` has begun.
   */
  addStopHook(name: string, hook: StopHook): void {
    if (this.state === 'stopping' || this.state === 'stopped') throw this.notRunningError();
    this.stopHooks.add(name, hook);
  }

  /**
   * Stops dialling and listening, closes every peer gracefully (flushing what was queued, bounded by
   * stopTimeoutMs), stops agents and ends pull-style readers, then runs the stop hooks. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    this.inFlight.abortAll();
    this.dialer.stop();
    // Some servers (net.Server) report closed only once their connections end: close peers meanwhile.
    const listenersClosed = this.listenAddresses.closeAll();
    // Each peer flushes what it had queued; whoever is still flushing after stopTimeoutMs is cut off.
    // Shared by every peer's close by design (one listener each): tell Node so, or it warns of a leak.
    const deadline = sharedAbortController();
    const deadlineTimer = this.options.clock.setTimeout(() => deadline.abort(), this.options.stopTimeoutMs);
    await Promise.all(this.peers.map((peer) => peer.connection.close({ signal: deadline.signal })));
    this.options.clock.clearTimeout(deadlineTimer);
    await listenersClosed;
    // Pull-style readers end (after draining what was accepted) before agents stop, so an agent may
    // await its own read loop in stop().
    this.router.close();
    await this.agents.stopAll({ timeoutMs: this.options.stopTimeoutMs, clock: this.options.clock });
    await Promise.all(this.options.transports.map((transport) => transport.close?.().catch(() => undefined)));
    await this.stopHooks.runAll({
      timeoutMs: this.options.stopTimeoutMs,
      clock: this.options.clock,
      onError: (hook, error) => this.emit('stop-hook:error', { hook, error }),
    });
    this.state = 'stopped';
  }

  // ─── internal: used by the Dialer and the Acceptor ──────────────────────────────────────────

  /** @internal Why a call that needs a running node cannot run now; `cause`: a failed start. */
  notRunningError(cause?: unknown): NotRunningError {
    if (this.state === 'new' || this.state === 'starting') {
      return new NotRunningError('ERR_NOT_STARTED', 'The node is not started: await start() first');
    }
    return new NotRunningError('ERR_STOPPED', 'The node is stopped; a stopped node does not start again: create a new one', {
      ...(cause !== undefined ? { cause } : {}),
    });
  }

  /** @internal Whether an inbound connection from `peerId` is admitted and being set up. */
  isAdmitting(peerId: string): boolean {
    return this.acceptor.isAdmitting(peerId);
  }

  /** @internal Settles when the inbound connection from `peerId` being set up ends (see Acceptor). */
  admissionOf(peerId: string): Promise<void> | undefined {
    return this.acceptor.admissionOf(peerId);
  }

  /** @internal A controller that stop() aborts; delete it from `inFlight` when done. */
  trackInFlight(): AbortController {
    return this.inFlight.track(this.state === 'stopping' || this.state === 'stopped');
  }

  /** @internal */
  untrackInFlight(controller: AbortController): void {
    this.inFlight.untrack(controller);
  }

  /** Bytes all connections hold on their peers' behalf now, counted against peerMemoryBudgetBytes. */
  get peerMemoryBytes(): number {
    return this.memory.heldBytes;
  }

  /** @internal A raw link reached us: its account in the memory budget (destroys it if cut before addPeer). */
  meterLink(link: Link): BudgetAccount {
    const account = this.memory.open((error) => link.destroy(error));
    link.useMemoryAccount?.(account);
    return account;
  }

  /** @internal */
  transportFor(address: PeerAddress): Transport {
    const transport = this.options.transports.find((t) => t.protocols.includes(address.protocol));
    if (transport === undefined) throw new ConfigError('ERR_NO_TRANSPORT', `No transport for ${address.protocol}:// addresses`);
    return transport;
  }

  /** @internal */
  isOwnAddress(address: PeerAddress): boolean {
    return this.listenAddresses.isOwn(address);
  }

  /** @internal Upgrades a dialled link. */
  upgradeOutbound(link: Link, expectedPeerId: string | undefined, signal: AbortSignal): Promise<UpgradedLink> {
    return upgradeLink(link, this.upgradeOptions('outbound', signal, expectedPeerId));
  }

  /** @internal The upgrade settings for a link of ours; the Acceptor adds its admission rule. */
  upgradeOptions(direction: Direction, signal: AbortSignal, expectedPeerId?: string): UpgradeOptions {
    return switchUpgradeOptions(this.options, this.nodeInfo(), direction, signal, expectedPeerId);
  }

  /**
   * @internal Starts a peer: agents hear of it before any of its messages can arrive. A ban that
   * landed while its link was being upgraded keeps it out (PeerRejectedError ERR_BANNED): ban() can
   * only cut peers that are already here.
   */
  addPeer(upgraded: UpgradedLink, direction: Direction, address: string, transport: string, persistent: boolean, memory: BudgetAccount): Peer {
    const peerId = upgraded.remoteInfo.id;
    if (this.isBannedPeer(peerId, direction, address)) {
      const refusal = new PeerRejectedError('ERR_BANNED', `${peerId} was banned while connecting`, { peerId });
      upgraded.link.destroy(refusal);
      throw refusal;
    }
    return this.peerRegistry.add(upgraded, direction, address, transport, persistent, memory);
  }

  /**
   * Whether a ban covers this peer: its id, or (outbound) the address we reached it at, since a ban of
   * an address without an id (`tcp://host:port`) names no id to match. An inbound peer's address is
   * its ephemeral endpoint, which no ban names.
   */
  private isBannedPeer(peerId: string, direction: Direction, address: string): boolean {
    return this.bans.isBanned(peerId) || (direction === 'outbound' && address.includes('://') && this.bans.isBanned(address));
  }

  /** @internal Inbound slots taken (admitted included), less those of evicted peers still closing. */
  inboundTaken(): number {
    return this.peerRegistry.inboundTaken() + this.acceptor.admittedCount;
  }

  /** @internal Cuts an inbound peer so a newcomer may have its slot (false: too many evictions still closing). */
  evictInbound(peer: Peer, reason: Error): boolean {
    return this.peerRegistry.evict(peer, reason);
  }

  /** @internal */
  emitDialFailed(address: string, error: Error, willRetry: boolean): void {
    this.emit('dial:failed', { address, error, willRetry });
  }

  /** @internal */
  emitInboundRejected(remoteAddress: string, error: Error): void {
    this.emit('inbound:rejected', { remoteAddress, error });
  }
}
