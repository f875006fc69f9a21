import { AbortError, TransportError } from '../errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { printable } from '../util/printable.js';
import type { SignalData } from './signal-messages.js';
import type { SimplePeerFactory, SimplePeerLike } from './simple-peer-like.js';
import { WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION, WEBRTC_MAX_REMOTE_TCP_CANDIDATES_PER_NEGOTIATION } from './constants.js';
import { admitOneDataChannel, peerErrorDetail, stackMessage } from './data-channel-guard.js';
import { CandidateTargets, WEBRTC_CROWDED_ADDRESS_HOLD_MS, WEBRTC_UNANSWERED_CHECKS_MS, WEBRTC_UNANSWERED_CHECKS_POLL_MS, type CandidateHolder } from './candidate-targets.js';
import { PeerChecks } from './unanswered-checks.js';
import { relayCandidateAddresses, screenRemoteSignal, type OwnMachine } from './remote-candidates.js';
import { mediaSectionsOf } from './remote-description.js';
import { WebRtcLink } from './webrtc-link.js';

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

/** One WebRTC negotiation in flight: an RTCPeerConnection between the offer and the open data channel. */
export interface Negotiation {
  /** True for our dials (we made the offer), false for offers we answer. */
  readonly initiator: boolean;
  /** The relay (or direct peer) the negotiation runs through. */
  readonly via: string;
  /** The relay's network (NegotiationRequest.group), or undefined. */
  readonly group: string | undefined;
  /** The relay's host (NegotiationRequest.host), or undefined. */
  readonly host: string | undefined;
  /** The node at the other end (for an offer we answer, the sender the relay named). */
  readonly remote: string;
  /** Hands the remote's offer, answer or ICE candidate to the RTCPeerConnection; a bad one fails it. */
  signal(data: SignalData): void;
  /**
   * Counts a signal of the remote's that is not handed on (an offer that loses glare to our dial) toward
   * the cap: set aside uncounted, a relay could send such offers for as long as the dial lasted, past
   * every allowance (signals of a negotiation in flight skip the relay's, as this cap bounds them).
   */
  setAside(): void;
  /** Ends it: the RTCPeerConnection is closed and `onFailed` told. Once; later calls do nothing. */
  fail(error: Error): void;
}

export interface NegotiationRequest {
  initiator: boolean;
  via: string;
  /** The network `via` is in, counted toward NegotiationCaps.perGroup. @default none: counted in no group */
  group?: string | undefined;
  /** The host `via` is on (an IPv4 address, an IPv6 /64), counted toward NegotiationCaps.perRemote. @default none */
  host?: string | undefined;
  /** The node at the other end. */
  remote: string;
  clock: Clock;
  /** Fails it when not connected within this many ms. Our dials have none: the Switch's dial deadline aborts `signal`. */
  timeoutMs?: number;
  /** Fails it with the signal's reason when it fires. */
  signal?: AbortSignal | undefined;
  /** The data channel is open: from here on the link is the caller's. */
  onConnected(link: WebRtcLink): void;
  onFailed?(error: Error): void;
}

/**
 * Negotiations allowed at once, in all, through one relay, through the relays of one network (their
 * `group`), and with one remote through the relays of one host.
 */
export interface NegotiationCaps {
  total: number;
  perVia: number;
  /** @default no cap beyond `total` */
  perGroup?: number;
  /**
   * With one remote through the relays of one host (all relays, for negotiations of no `host`). The
   * remote is only a relay's word: counted through all relays, relays naming an honest node as the
   * sender of offers that never complete held its slots, so that its own offers through another relay
   * went unanswered; counted through the relays of one network, relays on other hosts of the honest
   * relay's own network (a cloud block, a campus) still could. A host's relays are counted together
   * because relay keys are free. @default no cap beyond `total`
   */
  perRemote?: number;
}

