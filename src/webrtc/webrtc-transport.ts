import { ClosedError, ConfigError, TransportError } from '../errors.js';
import { SignalAgent, type IncomingSignal, type SignalAgentOptions } from './signal-agent.js';
import type { SignalData } from './signal-messages.js';
import type { PeerAddress } from '../transport/address.js';
import type { Link } from '../transport/link.js';
import type { DialOptions, Listener, Transport } from '../transport/transport.js';
import {
  SIGNAL_CHANNEL_ID,
  WEBRTC_ACCEPT_TIMEOUT_MS,
  WEBRTC_ANSWERS_BURST,
  WEBRTC_ANSWERS_BURST_PER_NETWORK,
  WEBRTC_ANSWERS_BURST_PER_VIA,
  WEBRTC_ANSWERS_PER_MINUTE,
  WEBRTC_ANSWERS_PER_MINUTE_PER_NETWORK,
  WEBRTC_ANSWERS_PER_MINUTE_PER_VIA,
  WEBRTC_DIALS_BURST,
  WEBRTC_DIALS_BURST_PER_VIA,
  WEBRTC_DIALS_PER_MINUTE,
  WEBRTC_DIALS_PER_MINUTE_PER_VIA,
  WEBRTC_MAX_PENDING_ACCEPTS,
  WEBRTC_MAX_PENDING_ACCEPTS_PER_NETWORK,
  WEBRTC_MAX_PENDING_ACCEPTS_PER_SENDER,
  WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA,
  WEBRTC_MAX_PENDING_DIALS,
  WEBRTC_MAX_PENDING_DIALS_PER_VIA,
} from './constants.js';
import { ConnectionAllowance, type ConnectionRates } from './connection-allowance.js';
import { abortReason, Negotiations, type NegotiationCounts, type RelayPlace, type WebRtcRoute } from './negotiations.js';
import { signallingPlace } from './relay-memory.js';
import type { OwnMachine } from './remote-candidates.js';
import { mediaSectionsOf } from './remote-description.js';
import type { SimplePeerFactory } from './simple-peer-like.js';
import { UncollectedConnections } from './uncollected-connections.js';

export type { WebRtcRoute } from './negotiations.js';

