import type { ChannelDescriptor } from '../conn/channel-descriptor.js';
import { ClosedError, ConfigError, MeshlinkError, ProtocolError, toError } from '../errors.js';
import type { Agent } from '../switch/agent.js';
import type { Peer } from '../switch/peer.js';
import type { Switch } from '../switch/switch.js';
import { parseAddress } from '../transport/address.js';
import { monotonicNow, systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { TypedEventTarget } from '../util/events.js';
import { AddressBook, type AutoSave } from './address-book.js';
import { resolvePexConfig, type PexConfig } from './config.js';
import {
  ISOLATED_DIAL_JITTER_MS,
  ISOLATED_RETRY_ROUND_DELAY_MS,
  MAX_REMEMBERED_HANG_UPS,
  PEX_CHANNEL_ID,
  PEX_CHANNEL_PRIORITY,
  PEX_MAX_ADDRESSES_PER_RESPONSE,
  PEX_MAX_ANSWER_BYTES,
  PEX_MAX_MESSAGE_BYTES,
  PEX_SEND_QUEUE_CAPACITY_MESSAGES,
} from './constants.js';
import { connectedPeerGroup, planCrawl, planDials } from './pex-dial-planner.js';
import { mayAsk, refusedResponseError, requestTooSoon, responseViolation } from './pex-exchange-rules.js';
import { decodePexMessage, encodePexMessage } from './pex-messages.js';
import { HangUpList, newPeerState, sourceOf, type PexPeerState } from './pex-peers.js';
import { AnswerCache, answerFor, encodeAnswerWithin } from './pex-answers.js';
import { agentBookOptions, newPexStats, type PexAgentEvents, type PexAgentOptions, type PexStats } from './pex-agent-options.js';
import { PexDialer } from './pex-dialer.js';
import { PexOutboundView } from './pex-outbound-view.js';
import { creditedSource } from './known-address.js';
import { AnswerAllowance } from './pex-address-allowance.js';

export type { PexAgentOptions, PexAgentEvents, PexStats } from './pex-agent-options.js';

/**
 * Peer exchange (CometBFT's PEX reactor) on channel 0x00. It keeps the node at `maxOutbound` outbound
 * peers by dialling addresses from a bucketed AddressBook, fills the book by asking peers
 * (pexRequest / pexResponse), bootstraps from seeds, and in seed mode crawls the network and hands
 * out addresses without keeping anyone. Every peer that breaks a rule (asks too often, answers
 * unasked, sends too many or invalid addresses, malformed messages) is stopped with a typed error and
 * banned. Usage: `sw.addAgent('pex', new PEXAgent({ seeds, storage }))` before `sw.start()`.
 */
export class PEXAgent extends TypedEventTarget<PexAgentEvents> implements Agent {
  readonly channels: readonly ChannelDescriptor[] = [
    {
      id: PEX_CHANNEL_ID,
      priority: PEX_CHANNEL_PRIORITY,
      sendQueueCapacity: PEX_SEND_QUEUE_CAPACITY_MESSAGES,
      recvMessageCapacity: PEX_MAX_MESSAGE_BYTES,
      name: 'pex',
    },
  ];
  readonly config: PexConfig;
  protected sw: Switch | undefined;
  protected readonly random: () => number;
  protected readonly now: () => number;
  /** Times the pacing of requests on each connection, our seed dials and hang-ups: never stepping, unlike the book's wall clock. */
  private readonly paceNow: () => number;
  private bookValue: AddressBook | undefined;
  private readonly persist: boolean;
  private readonly peerStates = new Map<Peer, PexPeerState>();
  private readonly seedIds = new Set<string>();
  private readonly hangUps = new HangUpList(MAX_REMEMBERED_HANG_UPS);
  private readonly answerCache: AnswerCache;
  private readonly addressAllowance: AnswerAllowance;
  private dialer: PexDialer | undefined;
  private outboundView: PexOutboundView | undefined;
  private autoSave: AutoSave | undefined;
  private clock: Clock;
  private interval: TimerHandle | undefined;
  private firstRound: TimerHandle | undefined;
  private running = false;
  private readonly counters: PexStats = newPexStats();
  private feelerTimer: TimerHandle | undefined;
  private retryRound: TimerHandle | undefined;
  private anchorsDialled = false;

  constructor(private readonly options: PexAgentOptions = {}) {
    super();
    this.config = resolvePexConfig(options);
    this.answerCache = new AnswerCache(this.config.answerReuseMs);
    this.addressAllowance = new AnswerAllowance(this.config.newAddressBurstPerNetwork, this.config.newAddressesPerNetworkPerMinute);
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
    this.now = options.now ?? (() => this.clock.now());
    this.paceNow = options.now ?? (() => monotonicNow(this.clock));
    this.bookValue = options.book;
    this.persist = options.persist ?? (options.storage !== undefined && options.book === undefined);
    for (const seed of this.config.seeds) {
      const parsed = parseAddress(seed);
      if (parsed.nodeId === undefined) throw new ConfigError('ERR_INVALID_ADDRESS', `Seed ${seed} needs a node id (<protocol>://<id>@host…)`);
      this.seedIds.add(parsed.nodeId);
    }
  }

  /** The address book (created at start() unless one was given). */
  get book(): AddressBook {
    if (this.bookValue === undefined) throw new MeshlinkError('ERR_NOT_STARTED', 'The PEX agent creates its address book at start()');
    return this.bookValue;
  }

  stats(): PexStats {
    return { ...this.counters };
  }

  async start(sw: Switch): Promise<void> {
    this.sw = sw;
    this.clock = this.options.clock ?? sw.options.clock;
    this.bookValue ??= new AddressBook(agentBookOptions(this.options, sw.nodeId, { now: this.now, clock: this.clock, random: this.random }));
    const book = this.bookValue;
    if (this.persist) {
      await book.load();
      this.autoSave = book.startAutoSave(this.config.saveIntervalMs);
    }
    book.addOurAddresses(sw.addresses);
    this.dialer = new PexDialer(sw, book, this.config, this.random, this.counters, this.clock, () => this.retrySoonIfIsolated(), this.paceNow);
    this.outboundView = new PexOutboundView(sw, this.dialer, book, this.config, this.random, this.now, this.paceNow, this.peerStates, this.seedIds, this.hangUps);
    this.running = true;
    const round = (): void => {
      if (!this.running || !sw.isRunning) return;
      if (this.config.seedMode) this.crawl();
      else this.ensurePeers();
    };
    // Switch.start() marks the switch running right after the agents start, before any timer fires.
    this.firstRound = this.clock.setTimeout(round, 0);
    this.interval = this.clock.setInterval(round, this.config.seedMode ? this.config.crawlIntervalMs : this.config.ensurePeersIntervalMs);
    if (!this.config.seedMode && this.config.feelerIntervalMs > 0) {
      this.feelerTimer = this.clock.setInterval(() => this.sendFeeler(), this.config.feelerIntervalMs);
      (this.feelerTimer as { unref?: () => void }).unref?.();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.clock.clearTimeout(this.firstRound);
    this.clock.clearInterval(this.interval);
    this.clock.clearInterval(this.feelerTimer);
    this.clock.clearTimeout(this.retryRound);
    this.dialer?.stop();
    for (const state of this.peerStates.values()) for (const timer of state.timers) this.clock.clearTimeout(timer);
    this.peerStates.clear();
    const autoSave = this.autoSave;
    this.autoSave = undefined;
    await autoSave?.stop();
  }

  addPeer(peer: Peer): void {
    const state = newPeerState();
    this.peerStates.set(peer, state);
    const book = this.book;
    const source = sourceOf(peer);
    // What a peer says about itself is worth keeping whoever it is; the book validates each address,
    // and takes it as first-hand only on the host we reach the peer at (see AddressAdmission.examine).
    book.addOurAddresses(this.sw?.addresses ?? []);
    for (const address of peer.nodeInfo.listenAddresses) book.tryAddAddress(address, source);
    // A node we reached that now only dials us: its word, under its key, keeps our entry of it confirmed.
    if (peer.direction === 'inbound') book.confirmInbound(peer.id, peer.nodeInfo.listenAddresses);
    if (peer.direction === 'outbound' && !this.seedIds.has(peer.id)) {
      // Only the address we reached it at is proven, and only that one becomes tried: never another entry
      // of its id, which may be anyone's hearsay (a made-up host for that id would become tried and
      // first-hand, leading our PEX answers). One we dialled from outside the book (a configured peer)
      // is not added, as addrman's Good() does not: the operator may not want it handed out.
      book.markGood(peer.address);
      const info = book.get(peer.address);
      state.source = info === undefined ? source : creditedSource(info);
    }
    // Not a persistent peer's: whichever dial reached it, the app keeps it connected (a liar's other
    // spelling of its address made the feeler that connected it close it at once).
    if (peer.direction === 'outbound' && !peer.persistent && this.dialer?.isFeeler(peer.id) === true) {
      // A feeler has done its job once it is up: the address is proven (markGood above). No gossip.
      this.counters.feelers++;
      state.feeler = true;
      state.closingByUs = true;
      // Nothing is queued on a feeler, so there is nothing to flush: a graceful close would hold the
      // slot until the remote closes too.
      peer.connection.destroy();
      return;
    }
    if (peer.direction === 'outbound') this.rememberAnchors();
    if (this.config.seedMode) {
      this.disconnectLater(peer, state, this.config.seedPeerMaxLifetimeMs);
      if (peer.direction === 'outbound') this.requestAddresses(peer);
    } else if (peer.direction === 'outbound' && (this.seedIds.has(peer.id) || book.needMoreAddresses())) {
      this.requestAddresses(peer);
    }
  }

  removePeer(peer: Peer, reason: Error | undefined): void {
    const state = this.peerStates.get(peer);
    if (state === undefined) return;
    this.peerStates.delete(peer);
    for (const timer of state.timers) this.clock.clearTimeout(timer);
    // While the switch runs, a lost outbound peer is no anchor; at shutdown the anchors must stay as they were.
    if (peer.direction === 'outbound' && !state.feeler && this.running && this.sw?.isRunning === true) this.rememberAnchors();
    // A PEX message over the channel cap can only be a flood of addresses: the connection stopped it, we ban it.
    if (reason instanceof ProtocolError && reason.code === 'ERR_MESSAGE_TOO_LARGE' && reason.detail['channelId'] === PEX_CHANNEL_ID) {
      this.punish(peer, state, reason);
      return;
    }
    // There until now: a connection of days must not leave the entry lapsed the moment it ends.
    if (peer.direction === 'inbound') this.book.confirmInbound(peer.id, peer.nodeInfo.listenAddresses);
    // A clean close (our side sees ClosedError, "closed by the remote end") soon after we dialled, timed
    // on monotonic time: the other side hung up (a seed, a full node). Leave it be.
    if (peer.direction === 'outbound' && (reason === undefined || reason instanceof ClosedError) && !state.closingByUs && this.paceNow() - peer.connectedAtMonotonic < this.config.seedPeerMaxLifetimeMs) {
      this.hangUps.add(peer.id, this.paceNow() + this.config.seedRedialIntervalMs);
    }
  }

  receive(_channelId: number, peer: Peer, bytes: Uint8Array): void {
    const state = this.peerStates.get(peer);
    if (state === undefined || state.punished) return;
    let message;
    try {
      message = decodePexMessage(bytes, peer.id);
    } catch (error) {
      this.punish(peer, state, toError(error));
      return;
    }
    if (message.type === 'pexRequest') this.onRequest(peer, state);
    else this.onResponse(peer, state, message.addresses);
  }

  /**
   * Sends a pexRequest unless one is outstanding or we asked this peer less than an ensurePeers
   * interval ago (twice the peer's minimum, so we never trip its rate limit). True if sent.
   */
  requestAddresses(peer: Peer): boolean {
    const state = this.peerStates.get(peer);
    if (!mayAsk(peer, state, this.config, this.paceNow)) return false;
    const nowMs = this.paceNow();
    const request = encodePexMessage({ type: 'pexRequest' });
    // A peer may declare a recvMessageCapacity too small for it (trySend would throw): not asked.
    if (peer.maxMessageBytes(PEX_CHANNEL_ID) < request.length || !peer.trySend(PEX_CHANNEL_ID, request)) return false;
    state.awaitingResponse = true;
    state.lastRequestSentAt = nowMs;
    this.counters.requestsSent++;
    return true;
  }

  /**
   * One round of topping up (runs every ensurePeersIntervalMs and once at start): dial from the book
   * up to maxOutbound, ask a peer for addresses while the book wants more, fall back to a seed while
   * the book is small or has nothing left to dial.
   */
  ensurePeers(): void {
    const sw = this.sw;
    const dialer = this.dialer;
    const view = this.outboundView;
    if (!this.running || sw === undefined || dialer === undefined || view === undefined || !sw.isRunning) return;
    const book = this.book;
    book.reinstateExpiredBans();
    this.dialAnchors();
    const counts = sw.peerCounts();
    const outbound = view.outboundCount(counts);
    // No outbound peer connected: dial sooner, and ask whoever dialled us if need be.
    const isolated = counts.outbound === 0;
    const slots = Math.min(sw.options.maxOutbound - outbound, this.config.maxConcurrentDials - dialer.pendingCount);
    let planned = 0;
    let trustedShort = false;
    if (slots > 0) {
      const plan = planDials(view.planContext(outbound), slots);
      const maxJitterMs = isolated ? ISOLATED_DIAL_JITTER_MS : Infinity;
      for (const address of plan.addresses) dialer.dial(address, 'book', maxJitterMs);
      planned = plan.addresses.length;
      trustedShort = plan.trustedShort;
    }
    if (book.needMoreAddresses()) {
      // Peers we chose: an inbound peer picked us, so asking it lets whoever dials most fill our book. A
      // node with no outbound peer (no seed answers, nothing in its book) asks whoever dialled it instead.
      const askable = [...this.peerStates].filter(([peer, state]) => mayAsk(peer, state, this.config, this.paceNow)).map(([peer]) => peer);
      const chosen = askable.filter((peer) => peer.direction === 'outbound');
      const candidates = chosen.length > 0 || !isolated ? chosen : askable;
      const peer = candidates[Math.floor(this.random() * candidates.length)];
      if (peer !== undefined) this.requestAddresses(peer);
    }
    // Seeds bootstrap (a small book, or nothing at all to dial while we have no outbound peer) and top up
    // the trusted addresses when slots wait for them or only ones that failed before are left to fill them.
    if ((slots > planned && (book.size() < this.config.seedBootstrapBookSize || outbound + planned === 0)) || trustedShort) {
      this.dialer?.dialSeed(this.config.seeds, this.paceNow());
    }
  }

  /** A dial failed and we have no outbound peer: one extra round soon, not a whole interval later. */
  private retrySoonIfIsolated(): void {
    if (!this.running || this.config.seedMode || this.retryRound !== undefined || this.sw?.peerCounts().outbound !== 0) return;
    this.retryRound = this.clock.setTimeout(() => {
      this.retryRound = undefined;
      this.ensurePeers();
    }, ISOLATED_RETRY_ROUND_DELAY_MS);
  }

  /** Seed mode: dial the least recently crawled addresses with the free outbound slots. */
  crawl(): void {
    const sw = this.sw;
    const dialer = this.dialer;
    const view = this.outboundView;
    if (!this.running || sw === undefined || dialer === undefined || view === undefined || !sw.isRunning) return;
    this.book.reinstateExpiredBans();
    const outbound = view.outboundCount();
    const slots = Math.min(sw.options.maxOutbound - outbound, this.config.maxConcurrentDials - dialer.pendingCount);
    for (const address of planCrawl(view.planContext(outbound), slots)) dialer.dial(address, 'crawl');
    if (slots > 0 && this.book.size() < this.config.seedBootstrapBookSize) this.dialer?.dialSeed(this.config.seeds, this.paceNow());
  }

  /**
   * The addresses to hand `peer` for its request (see answerFor). Subclasses may override (the
   * simulation's colluders do). A connection's first request gets its network's sample (AnswerCache),
   * later ones (paced at minRequestIntervalMs, on a connection that holds a slot) a fresh one.
   */
  protected selectAddressesFor(peer: Peer, firstOfConnection = true): string[] {
    const { book, config, sw, random, answerCache: cache } = this;
    const reuse = firstOfConnection ? { cache, nowMs: this.now(), network: connectedPeerGroup(peer, sourceOf(peer)) } : undefined;
    const paceNowMs = this.paceNow();
    const failingNetwork = (address: string): boolean => this.dialer?.failingNetworks.isFailing(address, paceNowMs) === true;
    return answerFor(peer, { book, config, sw, relayWebRtc: this.options.relayWebRtc === true, random, reuse, failingNetwork });
  }

  private onRequest(peer: Peer, state: PexPeerState): void {
    const nowMs = this.paceNow();
    const tooSoon = requestTooSoon(peer, state, nowMs, this.config);
    if (tooSoon !== undefined) {
      this.punish(peer, state, tooSoon);
      return;
    }
    const firstOfConnection = state.lastRequestReceivedAt === 0;
    state.lastRequestReceivedAt = nowMs;
    this.counters.requestsReceived++;
    const addresses = this.selectAddressesFor(peer, firstOfConnection).slice(0, PEX_MAX_ADDRESSES_PER_RESPONSE);
    // Cut to what the asker said it takes (trySend would throw: a liar's multi-byte addresses left every
    // answer unsent), and to PEX_MAX_ANSWER_BYTES, what a stranger's request makes us encode and send.
    const response = encodeAnswerWithin(addresses, Math.min(peer.maxMessageBytes(PEX_CHANNEL_ID), PEX_MAX_ANSWER_BYTES));
    if (response !== undefined && peer.trySend(PEX_CHANNEL_ID, response)) this.counters.responsesSent++;
    // A seed answers and hangs up: it must never become anyone's long-term peer.
    if (this.config.seedMode) this.disconnectLater(peer, state, this.config.seedDisconnectGraceMs);
  }

  private onResponse(peer: Peer, state: PexPeerState, addresses: readonly string[]): void {
    // Check everything before adding anything: one bad address discredits the whole response.
    const violation = responseViolation(peer, state.awaitingResponse, addresses, this.sw?.nodeId);
    state.awaitingResponse = false;
    if (violation !== undefined) return this.punish(peer, state, violation);
    // Again before each answer: a NAT mapping is added after start, and a liar naming made-up ids there
    // had us dial ourselves through it and hand our own place out under those ids.
    this.book.addOurAddresses(this.sw?.addresses ?? []);
    // One response adds at most maxNewAddressesPerResponse entries; the rest is ignored, not punished.
    // And no network (keys are free) adds more than its allowance (AnswerAllowance); a seed's answers are what we trust.
    const trusted = this.seedIds.has(peer.id);
    const source = sourceOf(peer);
    const network = connectedPeerGroup(peer, source);
    const nowMs = this.paceNow();
    const allowed = trusted ? Infinity : this.addressAllowance.available(network, peer.id, nowMs);
    const { added, refused } = this.book.tryAddAddresses(addresses, source, Math.min(this.config.maxNewAddressesPerResponse, allowed), { trusted });
    if (refused !== undefined) return this.punish(peer, state, refusedResponseError(peer, refused));
    if (!trusted) this.addressAllowance.spend(network, peer.id, added, nowMs);
    this.counters.responsesReceived++;
    this.counters.addressesReceived += addresses.length;
    this.counters.addressesAdded += added;
    this.emit('addresses', { peer, received: addresses.length, added });
    if (this.config.seedMode) this.disconnectLater(peer, state, this.config.seedDisconnectGraceMs);
  }

  /**
   * One feeler (Heilman et al. §6; Bitcoin's FEELER_INTERVAL): a short outbound connection to the
   * incumbent of a pending tried-table collision (test-before-evict) or else to a random new address,
   * closed as soon as it is up. Its success moves the address to the tried table; its failure lets
   * the collision evict the incumbent. Skipped while another feeler is in flight.
   */
  sendFeeler(): void {
    const sw = this.sw;
    const dialer = this.dialer;
    const view = this.outboundView;
    if (!this.running || sw === undefined || dialer === undefined || view === undefined || !sw.isRunning) return;
    if (dialer.feelerPending || [...this.peerStates.values()].some((state) => state.feeler)) return;
    const address = view.feelerAddress();
    if (address !== undefined) dialer.dial(address, 'feeler');
  }

  /** The outbound peers now, as the anchors to dial first at the next start (see PexOutboundView.anchors). */
  private rememberAnchors(): void {
    if (this.config.maxAnchors === 0 || this.config.seedMode || this.outboundView === undefined) return;
    this.book.setAnchors(this.outboundView.anchors());
  }

  /** Once, at the first round: dial the anchors of the last run before anything else. */
  private dialAnchors(): void {
    if (this.anchorsDialled) return;
    this.anchorsDialled = true;
    for (const anchor of this.outboundView!.anchorsToDial()) {
      this.counters.anchorDials++;
      this.dialer!.dial(anchor, 'anchor');
    }
  }

  /** Stops `peer` with `error` and bans it (switch and book) for banMs. */
  private punish(peer: Peer, state: PexPeerState, error: Error): void {
    if (state.punished) return;
    state.punished = true;
    this.counters.misbehaviours++;
    const failure = error instanceof MeshlinkError ? error.withPeer(peer.id) : new ProtocolError('ERR_PROTOCOL', error.message, { peerId: peer.id, cause: error });
    this.book.markBad(peer.id, this.config.banMs);
    this.emit('misbehaviour', { peer, error: failure });
    this.sw?.ban(peer.id, this.config.banMs, failure);
  }

  private disconnectLater(peer: Peer, state: PexPeerState, delayMs: number): void {
    const timer = this.clock.setTimeout(() => {
      state.timers.delete(timer);
      state.closingByUs = true;
      // A graceful close flushes the response we just queued.
      void this.sw?.disconnect(peer);
    }, delayMs);
    state.timers.add(timer);
  }
}