export interface NegotiationsOptions {
  createPeer: SimplePeerFactory;
  /**
   * Passes one of our signals to `remote` through `via`; false when it could not be sent, `onLost` when it
   * waited and could not go. One that waits goes only if `wanted()` still says so when its turn comes.
   */
  sendSignal(via: string, remote: string, data: SignalData, onLost: () => void, wanted: () => boolean): boolean;
  dials: NegotiationCaps;
  answers: NegotiationCaps;
  onRoute?: ((route: WebRtcRoute) => void) | undefined;
  /** Told of each simple-peer (and so RTCPeerConnection) made, before it is used. */
  onPeerCreated?: ((peer: SimplePeerLike, request: NegotiationRequest) => void) | undefined;
  /** Hand the RTCPeerConnection remote candidates on loopback addresses (remote-candidates.ts). @default false */
  allowLoopbackCandidates?: boolean | undefined;
  /** Hand the RTCPeerConnection remote candidates named by mDNS `.local` names (remote-candidates.ts). @default true */
  allowMdnsCandidates?: boolean | undefined;
  /** Where known: remote candidates at our own addresses are kept only on our OS's ephemeral ports (remote-candidates.ts). */
  ownMachine?: OwnMachine | undefined;
}

/**
 * The WebRTC negotiations in flight, ours and answered, one per (relay, remote): the caps on them, and
 * the one way each ends. Whatever ends it before the data channel opens (an error, an early close, the
 * deadline, the caller's abort, the relay going away) closes its RTCPeerConnection and settles it once.
 */
export class Negotiations {
  /** Bounded by the caps: `start` refuses past them. */
  private readonly inFlight = new Map<string, Negotiation>();
  /** The remote candidates' targets of the negotiations in flight: one negotiation per host:port, a few per address. */
  private readonly candidateTargets = new CandidateTargets();

  constructor(private readonly options: NegotiationsOptions) {}

  get(via: string, remote: string): Negotiation | undefined {
    return this.inFlight.get(negotiationKey(via, remote));
  }

  /** Negotiations of one kind in flight, in all, per relay, per relay network and per remote (maps bounded by the caps). */
  counts(initiator: boolean): NegotiationCounts {
    const counts: NegotiationCounts = { total: 0, byVia: new Map(), byGroup: new Map(), byHost: new Map(), byRemote: new Map(), byHostRemote: new Map() };
    for (const negotiation of this.inFlight.values()) {
      if (negotiation.initiator !== initiator) continue;
      counts.total++;
      addOne(counts.byVia, negotiation.via);
      if (negotiation.group !== undefined) addOne(counts.byGroup, negotiation.group);
      if (negotiation.host !== undefined) addOne(counts.byHost, negotiation.host);
      addOne(counts.byRemote, negotiation.remote);
      addOne(counts.byHostRemote, hostRemoteKey(negotiation.host, negotiation.remote));
    }
    return counts;
  }

  /** Whether one more negotiation of this kind with `remote` through `via` (on `relay`'s network and host) fits under its caps. */
  hasRoom(initiator: boolean, via: string, remote: string, relay: RelayPlace = {}): boolean {
    const caps = initiator ? this.options.dials : this.options.answers;
    const counts = this.counts(initiator);
    return counts.total < caps.total && fitsBelowTotal(caps, counts, via, remote, relay);
  }

  /**
   * When every answer slot is taken and an offer through `via` (of network `group`) fits every other cap:
   * the pending answer to fail so that it may take its place, or undefined (the offer is then ignored).
   * Relay keys are free but networks are not: relays of two networks held all 32 slots (16 each) and a
   * third network's offers went unanswered until those timed out. So an offer through a network holding
   * at least two fewer answers than the busiest pushes out the busiest network's oldest (after the swap
   * no network is larger than the newcomer's, so two never take turns). The oldest, not the newest: an
   * honest negotiation connects within a second or two, so one pending longest is likeliest never to.
   * Within a network whose own slots are all taken, hosts are weighed so: relays on two hosts of a cloud
   * block held its 16, and an honest relay on a third host of it had no answer until they timed out.
   * Neither swap answers more offers at once than before, and each new answer still takes the allowances.
   */
  answerToReplace(via: string, remote: string, relay: Required<RelayPlace>): Negotiation | undefined {
    const caps = this.options.answers;
    const counts = this.counts(false);
    const { group, host } = relay;
    if (!fitsOwnCaps(caps, counts, via, remote, relay)) return undefined;
    if ((counts.byGroup.get(group) ?? 0) >= (caps.perGroup ?? caps.total)) {
      return this.oldestOfBusiest((negotiation) => (negotiation.group === group ? negotiation.host : undefined), counts.byHost, counts.byHost.get(host) ?? 0);
    }
    if (counts.total < caps.total) return undefined;
    return this.oldestOfBusiest((negotiation) => negotiation.group, counts.byGroup, counts.byGroup.get(group) ?? 0);
  }

