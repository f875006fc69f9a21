import { AbortError, ClosedError, ConfigError, TransportError } from '../errors.js';
import { SignalAgent, type IncomingSignal, type SignalAgentOptions } from './signal-agent.js';
import type { SignalData } from './signal-messages.js';
import type { PeerAddress } from '../transport/address.js';
import type { Link } from '../transport/link.js';
import type { DialOptions, Listener, Transport } from '../transport/transport.js';
import {
  SIGNAL_CHANNEL_ID,
  WEBRTC_ACCEPT_TIMEOUT_MS,
  WEBRTC_MAX_PENDING_ACCEPTS,
  WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA,
  WEBRTC_MAX_PENDING_DIALS,
  WEBRTC_MAX_PENDING_DIALS_PER_VIA,
} from './constants.js';
import type { SimplePeerFactory, SimplePeerLike } from './simple-peer-like.js';
import { WebRtcLink } from './webrtc-link.js';

export interface WebRtcTransportOptions {
  /** Builds simple-peer instances (the platform supplies one with its RTCPeerConnection). */
  createPeer: SimplePeerFactory;
  /** Options of the transport's own SignalAgent (rate limits, whether it also relays). */
  signal?: Omit<SignalAgentOptions, 'onSignal' | 'onUnreachable' | 'isNegotiating'>;
  /** Answering sessions dropped if not connected within this many ms. @default 15_000 */
  acceptTimeoutMs?: number;
  /** Offers being answered at once; further offers are ignored. @default 32 */
  maxPendingAccepts?: number;
  /** Of those, offers delivered by one peer (relay). @default 8 */
  maxPendingAcceptsPerVia?: number;
  /** Our offers in flight at once; more dials fail at once with TransportError. @default 16 */
  maxPendingDials?: number;
  /** Of those, through one relay. @default 8 */
  maxPendingDialsPerVia?: number;
  /**
   * Told once per connected data channel where its packets flow (the selected ICE candidate pair):
   * a TURN server's address at either end means the link is relayed. For logs and network labs.
   */
  onRoute?: (route: WebRtcRoute) => void;
}

/** The ends of a connected WebRTC link's selected ICE candidate pair (undefined where unknown). */
export interface WebRtcRoute {
  peerId: string;
  /** The relay that carried the negotiation. */
  via: string;
  /** True when we made the offer. */
  initiator: boolean;
  localAddress: string | undefined;
  localPort: number | undefined;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
}

interface Session {
  /** True for our dials (we made the offer). */
  initiator: boolean;
  /** The relay (or direct peer) the negotiation runs through. */
  via: string;
  peer: SimplePeerLike;
  link: WebRtcLink;
  /** Fails the session (dial: rejects; accept: drops). */
  fail(error: Error): void;
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
  private readonly sessions = new Map<string, Session>();
  private onLink: ((link: Link) => void) | undefined;
  private listenId: string | undefined;
  private readonly acceptTimeoutMs: number;
  private readonly maxPendingAccepts: number;
  private readonly maxPendingAcceptsPerVia: number;

