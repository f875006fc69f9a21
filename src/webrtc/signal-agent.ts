import type { ChannelDescriptor } from '../conn/channel-descriptor.js';
import { ProtocolError } from '../errors.js';
import { BaseAgent } from '../switch/agent.js';
import type { Peer } from '../switch/peer.js';
import type { Switch } from '../switch/switch.js';
import {
  SIGNAL_BURST_MESSAGES,
  SIGNAL_CHANNEL_ID,
  SIGNAL_MAX_MESSAGE_BYTES,
  SIGNAL_RATE_PER_SECOND,
  SIGNAL_SEND_MAX_WAIT_MS,
  SIGNAL_SEND_MAX_WAITING,
  SIGNAL_SEND_PACE_SHARE,
  SIGNAL_RELAYED_ALLOWANCE_FACTOR,
  SIGNAL_RELAYED_SENDER_FACTOR,
  SIGNAL_RELAYED_SENDERS_TRACKED_PER_RELAY,
  SIGNAL_SEND_QUEUE_CAPACITY_MESSAGES,
} from './constants.js';
import { decodeSignalMessage, encodeSignalMessage, type SignalData } from './signal-messages.js';
import { fullBucket, refillBucket, type TokenBucketState } from '../util/token-bucket.js';
import { monotonicNow, systemClock } from '../util/clock.js';
import { SignalPacer, type Pace } from './signal-pacer.js';
import { signalLimitsOf } from './signal-limits.js';
import { countSignalled, forwardLane, forwardShare, hasSignalled, networkOf, rememberRoute, senderShare, takeRouteReply, takesRelayedFrom } from './relay-memory.js';

/** A signal addressed to us. `from` is as trustworthy as `via` (the secure handshake decides). */
export interface IncomingSignal {
  /** Who the signal claims to come from: the relay's authenticated sender, or `via` itself. */
  from: string;
  /** The connected peer that delivered it (a relay, or `from` when signalling directly). */
  via: string;
  data: SignalData;
}

export interface SignalAgentOptions {
  /** Forward signals between two peers we are connected to. @default true */
  relay?: boolean;
  /**
   * Sustained signalling messages per second accepted from one peer. Announced in our NodeInfo, with
   * `burstMessages`: peers pace what they send us to 3/4 of them (bounded below by 1/s and 10). @default 20
   */
  ratePerSecond?: number;
  /** Burst accepted from one peer; past it the peer is stopped with ERR_RATE_LIMIT. @default 100 */
  burstMessages?: number;
  /** Signals addressed to us (the WebRTC transport sets this). */
  onSignal?: (signal: IncomingSignal) => void;
  /** A relay (`via`) told us it is not connected to `target`. */
  onUnreachable?: (via: string, target: string) => void;
  /** A peer we may have been signalling through is gone. */
  onPeerGone?: (peerId: string) => void;
  /**
   * Whether we are negotiating with `from` through `via` (a dial of ours): then `via` relays for us
   * even if it dialled us. The WebRTC transport sets this.
   */
  isNegotiating?: (via: string, from: string) => boolean;
  /**
   * Whether a negotiation with `from` through `via` is in flight, ours or one we answer: its relayed
   * signals do not take from the relay's allowance (the transport caps each negotiation's signals), so
   * a flood of new offers through a relay cannot starve negotiations already under way. The WebRTC
   * transport sets this.
   */
  inNegotiation?: (via: string, from: string) => boolean;
  /** For tests and hosts: the clock. @default Date.now */
  now?: () => number;
}

export interface SignalAgentStats {
  /** Signals forwarded between two other peers. */
  relayed: number;
  /** Signals dropped because the target was not connected (an `unreachable` reply was sent). */
  unreachable: number;
  /** Signals addressed to us. */
  delivered: number;
  /** Relayed signals dropped because the relay exceeded its (larger) bucket, or their sender its share of it. */
  dropped: number;
  /**
   * Signals we would have forwarded but for the target's pace (what it announced it takes from us,
   * bounded), or the sender's share of it: dropped, the sender told `unreachable` (also counted there).
   * To a peer that dialled us, the signals of nodes it signalled through us are not paced.
   */
  paced: number;
}