export interface WebRtcTransportOptions {
  /** Builds simple-peer instances (the platform supplies one with its RTCPeerConnection). */
  createPeer: SimplePeerFactory;
  /** Options of the transport's own SignalAgent (rate limits, whether it also relays). */
  signal?: Omit<SignalAgentOptions, 'onSignal' | 'onUnreachable' | 'isNegotiating' | 'inNegotiation'>;
  /** Answering sessions dropped if not connected within this many ms. @default 15_000 */
  acceptTimeoutMs?: number;
  /**
   * Offers being answered at once; further offers are ignored, but for one through a relay network
   * holding at least two fewer than the busiest: it takes the place of that network's oldest (which
   * fails, reason `answer-replaced`). @default 32
   */
  maxPendingAccepts?: number;
  /** Of those, offers delivered by one peer (relay). @default 8 */
  maxPendingAcceptsPerVia?: number;
  /**
   * Of those, offers delivered by the relays of one network (the relay's IPv4 /16 or IPv6 /32, where
   * the Switch counts it): relay ids are free keys, so one host with several could otherwise hold every
   * slot. With its slots taken, an offer through a host of it holding at least two fewer than its busiest
   * host takes the place of that host's oldest (reason `answer-replaced`), so that hosts of a cloud block
   * cannot keep an honest relay there out. @default 16 (twice maxPendingAcceptsPerVia when that is given)
   */
  maxPendingAcceptsPerNetwork?: number;
  /**
   * Of those, offers from one sender (the `from` a relay names) through the relays of one host (an IPv4
   * address or IPv6 /64, where the Switch counts it; NegotiationCaps.perRemote: not through all relays
   * or a network's, as relays may name an honest node); through one relay a sender has at most one, as a
   * new offer from it joins its negotiation there. @default 2
   */
  maxPendingAcceptsPerSender?: number;
  /**
   * New answering RTCPeerConnections a minute, in all and for offers delivered by one peer (relay),
   * after a burst of 32 and 8. Offers past them are ignored. A browser refuses its 501st
   * RTCPeerConnection until garbage collection frees closed ones, and an offer that fails at once gives
   * its slot back at once: this is what bounds how many a relay can make us open. The total is split
   * between the networks of the relays the offers come through (ConnectionAllowance), so relays on a
   * few networks storming us leave an offer through another its share.
   * @default 60 and 12
   */
  maxNewAnswersPerMinute?: number;
  maxNewAnswersPerMinutePerVia?: number;
  /** …and for offers delivered by the relays of one network, after a burst of 16. @default 24 (twice maxNewAnswersPerMinutePerVia when that is given) */
  maxNewAnswersPerMinutePerNetwork?: number;
  /**
   * New RTCPeerConnections our dials open a minute, in all and through one relay, after a burst of 16
   * and 8; dials past them fail at once (TransportError, reason `dial-allowance`). A dial that fails at
   * once gives its pending slot back at once: this is what bounds how many peers handing us made-up
   * addresses can make us open. The total is split between the networks of the relays dialled through
   * (ConnectionAllowance), so made-up addresses through some relays leave dials through others their share.
   * @default 60 and 30
   */
  maxNewDialsPerMinute?: number;
  maxNewDialsPerMinutePerVia?: number;
  /**
   * RTCPeerConnections of the offers we answer, and of our dials, that garbage collection has not freed
   * yet (closed ones too): past them offers are ignored, and dials fail at once (TransportError, reason
   * `dial-budget`), until the collector frees some. Chromium refuses to construct its 501st until then
   * (per renderer process), and a page collects ~26 s after it goes idle, a busy one less often: the
   * per-minute allowances alone let hostile relays use them all up when no collection came for ~8 min.
   * @default no cap (browsers: 200 and 150, leaving 150 of Chromium's 500 to the app and other pages)
   */
  maxUncollectedAnswers?: number;
  maxUncollectedDials?: number;
  /**
   * Of `maxUncollectedAnswers`, those of offers delivered by the relays of one network (as
   * maxPendingAcceptsPerNetwork): relays of one or two networks storming us cannot take them all, and
   * offers through the relays of others are still answered. A network holding some takes more only below
   * an equal share of `maxUncollectedAnswers` among the networks holding some and a seat for newcomers
   * (UncollectedConnections.mayAnswerThrough), so relays of four or more cannot take it all either.
   * @default maxUncollectedAnswers (browsers: 50)
   */
  maxUncollectedAnswersPerNetwork?: number;
  /** Our offers in flight at once; more dials fail at once with TransportError. @default 16 */
  maxPendingDials?: number;
  /** Of those, through one relay. @default 8 */
  maxPendingDialsPerVia?: number;
  /**
   * Told once per connected data channel where its packets flow (the selected ICE candidate pair):
   * a TURN server's address at either end means the link is relayed. For logs and network labs.
   */
  onRoute?: (route: WebRtcRoute) => void;
  /**
   * Let a remote's ICE candidates name loopback addresses (127/8, ::1). Off, they are dropped: they
   * would make our ICE agent send STUN, over UDP or a TCP connection it opens, to the services of our
   * own machine at a remote's word. Candidates naming unspecified or multicast addresses, and host
   * names other than mDNS `.local` ones, are always dropped. Only peers on one machine with no other
   * interface need this. @default false
   */
  allowLoopbackCandidates?: boolean;
  /**
   * Take a remote's ICE candidates named by mDNS `.local` names (a browser's host candidates). Our ICE
   * agent has the name resolved, and whoever answers for it on the LAN (or a hosts file) may name
   * 127.0.0.1: a remote on the LAN gets past the loopback rule. A browser resolves them by its own
   * mDNS and needs them to link with a page on its LAN; in Node, where the system's resolver answers
   * (if it resolves `.local` at all), a page still links: it checks our host candidates, and we learn
   * its address from its checks. @default true; Node's `webrtcTransport()`: false
   */
  allowMdnsCandidates?: boolean;
  /**
   * This machine's addresses and the ports its OS gives sockets bound to port 0: a remote's candidates
   * at our own addresses are kept only on those ports. Another node on this machine binds its ICE
   * sockets there; a service of this machine listens on a port it chose, which our own address reaches
   * as loopback does. @default none (browsers cannot tell); Node's `webrtcTransport()` on Linux: the
   * interfaces' addresses and `net.ipv4.ip_local_port_range`
   */
  ownMachine?: OwnMachine;
}