  constructor(private readonly options: WebRtcTransportOptions) {
    if (typeof options?.createPeer !== 'function') {
      throw new ConfigError('ERR_INVALID_CONFIG', 'webrtc transport needs createPeer (use webrtcTransport() from the platform entry)');
    }
    this.acceptTimeoutMs = options.acceptTimeoutMs ?? WEBRTC_ACCEPT_TIMEOUT_MS;
    this.maxPendingAccepts = options.maxPendingAccepts ?? WEBRTC_MAX_PENDING_ACCEPTS;
    this.maxPendingAcceptsPerVia = options.maxPendingAcceptsPerVia ?? WEBRTC_MAX_PENDING_ACCEPTS_PER_VIA;
    this.signalAgent = new SignalAgent({
      ...options.signal,
      onSignal: (signal) => this.onSignal(signal),
      isNegotiating: (via, from) => this.sessions.get(sessionKey(via, from))?.initiator === true,
      onPeerGone: (peerId) => {
        for (const session of [...this.sessions.values()]) {
          if (session.via === peerId) session.fail(new TransportError(`Relay ${peerId} disconnected during the WebRTC negotiation`, { detail: { reason: 'relay-gone', via: peerId } }));
        }
      },
      onUnreachable: (via, target) => this.sessions.get(sessionKey(via, target))?.fail(
        new TransportError(`Relay ${via} is not connected to ${target}`, { peerId: target, detail: { reason: 'unreachable', via } }),
      ),
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
    const key = sessionKey(via, target);
    if (this.sessions.has(key)) return Promise.reject(new TransportError(`A WebRTC negotiation with ${target} via ${via} is in progress`, { peerId: target }));
    const dials = this.pendingSessions(true);
    const maxDials = this.options.maxPendingDials ?? WEBRTC_MAX_PENDING_DIALS;
    const maxDialsPerVia = this.options.maxPendingDialsPerVia ?? WEBRTC_MAX_PENDING_DIALS_PER_VIA;
    if (dials.length >= maxDials || dials.filter((session) => session.via === via).length >= maxDialsPerVia) {
      return Promise.reject(new TransportError(`Too many WebRTC dials in flight (${dials.length})`, { peerId: target, detail: { reason: 'pending-dials', via } }));
    }
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));

    return new Promise<Link>((resolve, reject) => {
      const peer = this.options.createPeer({ initiator: true });
      const link = new WebRtcLink(peer, `webrtc://${target}?via=${via}`, undefined, sw.options.clock);
      let settled = false;
      const onAbort = (): void => session.fail(abortReason(options.signal!));
      const settle = (): void => {
        settled = true;
        if (this.sessions.get(key) === session) this.sessions.delete(key);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const session: Session = {
        initiator: true,
        via,
        peer,
        link,
        fail: (error) => {
          if (settled) return;
          settle();
          link.destroy(error);
          reject(error);
        },
      };
      this.sessions.set(key, session);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      peer.on('signal', (data) => {
        if (!this.signalAgent.sendSignal(via, target, data)) {
          session.fail(new TransportError(`Could not send a WebRTC signal to relay ${via}`, { peerId: target, detail: { reason: 'relay-send', via } }));
        }
      });
      peer.on('connect', () => {
        if (settled) return;
        settle();
        this.reportRoute(peer, target, via, true);
        resolve(link);
      });
      peer.on('error', (error) => session.fail(new TransportError(`WebRTC dial to ${target}: ${error.message}`, { peerId: target, cause: error })));
      peer.on('close', () => session.fail(new TransportError(`WebRTC dial to ${target}: closed before connecting`, { peerId: target })));
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

  /** Offers being answered now, in all and per delivering peer: for status and tests. */
  pendingAcceptCounts(): { total: number; byVia: Map<string, number> } {
    const byVia = new Map<string, number>();
    const accepts = this.pendingSessions(false);
    for (const session of accepts) byVia.set(session.via, (byVia.get(session.via) ?? 0) + 1);
    return { total: accepts.length, byVia };
  }

  /** Negotiations in flight, ours (`initiator`) or answered: few, since both kinds are capped. */
  private pendingSessions(initiator: boolean): Session[] {
    return [...this.sessions.values()].filter((session) => session.initiator === initiator);
  }

  /** Drops negotiations in flight. Established links belong to their peers. */
  async close(): Promise<void> {
    this.onLink = undefined;
    for (const session of [...this.sessions.values()]) session.fail(new ClosedError('webrtc transport closed'));
  }

  private reportRoute(peer: SimplePeerLike, peerId: string, via: string, initiator: boolean): void {
    const { localAddress, localPort, remoteAddress, remotePort } = peer;
    try {
      this.options.onRoute?.({ peerId, via, initiator, localAddress, localPort, remoteAddress, remotePort });
    } catch {
      // an observer's failure must not fail the link
    }
  }

  private onSignal({ from, via, data }: IncomingSignal): void {
    const key = sessionKey(via, from);
    const session = this.sessions.get(key);
    if (session !== undefined && session.initiator && data.type === 'offer') {
      // Glare: both ends dialled each other through the same relay. As in the Switch, the dial of
      // the node with the lower id wins: the other side drops its own dial and answers.
      const ourId = this.signalAgent.switch?.nodeId ?? '';
      if (ourId < from) return;
      session.fail(new TransportError(`Simultaneous WebRTC dial with ${from}: answering theirs`, { peerId: from, detail: { reason: 'glare' } }));
      this.accept(from, via, data);
      return;
    }
    if (session !== undefined) {
      try {
        session.peer.signal(data);
      } catch (error) {
        session.fail(new TransportError(`Bad WebRTC signal from ${from} via ${via}: ${(error as Error).message}`, { peerId: from, cause: error }));
      }
      return;
    }
    if (data.type === 'offer') this.accept(from, via, data);
  }

  private accept(from: string, via: string, offer: SignalData): void {
    const onLink = this.onLink;
    const sw = this.signalAgent.switch;
    if (onLink === undefined || sw === undefined || this.listenId !== sw.nodeId || sw.getPeer(from) !== undefined) return;
    const accepts = this.pendingSessions(false);
    if (accepts.length >= this.maxPendingAccepts || accepts.filter((session) => session.via === via).length >= this.maxPendingAcceptsPerVia) return;
    const key = sessionKey(via, from);
    const peer = this.options.createPeer({ initiator: false });
    const link = new WebRtcLink(peer, `webrtc://${from}?via=${via}`, undefined, sw.options.clock);
    let settled = false;
    const timer = sw.options.clock.setTimeout(() => session.fail(new TransportError(`WebRTC offer from ${from} did not connect in ${this.acceptTimeoutMs} ms`)), this.acceptTimeoutMs);
    const settle = (): void => {
      settled = true;
      sw.options.clock.clearTimeout(timer);
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    };
    const session: Session = {
      initiator: false,
      via,
      peer,
      link,
      fail: (error) => {
        if (settled) return;
        settle();
        link.destroy(error);
      },
    };
    this.sessions.set(key, session);
    peer.on('signal', (data) => {
      if (!this.signalAgent.sendSignal(via, from, data)) session.fail(new TransportError(`Could not send a WebRTC signal to ${via}`));
    });
    peer.on('connect', () => {
      if (settled) return;
      settle();
      this.reportRoute(peer, from, via, false);
      if (this.onLink === undefined) link.destroy(new ClosedError('webrtc transport stopped listening'));
      else this.onLink(link);
    });
    peer.on('error', (error) => session.fail(error));
    peer.on('close', () => session.fail(new ClosedError('closed before connecting')));
    try {
      peer.signal(offer);
    } catch (error) {
      session.fail(error as Error);
    }
  }
}

function sessionKey(via: string, remote: string): string {
  return `${via}/${remote}`;
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new AbortError();
}