  /**
   * The oldest pending answer of the busiest of the places `placeOf` names (undefined: not counted), when
   * that place holds at least two more than `newcomerHolds`; otherwise undefined.
   */
  private oldestOfBusiest(placeOf: (negotiation: Negotiation) => string | undefined, held: Map<string, number>, newcomerHolds: number): Negotiation | undefined {
    const sizeOf = (negotiation: Negotiation): number => held.get(placeOf(negotiation) ?? '') ?? 0;
    let oldestOfBusiest: Negotiation | undefined;
    // In start order: the first of the largest place is its oldest.
    for (const negotiation of this.inFlight.values()) {
      if (negotiation.initiator || placeOf(negotiation) === undefined) continue;
      if (oldestOfBusiest === undefined || sizeOf(negotiation) > sizeOf(oldestOfBusiest)) oldestOfBusiest = negotiation;
    }
    if (oldestOfBusiest === undefined || sizeOf(oldestOfBusiest) < newcomerHolds + 2) return undefined;
    return oldestOfBusiest;
  }

  /** Creates the RTCPeerConnection and wires it up. Check `hasRoom` first: over the caps this throws. */
  start(request: NegotiationRequest): Negotiation {
    const { initiator, via, group, host, remote, clock } = request;
    const key = negotiationKey(via, remote);
    if (this.inFlight.has(key) || !this.hasRoom(initiator, via, remote, { group, host })) throw new TransportError(`No room for a WebRTC negotiation with ${remote} via ${via}`, { peerId: remote });
    const what = initiator ? `WebRTC dial to ${remote}` : `WebRTC answer to ${remote}`;
    const peer = this.options.createPeer({ initiator });
    this.options.onPeerCreated?.(peer, request);
    const link = new WebRtcLink(peer, `webrtc://${remote}?via=${via}`, undefined, clock);
    const checks = new PeerChecks(peer);
    let settled = false;
    let signalsReceived = 0;
    let descriptionTaken = false;
    let tcpCandidates = 0;
    let timer: TimerHandle | undefined;
    const onAbort = (): void => negotiation.fail(abortReason(request.signal!));
    const settle = (): void => {
      settled = true;
      clock.clearTimeout(timer);
      if (this.inFlight.get(key) === negotiation) this.inFlight.delete(key);
      this.candidateTargets.release(holder);
      request.signal?.removeEventListener('abort', onAbort);
    };
    /** Adds `count` signals received; past the cap the negotiation fails and false is returned. */
    const countSignals = (count: number): boolean => {
      signalsReceived += count;
      if (signalsReceived <= WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION) return true;
      negotiation.fail(
        new TransportError(`${what}: over ${WEBRTC_MAX_REMOTE_SIGNALS_PER_NEGOTIATION} signals from ${remote} via ${via}`, {
          peerId: remote,
          detail: { reason: 'too-many-signals', via },
        }),
      );
      return false;
    };
    /** It, to CandidateTargets: ended when it holds a slot others wait for too long without connecting. */
    const holder: CandidateHolder = {
      initiator,
      group,
      host,
      clock,
      checksUnanswered: () => checks.unanswered(),
      overstayed: (why) =>
        negotiation.fail(
          new TransportError(
            why === 'hold'
              ? `${what}: not connected within ${WEBRTC_CROWDED_ADDRESS_HOLD_MS} ms of taking a candidate slot other negotiations wait for (at a crowded address, or one of the probing ones at addresses that never answered)`
              : `${what}: no answer to its ICE checks within ${WEBRTC_UNANSWERED_CHECKS_MS} ms of taking a candidate slot other negotiations wait for`,
            { peerId: remote, detail: { reason: 'crowded-address', via } },
          ),
        ),
    };
    /** A candidate that waited for a slot at its address (CandidateTargets), already screened and counted. */
    const handOnLater = (candidate: SignalData): void => {
      if (settled) return;
      try {
        peer.signal(candidate);
      } catch (error) {
        negotiation.fail(new TransportError(`Bad WebRTC candidate from ${remote} via ${via}: ${stackMessage(error)}`, { peerId: remote, cause: error }));
      }
    };
    const negotiation: Negotiation = {
      initiator,
      via,
      group,
      host,
      remote,
      signal: (data) => {
        // Over, it holds no candidate targets (CandidateTargets) and takes none.
        if (settled) return;
        const media = data.type === 'candidate' ? [] : mediaSectionsOf(data.sdp);
        if (media.length > 0) {
          negotiation.fail(
            new TransportError(`${what}: the ${data.type} from ${remote} via ${via} asks for media (${printable(media.slice(0, 4).join(', '))})`, {
              peerId: remote,
              detail: { reason: 'media-section', via },
            }),
          );
          return;
        }
        if (data.type !== 'candidate') {
          // One description from the remote, of its side's kind: a second offer into the one we answer
          // (an ICE restart) had the RTCPeerConnection renegotiate, answer and gather afresh each time: 64
          // offers drew 576 signals from us and held 802 sockets. Our links never renegotiate.
          if (descriptionTaken || data.type !== (initiator ? 'answer' : 'offer')) {
            negotiation.fail(
              new TransportError(`${what}: an unexpected ${data.type} from ${remote} via ${via} (a negotiation takes one description)`, {
                peerId: remote,
                detail: { reason: 'extra-description', via },
              }),
            );
            return;
          }
          descriptionTaken = true;
        }
        const screened = screenRemoteSignal(data, {
          allowLoopback: this.options.allowLoopbackCandidates,
          allowMdns: this.options.allowMdnsCandidates,
          ownMachine: this.options.ownMachine,
          tcpRoom: WEBRTC_MAX_REMOTE_TCP_CANDIDATES_PER_NEGOTIATION - tcpCandidates,
          takesTarget: (target, candidate) => this.candidateTargets.take(holder, target, { candidate, handOn: handOnLater }),
        });
        tcpCandidates += screened.tcp;
        // A candidate inside an SDP costs what a trickled one does, taken out or not (one a host:port of
        // another negotiation holds may be handed on later: 80 at one host are no fewer signals).
        if (!countSignals(data.type === 'candidate' ? 1 : 1 + screened.candidates + screened.refused) || screened.data === undefined) return;
        try {
          peer.signal(screened.data);
        } catch (error) {
          negotiation.fail(new TransportError(`Bad WebRTC signal from ${remote} via ${via}: ${stackMessage(error)}`, { peerId: remote, cause: error }));
        }
      },
      setAside: () => void countSignals(1),
      fail: (error) => {
        if (settled) return;
        settle();
        checks.closeWhenRead(() => link.destroy(error), clock, WEBRTC_UNANSWERED_CHECKS_POLL_MS);
        request.onFailed?.(error);
      },
    };
    // Cut through the link, which asks the remote to hang up first (hang-up.ts): a peer destroyed at once
    // closed under a remote that may be sending, which can crash a remote under @roamhq/wrtc.
    admitOneDataChannel(peer, (violation, onlyChannel) => {
      link.cut(violation, onlyChannel);
      negotiation.fail(new TransportError(`${what}: ${violation.message}`, { peerId: remote, cause: violation, detail: peerErrorDetail(violation) }));
    });
    this.inFlight.set(key, negotiation);
    if (request.timeoutMs !== undefined) {
      const ms = request.timeoutMs;
      timer = clock.setTimeout(() => negotiation.fail(new TransportError(`${what}: not connected in ${ms} ms`, { peerId: remote })), ms);
    }
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const relaySendFailed = (): void =>
      negotiation.fail(new TransportError(`Could not send a WebRTC signal to relay ${via}`, { peerId: remote, detail: { reason: 'relay-send', via } }));
    peer.on('signal', (data) => {
      for (const address of relayCandidateAddresses(data)) this.candidateTargets.noteOwnRelay(address);
      // What waits for its turn is not sent once the negotiation is over: eight dials failing on their
      // offers had 37 candidates go for 2.5 s after, each taking the pace from live negotiations.
      if (!this.options.sendSignal(via, remote, data, relaySendFailed, () => !settled)) relaySendFailed();
    });
    peer.on('connect', () => {
      if (settled) return;
      // Checks there were answered: its candidates take no probing slot (CandidateTargets) from now on.
      if (peer.remoteAddress !== undefined) this.candidateTargets.noteAnswered(peer.remoteAddress);
      settle();
      this.reportRoute(peer, remote, via, initiator);
      request.onConnected(link);
    });
    peer.on('error', (error) => negotiation.fail(new TransportError(`${what}: ${stackMessage(error)}`, { peerId: remote, cause: error, detail: peerErrorDetail(error) })));
    peer.on('close', () => negotiation.fail(new TransportError(`${what}: closed before connecting`, { peerId: remote })));
    return negotiation;
  }