const BUCKET = Symbol('signal-agent-bucket');
const RELAYED_BUCKET = Symbol('signal-agent-relayed-bucket');
const RELAYED_SENDER_SHARES = Symbol('signal-agent-relayed-sender-shares');

/**
 * The signalling agent on channel 0x01 (`{ type: 'signal', from, to, data }`, msgpack).
 *
 * - Addressed to us: handed to `onSignal` (the WebRTC transport) with the delivering peer as `via`.
 * - Addressed to another peer: relayed if (and only if) we are connected to both and the target takes
 *   it (it dialled us, or it is negotiating with the sender through us), with `from` replaced by the
 *   sender's authenticated id; otherwise an `unreachable` reply goes back.
 * - Every peer has a token bucket for what it originates; a peer that exceeds it is stopped with
 *   ProtocolError `ERR_RATE_LIMIT`. Signals a relay forwards to us have a 10× bucket and are dropped
 *   past it (the relay is not to blame for its other peers); one sender's signals through a relay
 *   take from a share of that bucket as large as its own would be, leaving the rest to the others, and
 *   signals of a negotiation already under way (`inNegotiation`) take from neither. Only a peer we
 *   dialled is taken as a relay: one that dialled us and names another sender is stopped with
 *   `ERR_SPOOFED_SENDER`.
 *   Malformed or oversized messages cost the peer its connection.
 *
 * A relay learns who negotiates with whom (and the SDP, which names candidate addresses) but never
 * sees the data: the secure handshake runs end to end over the data channel.
 */
export class SignalAgent extends BaseAgent {
  /** Announces our limits (NodeInfo): peers pace what they send us to them. */
  readonly channels: readonly ChannelDescriptor[];
  readonly stats: SignalAgentStats = { relayed: 0, unreachable: 0, delivered: 0, dropped: 0, paced: 0 };
  private relay: boolean;
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly now: () => number;
  /** What we originate, paced below what each peer announced it takes from us. */
  private readonly pacer: SignalPacer;
  /**
   * What we forward to a peer we dialled, paced below its relayed allowance (10×): to it we are no relay
   * it chose, and past that allowance it cuts us, however many of its nodes' signals we pass on honestly.
   */
  private readonly forwardPacer: SignalPacer;

  constructor(private readonly options: SignalAgentOptions = {}) {
    super();
    this.relay = options.relay ?? true;
    this.ratePerMs = (options.ratePerSecond ?? SIGNAL_RATE_PER_SECOND) / 1000;
    this.burst = options.burstMessages ?? SIGNAL_BURST_MESSAGES;
    this.now = options.now ?? (() => this.sw?.options.clock.now() ?? systemClock.now());
    this.channels = [
      {
        id: SIGNAL_CHANNEL_ID,
        priority: 1,
        sendQueueCapacity: SIGNAL_SEND_QUEUE_CAPACITY_MESSAGES,
        recvMessageCapacity: SIGNAL_MAX_MESSAGE_BYTES,
        recvMessagesPerSecond: this.ratePerMs * 1000,
        recvMessageBurst: this.burst,
        name: 'signal',
      },
    ];
    // Each peer's pace is what it announced (bounded; the defaults, or ours if lower, when it announced
    // nothing), for what we forward to a peer we dialled ten times that (its relayed allowance).
    const pace = (factor: number, maxWaiting: number): SignalPacer => new SignalPacer({
      paceOf: (peer) => this.paceOf(peer, factor),
      maxWaiting,
      maxWaitMs: SIGNAL_SEND_MAX_WAIT_MS,
      clock: () => this.sw?.options.clock ?? systemClock,
      send: trySendSignal,
    });
    this.pacer = pace(1, SIGNAL_SEND_MAX_WAITING);
    this.forwardPacer = pace(SIGNAL_RELAYED_ALLOWANCE_FACTOR, 0);
  }

  /** What we send `peer`: 3/4 of what it announced it takes from one peer (bounded), times `factor`. */
  private paceOf(peer: Peer, factor: number): Pace {
    const limits = signalLimitsOf(peer, { perSecond: this.ratePerMs * 1000, burst: this.burst });
    return {
      ratePerMs: (factor * SIGNAL_SEND_PACE_SHARE * limits.perSecond) / 1000,
      burst: Math.max(1, Math.floor(factor * SIGNAL_SEND_PACE_SHARE * limits.burst)),
    };
  }