/**
 * WebRTC between peers that share a relay: `webrtc://<nodeId>?via=<relayNodeId>`.
 *
 * Usage (both endpoints; the relay only needs a plain `SignalAgent`):
 * ```ts
 * const rtc = webrtcTransport();                       // platforms/node/webrtc.ts, or the browser's
 * const sw = new Switch({ transports: [tcp, rtc], listen: [..., `webrtc://${key.nodeId}`], ... });
 * sw.addAgent('signal', rtc.signalAgent);             // channel 0x01
 * await sw.start();
 * await sw.dial(relayAddress);                         // both ends connect to the relay first
 * await sw.dial(`webrtc://${otherId}?via=${relayId}`);
 * ```
 * The offer, answer and ICE candidates travel on channel 0x01 through the relay; once the data
 * channel opens it becomes a Link and the Switch runs the secure handshake over it, checking the
 * remote's id against the dialled one, so a relay that rewrites signals cannot impersonate anyone.
 *
 * `listen('webrtc://<ourNodeId>')` accepts offers addressed to us from any relay (and direct
 * signalling peers); without it offers are ignored. The listener advertises no address: how to reach
 * us depends on which relay the dialler shares with us.
 */
export class WebRtcTransport implements Transport {
  readonly protocols = ['webrtc'] as const;
  /** Add to the Switch (`sw.addAgent('signal', rtc.signalAgent)`): it carries our signals. */
  readonly signalAgent: SignalAgent;
  private readonly negotiations: Negotiations;
  private onLink: ((link: Link) => void) | undefined;
  private listenId: string | undefined;
  private readonly acceptTimeoutMs: number;
  private answerAllowance: ConnectionAllowance | undefined;
  private readonly answerRates: ConnectionRates;
  private dialAllowance: ConnectionAllowance | undefined;
  private readonly dialRates: ConnectionRates;
  private readonly uncollected = new UncollectedConnections();
  private readonly maxUncollectedAnswers: number;
  private readonly maxUncollectedAnswersPerNetwork: number;
  private readonly maxUncollectedDials: number;

  constructor(options: WebRtcTransportOptions) {
    if (typeof options?.createPeer !== 'function') {
      throw new ConfigError('ERR_INVALID_CONFIG', 'webrtc transport needs createPeer (use webrtcTransport() from the platform entry)');
    }
    this.acceptTimeoutMs = options.acceptTimeoutMs ?? WEBRTC_ACCEPT_TIMEOUT_MS;
    this.maxUncollectedAnswers = options.maxUncollectedAnswers ?? Infinity;
    this.maxUncollectedAnswersPerNetwork = options.maxUncollectedAnswersPerNetwork ?? this.maxUncollectedAnswers;
    this.maxUncollectedDials = options.maxUncollectedDials ?? Infinity;
    // A network's allowance is twice a relay's: a test or app raising the relay's raises it with it.
    const answersPerVia = options.maxNewAnswersPerMinutePerVia;
    this.answerRates = {
      perMinute: options.maxNewAnswersPerMinute ?? WEBRTC_ANSWERS_PER_MINUTE,
      burst: WEBRTC_ANSWERS_BURST,
      perMinutePerVia: answersPerVia ?? WEBRTC_ANSWERS_PER_MINUTE_PER_VIA,
      burstPerVia: WEBRTC_ANSWERS_BURST_PER_VIA,
      perMinutePerGroup: options.maxNewAnswersPerMinutePerNetwork ?? (answersPerVia === undefined ? WEBRTC_ANSWERS_PER_MINUTE_PER_NETWORK : 2 * answersPerVia),
      burstPerGroup: WEBRTC_ANSWERS_BURST_PER_NETWORK,
    };
    this.dialRates = {
      perMinute: options.maxNewDialsPerMinute ?? WEBRTC_DIALS_PER_MINUTE,
      burst: WEBRTC_DIALS_BURST,
      perMinutePerVia: options.maxNewDialsPerMinutePerVia ?? WEBRTC_DIALS_PER_MINUTE_PER_VIA,
      burstPerVia: WEBRTC_DIALS_BURST_PER_VIA,
    };
    this.signalAgent = new SignalAgent({
      ...options.signal,
      onSignal: (signal) => this.onSignal(signal),
      isNegotiating: (via, from) => this.negotiations.get(via, from)?.initiator === true,
      inNegotiation: (via, from) => this.negotiations.get(via, from) !== undefined,
      onPeerGone: (peerId) => {
        this.negotiations.failAll(new TransportError(`Relay ${peerId} disconnected during the WebRTC negotiation`, { detail: { reason: 'relay-gone', via: peerId } }), peerId);
      },
      onUnreachable: (via, target) => this.negotiations.get(via, target)?.fail(
        new TransportError(`Relay ${via} is not connected to ${target}`, { peerId: target, detail: { reason: 'unreachable', via } }),
      ),
    });
    this.negotiations = new Negotiations({
      createPeer: options.createPeer,
      onPeerCreated: (peer, { initiator, group }) => this.uncollected.track(peer, initiator, group),
      sendSignal: (via, remote, data, onLost, wanted) => this.signalAgent.sendSignal(via, remote, data, onLost, wanted),
      dials: { total: options.maxPendingDials ?? WEBRTC_MAX_PENDING_DIALS, perVia: options.maxPendingDialsPerVia ?? WEBRTC_MAX_PENDING_DIALS_PER_VIA },
      answers: {
        total: options.maxPendingAccepts ?? WEBRTC_MAX_PENDING_ACCEPTS,
        perVia: options.maxPendingAcceptsPerVia ?? WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA,
        perGroup: options.maxPendingAcceptsPerNetwork ?? (options.maxPendingAcceptsPerVia === undefined ? WEBRTC_MAX_PENDING_ACCEPTS_PER_NETWORK : 2 * options.maxPendingAcceptsPerVia),
        perRemote: options.maxPendingAcceptsPerSender ?? WEBRTC_MAX_PENDING_ACCEPTS_PER_SENDER,
      },
      onRoute: options.onRoute,
      allowLoopbackCandidates: options.allowLoopbackCandidates,
      allowMdnsCandidates: options.allowMdnsCandidates,
      ownMachine: options.ownMachine,
    });
  }