  /** Fails every negotiation running through `via` (it disconnected), or every one. */
  failAll(error: Error, via?: string): void {
    for (const negotiation of [...this.inFlight.values()]) {
      if (via === undefined || negotiation.via === via) negotiation.fail(error);
    }
  }

  private reportRoute(peer: SimplePeerLike, peerId: string, via: string, initiator: boolean): void {
    const { localAddress, localPort, remoteAddress, remotePort } = peer;
    try {
      this.options.onRoute?.({ peerId, via, initiator, localAddress, localPort, remoteAddress, remotePort });
    } catch {
      // an observer's failure must not fail the link
    }
  }
}

/** Negotiations in flight: in all, per relay, per relay network (`group`), per remote, and per remote through one relay host. */
export interface NegotiationCounts {
  total: number;
  byVia: Map<string, number>;
  byGroup: Map<string, number>;
  /** By relay host (NegotiationRequest.host). */
  byHost: Map<string, number>;
  byRemote: Map<string, number>;
  /** Keyed by hostRemoteKey: what NegotiationCaps.perRemote caps. */
  byHostRemote: Map<string, number>;
}

/** Where a relay is, as the Switch counts its peers (Peer.holder): its network and host, where known. */
export interface RelayPlace {
  group?: string | undefined;
  host?: string | undefined;
}