  /** The Switch this agent runs in (set by `start`), for the transport. */
  get switch(): Switch | undefined {
    return this.sw;
  }

  /** Whether to forward signals between two of our peers. Only before the Switch starts. */
  setRelay(relay: boolean): void {
    this.relay = relay;
  }

  /** Sets the handlers after construction (the WebRTC transport owns its agent). */
  setHandlers(handlers: Pick<SignalAgentOptions, 'onSignal' | 'onUnreachable' | 'isNegotiating' | 'inNegotiation' | 'onPeerGone'>): void {
    Object.assign(this.options, handlers);
  }

  /**
   * Sends a signal to `to` through the connected peer `via` (which may be `to` itself), at once or, past
   * the pace `via` takes from us, when its turn comes (SignalPacer). Returns false when `via` is not
   * connected, its queue is full or too many of our signals wait for it; `onLost` hears of one that
   * waited and could not go, or was no longer `wanted` when its turn came.
   */
  sendSignal(via: string, to: string, data: SignalData, onLost?: () => void, wanted?: () => boolean): boolean {
    const sw = this.sw;
    const peer = sw?.getPeer(via);
    if (sw === undefined || peer === undefined) return false;
    if (to === via || peer.direction !== 'inbound') return this.pacer.send(peer, encodeSignalMessage({ type: 'signal', from: sw.nodeId, to, data }), onLost, true, wanted);
    countSignalled(peer, to, 1);
    const lost = (): void => {
      countSignalled(peer, to, -1);
      onLost?.();
    };
    if (this.pacer.send(peer, encodeSignalMessage({ type: 'signal', from: sw.nodeId, to, data }), lost, true, wanted)) return true;
    countSignalled(peer, to, -1);
    return false;
  }

  /**
   * Whether we negotiate with `from` through `peer`: a dial of ours, or (glare) the answer to an offer
   * that met our dial, whose candidates come through the same relay.
   */
  private negotiatesThrough(peer: Peer, from: string): boolean {
    return this.options.isNegotiating?.(peer.id, from) === true || this.options.inNegotiation?.(peer.id, from) === true;
  }

  override stop(): void {
    this.pacer.stop();
    this.forwardPacer.stop();
    super.stop();
  }

  override removePeer(peer: Peer, _reason: Error | undefined): void {
    // Negotiations through it fail as `relay-gone` first: what they had waiting is then lost to no one.
    this.options.onPeerGone?.(peer.id);
    this.pacer.forget(peer);
    this.forwardPacer.forget(peer);
  }