  dial(address: PeerAddress, options: DialOptions = {}): Promise<Link> {
    const target = address.nodeId;
    const via = address.params['via'];
    if (target === undefined || via === undefined) {
      return Promise.reject(new ConfigError('ERR_INVALID_ADDRESS', 'webrtc addresses to dial need a node id and ?via=<relayNodeId>'));
    }
    const sw = this.signalAgent.switch;
    if (sw === undefined) return Promise.reject(new ClosedError('The webrtc transport\'s signalAgent is not added to a running Switch'));
    const relay = sw.getPeer(via);
    if (relay === undefined) {
      return Promise.reject(new TransportError(`Not connected to relay ${via}`, { peerId: target, detail: { reason: 'no-relay', via } }));
    }
    if (!relay.hasChannel(SIGNAL_CHANNEL_ID)) {
      return Promise.reject(new TransportError(`${via} does not carry WebRTC signalling`, { peerId: target, detail: { reason: 'no-signalling', via } }));
    }
    if (this.negotiations.get(via, target) !== undefined) {
      return Promise.reject(new TransportError(`A WebRTC negotiation with ${target} via ${via} is in progress`, { peerId: target }));
    }
    if (!this.negotiations.hasRoom(true, via, target)) {
      const inFlight = this.negotiations.counts(true).total;
      return Promise.reject(new TransportError(`Too many WebRTC dials in flight (${inFlight})`, { peerId: target, detail: { reason: 'pending-dials', via } }));
    }
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    if (this.uncollected.count(true) >= this.maxUncollectedDials) {
      return Promise.reject(new TransportError(`${this.maxUncollectedDials} WebRTC dials not yet garbage collected`, { peerId: target, detail: { reason: 'dial-budget', via } }));
    }
    this.dialAllowance ??= new ConnectionAllowance(this.dialRates, () => sw.options.clock.now());
    // Shared fairly between relay networks: made-up addresses through several relays take their
    // networks' shares, not an honest relay's.
    if (!this.dialAllowance.take(via, this.relayNetwork(via))) {
      return Promise.reject(new TransportError(`Too many new WebRTC dials this minute (through ${via})`, { peerId: target, detail: { reason: 'dial-allowance', via } }));
    }
    return new Promise<Link>((resolve, reject) => {
      this.negotiations.start({ initiator: true, via, remote: target, clock: sw.options.clock, signal: options.signal, onConnected: resolve, onFailed: reject });
    });
  }

  listen(address: PeerAddress, onLink: (link: Link) => void): Promise<Listener> {
    if (address.nodeId === undefined) return Promise.reject(new ConfigError('ERR_INVALID_ADDRESS', 'listen on webrtc://<ourNodeId>'));
    if (this.onLink !== undefined) return Promise.reject(new ConfigError('ERR_INVALID_CONFIG', 'The webrtc transport is already listening'));
    this.onLink = onLink;
    this.listenId = address.nodeId;
    // `webrtc://<our id>` goes into our NodeInfo: it tells relays we take offers. It is not dialable by
    // itself; a relay hands out `webrtc://<our id>?via=<relay id>` while we are connected to it.
    const listener: Listener = {
      addresses: [{ protocol: 'webrtc', nodeId: undefined, host: '', port: 0, path: '', params: {} }],
      close: async () => {
        if (this.onLink === onLink) this.onLink = undefined;
      },
    };
    return Promise.resolve(listener);
  }