/** Whether one more negotiation with `remote` through `via` (at `relay`) fits under every cap but the total. */
function fitsBelowTotal(caps: NegotiationCaps, counts: NegotiationCounts, via: string, remote: string, relay: RelayPlace): boolean {
  const groupHasRoom = relay.group === undefined || (counts.byGroup.get(relay.group) ?? 0) < (caps.perGroup ?? caps.total);
  return groupHasRoom && fitsOwnCaps(caps, counts, via, remote, relay);
}

/** Whether one more negotiation with `remote` through `via` fits the relay's cap and the sender's through the relay's host. */
function fitsOwnCaps(caps: NegotiationCaps, counts: NegotiationCounts, via: string, remote: string, relay: RelayPlace): boolean {
  return (counts.byVia.get(via) ?? 0) < caps.perVia && (counts.byHostRemote.get(hostRemoteKey(relay.host, remote)) ?? 0) < (caps.perRemote ?? caps.total);
}

function addOne(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** A remote through the relays of one host (ids are hex, host names never hold a newline). */
function hostRemoteKey(host: string | undefined, remote: string): string {
  return `${host ?? ''}\n${remote}`;
}

function negotiationKey(via: string, remote: string): string {
  return `${via}/${remote}`;
}

/** The error a dial fails with when its signal fires: the signal's reason when it is an Error. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new AbortError();
}