  receive(_channelId: number, peer: Peer, bytes: Uint8Array): void {
    const message = decodeSignalMessage(bytes);
    const sw = this.sw;
    if (sw === undefined) return;
    // A relay forwards what other peers originate: it is not stopped for their excess (that would
    // let one flooder cut us off from an honest relay). Its relayed traffic to us has a separate,
    // larger bucket, and what exceeds it is dropped. What a peer originates itself costs it the
    // connection when it exceeds its bucket. Our relays are the peers we dialled, and any peer we
    // started a negotiation through: another peer that names someone else as the sender is lying,
    // which costs it the connection.
    // An `unreachable` is the peer's own reply to a signal we sent through it: relayed traffic only while
    // that negotiation is in flight. About anything else (a negotiation over, or never ours) it is the
    // peer's own message and takes from its own bucket: counted as relayed, it was dropped past the relayed
    // bucket and never cost its sender anything, at any rate. An honest relay's few trailing replies (one
    // per candidate we sent after the first failed the dial) are well within a burst.
    const unsolicited = message.type === 'unreachable' && this.options.inNegotiation?.(peer.id, message.to) !== true;
    const relayed = (message.type === 'unreachable' && !unsolicited) || (message.type === 'signal' && message.to === sw.nodeId && message.from !== peer.id);
    if (relayed && message.type === 'signal' && peer.direction !== 'outbound' && !this.negotiatesThrough(peer, message.from)) {
      // A relay we did not choose forwards the replies of nodes we signalled through it (its route lasts
      // until 16 newer ones push it out): a late candidate of a negotiation that has ended, or an offer of
      // a node we dialled, sent after we connected or gave up, is what such a relay passes on honestly,
      // and a remote may send one on purpose to get us to cut the relay. Dropped. A node we signalled
      // through it is one the relay routes for us: what it forwards of that node's is the node's own, up to
      // what the relay takes from it (20/s by default, maybe more), so it takes from the relay's relayed
      // allowance (10×), not its own: there, two such nodes each sending 95 had us cut the honest relay.
      // Past the relayed allowance (ten nodes of ours flooding through it at once) the relay is cut: a
      // peer that dialled us may not make us read signals under our nodes' names at any rate.
      if (hasSignalled(peer, message.from)) {
        if (!this.take(peer, RELAYED_BUCKET, SIGNAL_RELAYED_ALLOWANCE_FACTOR)) {
          throw new ProtocolError('ERR_RATE_LIMIT', `Peer forwarded signals of nodes we signalled through it faster than ${SIGNAL_RELAYED_ALLOWANCE_FACTOR}× our allowance`, {
            peerId: peer.id,
            detail: { claimedFrom: message.from },
          });
        }
        this.stats.dropped++;
        return;
      }
      // An answer or candidate of another node (our memory of 64 is not the relay's of 16 routes) is
      // dropped on the relay's own allowance. Any other sender, or past that allowance, is a lie about the sender.
      if (message.data.type !== 'offer' && this.take(peer, BUCKET, 1)) {
        this.stats.dropped++;
        return;
      }
      throw new ProtocolError('ERR_SPOOFED_SENDER', `Peer sent a signal claiming to come from ${message.from}, but it is not our relay`, {
        peerId: peer.id,
        detail: { claimedFrom: message.from },
      });
    }
    if (relayed) {
      // A negotiation under way has its signals capped by the transport: they skip the allowance.
      const from = message.type === 'signal' ? message.from : undefined;
      const underWay = from !== undefined && this.options.inNegotiation?.(peer.id, from) === true;
      if (!underWay && !this.takeRelayed(peer, from)) {
        this.stats.dropped++;
        return;
      }
    } else if (!this.take(peer, BUCKET, 1)) {
      throw new ProtocolError('ERR_RATE_LIMIT', `Peer sent signalling faster than ${this.ratePerMs * 1000}/s (burst ${this.burst})`, {
        peerId: peer.id,
        detail: { ratePerSecond: this.ratePerMs * 1000, burst: this.burst },
      });
    }
    if (message.type === 'unreachable') {
      if (peer.direction === 'inbound') countSignalled(peer, message.to, -1);
      this.options.onUnreachable?.(peer.id, message.to);
      return;
    }
    if (message.to === sw.nodeId) {
      this.stats.delivered++;
      // `from` is the relay's word (or the peer's own, when it signals us directly); the secure
      // handshake over the resulting link checks it, so a lying relay only wastes a dial.
      if (message.from === sw.nodeId) return;
      this.options.onSignal?.({ from: message.from, via: peer.id, data: message.data });
      return;
    }
    // Not relaying (or not to that peer): say so at once, so the dialer fails now, not at its timeout.
    const target = !this.relay || message.to === peer.id ? undefined : sw.getPeer(message.to);
    if (target !== undefined && takesRelayedFrom(target, peer.id)) {
      const forwarded = this.forward(target, peer, encodeSignalMessage({ type: 'signal', from: peer.id, to: message.to, data: message.data }));
      if (forwarded === 'sent') {
        this.stats.relayed++;
        // A peer we dialled takes the replies of the nodes it signalled through us (and only theirs); to
        // a peer that dialled us, so many go at once, unpaced: they are its negotiations.
        rememberRoute(peer, message.to, networkOf(target));
        return;
      }
      if (forwarded === 'paced') this.stats.paced++;
    }
    this.stats.unreachable++;
    // Our own word to the peer, so paced like our signals; advisory, so never kept waiting (past the pace
    // the sender's negotiation ends at its deadline instead of at once).
    this.pacer.send(peer, encodeSignalMessage({ type: 'unreachable', to: message.to }), undefined, false);
  }