  /** Offers being answered now, in all, per delivering peer, per its network and per sender: for status and tests. */
  pendingAcceptCounts(): NegotiationCounts {
    return this.negotiations.counts(false);
  }

  /** Drops negotiations in flight. Established links belong to their peers. */
  async close(): Promise<void> {
    this.onLink = undefined;
    this.negotiations.failAll(new ClosedError('webrtc transport closed'));
  }

  private onSignal({ from, via, data }: IncomingSignal): void {
    const negotiation = this.negotiations.get(via, from);
    if (negotiation !== undefined && negotiation.initiator && data.type === 'offer') {
      // Glare: both ends dialled each other through the same relay. As in the Switch, the dial of
      // the node with the lower id wins: the other side drops its own dial and answers. A node that
      // takes no offers (not listening) keeps its dial: dropping it would leave neither dial standing.
      const ourId = this.signalAgent.switch?.nodeId ?? '';
      if (ourId < from || !this.takesOffers()) {
        negotiation.setAside();
        return;
      }
      negotiation.fail(new TransportError(`Simultaneous WebRTC dial with ${from}: answering theirs`, { peerId: from, detail: { reason: 'glare' } }));
      this.accept(from, via, data);
      return;
    }
    if (negotiation !== undefined) {
      negotiation.signal(data);
      return;
    }
    if (data.type === 'offer') this.accept(from, via, data);
  }

  /** The network a relay counts in, where the Switch counts it (a relay naming none is a network of its own). */
  private relayNetwork(via: string): string {
    return this.relayPlace(via).group;
  }

  /** The network and host a relay counts in (signallingPlace; one not connected: a network and host of its own). */
  private relayPlace(via: string): Required<RelayPlace> {
    const peer = this.signalAgent.switch?.getPeer(via);
    if (peer === undefined) return { group: `via:${via}`, host: `via:${via}` };
    const { network, host } = signallingPlace(peer);
    return { group: network, host };
  }

  /** Whether offers addressed to us are answered: we listen on `webrtc://<our id>`. */
  private takesOffers(): boolean {
    const sw = this.signalAgent.switch;
    return this.onLink !== undefined && sw !== undefined && this.listenId === sw.nodeId;
  }

  private accept(from: string, via: string, offer: SignalData): void {
    const sw = this.signalAgent.switch;
    // An offer from a key we are connected to is answered too: its holder thinks that connection gone
    // (a page whose network changed), and the Switch pings the old one and keeps whichever is alive
    // (Acceptor's duplicate probe). Ignored, it waited for our keep-alive (up to 105 s). `from` is only
    // the relay's word until the handshake: the answer allowance below bounds it as any other offer.
    if (!this.takesOffers() || sw === undefined) return;
    // Relays are counted in their network too (where the Switch counts them): relay ids are free keys,
    // and one host connected to us with four of them held all 32 answer slots.
    const relay = this.relayPlace(via);
    const { group } = relay;
    // Every slot taken: a network holding fewer may push out the busiest one's oldest (negotiations.ts).
    const hasRoom = this.negotiations.hasRoom(false, via, from, relay);
    const replaced = hasRoom ? undefined : this.negotiations.answerToReplace(via, from, relay);
    if (!hasRoom && replaced === undefined) return;
    // An offer that asks for media is refused before it costs a connection.
    if (offer.type !== 'offer' || mediaSectionsOf(offer.sdp).length > 0) return;
    if (!this.uncollected.mayAnswerThrough(group, this.maxUncollectedAnswers, this.maxUncollectedAnswersPerNetwork)) return;
    // Shared fairly between relay networks: relays of two networks could otherwise spend it all.
    this.answerAllowance ??= new ConnectionAllowance(this.answerRates, () => sw.options.clock.now());
    if (!this.answerAllowance.take(via, group, relay.host)) return;
    replaced?.fail(
      new TransportError(`WebRTC answer to ${replaced.remote}: its slot taken by an offer through a network, or a host of its network, holding fewer`, {
        peerId: replaced.remote,
        detail: { reason: 'answer-replaced', via: replaced.via },
      }),
    );
    const answer = this.negotiations.start({
      initiator: false,
      via,
      group,
      host: relay.host,
      remote: from,
      clock: sw.options.clock,
      timeoutMs: this.acceptTimeoutMs,
      onConnected: (link) => {
        if (this.onLink === undefined) link.destroy(new ClosedError('webrtc transport stopped listening'));
        else this.onLink(link);
      },
    });
    answer.signal(offer);
  }
}