  /**
   * Forwards to `target` at the pace of its relayed allowance (10× what it announced, 3/4 of it), each
   * sender within a share of it (forwardShare), none kept waiting. To a peer we dialled (only its routes'
   * signals reach it: its own negotiations), past that allowance it cuts us. To a peer that dialled us (we
   * are a relay it chose), past it it drops what is not part of a negotiation it has under way: such
   * signals only crossed its link to be dropped, so they are paced the same, except those of nodes it
   * signalled through us (its routes: its dials and its answers), which go at once, as that peer takes
   * them whatever its allowance: a negotiation's worth for each signal it sent them (takeRouteReply),
   * paced past that (it answers any offer, so a flooder it answered once was unpaced for as long as it
   * stayed a route). There the lane is also split between the senders' networks (forwardLane): anyone may
   * send it offers through us, and keys are free. 'full': its send queue is.
   */
  private forward(target: Peer, sender: Peer, message: Uint8Array): 'sent' | 'paced' | 'full' {
    if (target.direction === 'inbound' && takeRouteReply(target, sender.id)) return trySendSignal(target, message) ? 'sent' : 'full';
    const now = monotonicNow(this.sw?.options.clock ?? systemClock);
    const share = forwardShare(target, sender.id, this.paceOf(target, 1), now);
    if (target.direction === 'inbound') {
      if (!forwardLane(target, this.paceOf(target, SIGNAL_RELAYED_ALLOWANCE_FACTOR), now).take(networkOf(sender), now, share !== undefined)) return 'paced';
      share!.tokens -= 1;
      return trySendSignal(target, message) ? 'sent' : 'full';
    }
    if (share === undefined || !this.forwardPacer.send(target, message, undefined, false)) return 'paced';
    share.tokens -= 1;
    return 'sent';
  }

  /** Takes one token from one of the peer's buckets (capacity and rate scaled by `factor`). */
  private take(peer: Peer, key: symbol, factor: number): boolean {
    const bucket = this.bucketOf(peer.data, key, factor);
    if (!this.refill(bucket, factor)) return false;
    bucket.tokens -= 1;
    return true;
  }

  /**
   * Takes one token of what `relay` may forward to us and, for a signal, one of `from`'s share of it;
   * none when either is spent, so a sender past its share leaves the relay's allowance to the others.
   */
  private takeRelayed(relay: Peer, from: string | undefined): boolean {
    const total = this.bucketOf(relay.data, RELAYED_BUCKET, SIGNAL_RELAYED_ALLOWANCE_FACTOR);
    let ok = this.refill(total, SIGNAL_RELAYED_ALLOWANCE_FACTOR);
    let share: TokenBucketState | undefined;
    if (from !== undefined) {
      share = senderShare(relay, RELAYED_SENDER_SHARES, from, SIGNAL_RELAYED_SENDERS_TRACKED_PER_RELAY, () => fullBucket(this.burst * SIGNAL_RELAYED_SENDER_FACTOR, this.now()));
      ok = this.refill(share, SIGNAL_RELAYED_SENDER_FACTOR) && ok;
    }
    if (!ok) return false;
    total.tokens -= 1;
    if (share !== undefined) share.tokens -= 1;
    return true;
  }

  /** The bucket under `key`, made full if there is none (capacity scaled by `factor`). */
  private bucketOf<K>(table: { get(key: K): unknown; set(key: K, bucket: TokenBucketState): unknown }, key: K, factor: number): TokenBucketState {
    let bucket = table.get(key) as TokenBucketState | undefined;
    if (bucket === undefined) table.set(key, (bucket = fullBucket(this.burst * factor, this.now())));
    return bucket;
  }

  /** Refills `bucket` up to now (capacity and rate scaled by `factor`); whether it holds a token. */
  private refill(bucket: TokenBucketState, factor: number): boolean {
    return refillBucket(bucket, this.burst * factor, this.ratePerMs * factor, this.now());
  }
}

/**
 * trySend on the signalling channel to a peer that takes the message: one without the channel, or
 * with a smaller recvMessageCapacity (its NodeInfo may say anything), would make trySend throw, here
 * out of the receive() of the peer whose signal we relay, which would have us report an agent error
 * for every such signal.
 */
function trySendSignal(peer: Peer, message: Uint8Array): boolean {
  return peer.maxMessageBytes(SIGNAL_CHANNEL_ID) >= message.length && peer.trySend(SIGNAL_CHANNEL_ID, message);
}
