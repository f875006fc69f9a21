import { hex, resolveChannelDescriptor, type ChannelDescriptor } from '../conn/channel-descriptor.js';
import { ConfigError, ProtocolError, SendError } from '../errors.js';
import { WEBSOCKET_MAX_PAUSED_BYTES } from '../transport/websocket-link.js';
import { MAX_CHANNEL_ID } from '../wire/constants.js';
import { UNMETERED, type MemoryAccount } from '../util/memory-budget.js';
import type { Agent } from './agent.js';
import {
  MAX_ASYNC_RECEIVE_BYTES_PER_PEER,
  MAX_ASYNC_RECEIVES_PER_PEER,
  MAX_RELAY_REFUSALS_REPORTED_PER_WINDOW,
  RELAY_REFUSAL_REPORT_WINDOW_MS,
} from './constants.js';
import { Inbox, type Envelope } from './inbox.js';
import type { Peer } from './peer.js';

interface Owner {
  name: string;
  agent: Agent;
}

/**
 * Which agent owns which channel, and delivery of incoming messages: to the owner's `receive`, or to
 * a bounded inbox read in the pull style when the owner has no `receive`.
 */
export class Router {
  /** Owner by channel id (0..255): an index per message instead of a Map lookup. */
  private readonly owners: (Owner | undefined)[] = new Array<Owner | undefined>(MAX_CHANNEL_ID + 1);
  private readonly inboxes = new Map<number, Inbox>();
  private descriptors: ChannelDescriptor[] = [];
  /** Async receives not settled yet, and their messages' bytes, per peer: an entry only while one is in flight. */
  private readonly asyncReceives = new Map<Peer, { count: number; bytes: number; memory: MemoryAccount }>();
  /** Peers paused because they reached MAX_ASYNC_RECEIVES_PER_PEER or MAX_ASYNC_RECEIVE_BYTES_PER_PEER. */
  private readonly pausedByAsync = new Set<Peer>();
  /** Per agent (keyed by our agents' names only): refusals by other peers reported, and held back, since windowStartMs. */
  private readonly refusalReports = new Map<string, { windowStartMs: number; reported: number; suppressed: number }>();

  constructor(
    private readonly inboxCapacity: number,
    private readonly inboxCapacityBytes: number,
    /**
     * An agent's receive failed on another peer's account (see `route`): the Switch's 'agent:error';
     * `suppressed`: such failures of that agent not reported since the last report.
     */
    private readonly onAgentError: (agent: string, error: Error, suppressed?: number) => void = () => undefined,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Every channel of every agent, resolved. */
  get channels(): readonly ChannelDescriptor[] {
    return this.descriptors;
  }

  /**
   * The most one connection may hold in its pools at their bounds: a full send queue (and one message)
   * on every channel, the async receives in flight, and a paused link's hold.
   */
  connectionBoundBytes(): number {
    let bytes = MAX_ASYNC_RECEIVE_BYTES_PER_PEER + WEBSOCKET_MAX_PAUSED_BYTES;
    for (const descriptor of this.descriptors) bytes += descriptor.sendQueueCapacityBytes! + descriptor.recvMessageCapacity!;
    return bytes;
  }

  /** Claims each agent's channels; two agents on one channel is a ConfigError (nothing is kept then). */
  assign(agents: ReadonlyMap<string, Agent>): void {
    const owners = new Map<number, Owner>();
    const descriptors: ChannelDescriptor[] = [];
    for (const [name, agent] of agents) {
      for (const descriptor of agent.channels) {
        const resolved = resolveChannelDescriptor(descriptor);
        const owner = owners.get(resolved.id);
        if (owner !== undefined) {
          throw new ConfigError('ERR_INVALID_CONFIG', `Channel 0x${hex(resolved.id)} is claimed by both "${owner.name}" and "${name}"`);
        }
        owners.set(resolved.id, { name, agent });
        descriptors.push(resolved);
      }
    }
    for (const [id, owner] of owners) {
      this.owners[id] = owner;
    }
    for (const descriptor of descriptors) {
      if (owners.get(descriptor.id)!.agent.receive !== undefined) continue;
      // At least one message of the channel's largest fits, so an honest sender is paused, never cut.
      this.inboxes.set(descriptor.id, new Inbox(this.inboxCapacity, Math.max(this.inboxCapacityBytes, descriptor.recvMessageCapacity!), descriptor.recvMessageCapacity!));
    }
    this.descriptors = descriptors;
  }

  /**
   * Hands a message to its channel's owner. Throws (so the connection, and only it, is closed) when
   * no agent owns the channel or `receive` throws; a rejected promise from `receive` goes to
   * `onRejected`. Except a SendError about another peer: a receive that passes the message on to a peer
   * whose NodeInfo refuses it (a channel it lacks, a recvMessageCapacity it may set as low as 1 byte)
   * fails on that peer's account, not the sender's, so it is reported as 'agent:error' and the peer
   * that sent the message stays: otherwise any peer could get honest ones cut by a relaying agent.
   */
  route(peer: Peer, channelId: number, message: Uint8Array, onRejected: (error: unknown) => void, memory: MemoryAccount = UNMETERED): void {
    const owner = this.owners[channelId];
    if (owner === undefined) {
      throw new ProtocolError('ERR_UNKNOWN_CHANNEL', `No agent owns channel 0x${hex(channelId)}`, { peerId: peer.id });
    }
    const receive = owner.agent.receive;
    if (receive === undefined) {
      this.inboxes.get(channelId)!.push({ peer, channelId, message });
      return;
    }
    // A throw or rejection means the agent found the message unacceptable: that costs the peer.
    let result: void | Promise<void>;
    try {
      result = receive.call(owner.agent, channelId, peer, message);
    } catch (error) {
      if (!failedOnAnotherPeer(error, peer)) throw error;
      this.reportRefusal(owner.name, error);
      return;
    }
    if (result !== undefined && result instanceof Promise) {
      this.trackAsyncReceive(peer, memory, message.length, result, (error) => {
        if (failedOnAnotherPeer(error, peer)) this.reportRefusal(owner.name, error);
        else onRejected(error);
      });
    }
  }

  /** Reports at most MAX_RELAY_REFUSALS_REPORTED_PER_WINDOW a window per agent; counts the rest. */
  private reportRefusal(agent: string, error: SendError): void {
    const nowMs = this.now();
    let reports = this.refusalReports.get(agent);
    if (reports === undefined) this.refusalReports.set(agent, (reports = { windowStartMs: nowMs, reported: 0, suppressed: 0 }));
    // A clock stepped back starts a window too, rather than holding reports back until it catches up.
    if (nowMs - reports.windowStartMs >= RELAY_REFUSAL_REPORT_WINDOW_MS || nowMs < reports.windowStartMs) {
      reports.windowStartMs = nowMs;
      reports.reported = 0;
    }
    if (reports.reported >= MAX_RELAY_REFUSALS_REPORTED_PER_WINDOW) {
      reports.suppressed++;
      return;
    }
    reports.reported++;
    const suppressed = reports.suppressed;
    reports.suppressed = 0;
    this.onAgentError(agent, error, suppressed === 0 ? undefined : suppressed);
  }

  /**
   * Bounds the receives in flight per peer, in number and in their messages' bytes: the peer is paused
   * at either limit and resumed once both are down to half. The bytes are charged to the peer's account
   * in the node-wide memory budget too, last: the charge may cut this peer (forgetPeer then drops it).
   */
  private trackAsyncReceive(peer: Peer, memory: MemoryAccount, bytes: number, result: Promise<void>, onRejected: (error: unknown) => void): void {
    let inFlight = this.asyncReceives.get(peer);
    if (inFlight === undefined) this.asyncReceives.set(peer, (inFlight = { count: 0, bytes: 0, memory }));
    inFlight.count += 1;
    inFlight.bytes += bytes;
    if ((inFlight.count >= MAX_ASYNC_RECEIVES_PER_PEER || inFlight.bytes >= MAX_ASYNC_RECEIVE_BYTES_PER_PEER) && !this.pausedByAsync.has(peer)) {
      this.pausedByAsync.add(peer);
      peer.connection.pause(this);
    }
    const settled = (): void => {
      const left = this.asyncReceives.get(peer);
      if (left === undefined) return; // the peer is gone
      left.count -= 1;
      left.bytes -= bytes;
      left.memory.release(bytes);
      if (left.count === 0) this.asyncReceives.delete(peer);
      if (left.count <= MAX_ASYNC_RECEIVES_PER_PEER / 2 && left.bytes <= MAX_ASYNC_RECEIVE_BYTES_PER_PEER / 2 && this.pausedByAsync.delete(peer)) {
        peer.connection.resume(this);
      }
    };
    result.then(settled, (error: unknown) => {
      settled();
      onRejected(error);
    });
    memory.charge(bytes);
  }

  /** Pull-style reading of a channel whose agent has no `receive`. */
  receive(channelId: number, signal?: AbortSignal): AsyncIterable<Envelope> {
    const inbox = this.inboxes.get(channelId);
    if (inbox === undefined) {
      const owner = this.owners[channelId];
      throw new ConfigError(
        'ERR_INVALID_ARGUMENT',
        owner === undefined
          ? `No agent owns channel 0x${hex(channelId)} (or the switch is not started)`
          : `Channel 0x${hex(channelId)} is delivered to agent "${owner.name}".receive(); pull-style reading is for agents without receive()`,
      );
    }
    return { [Symbol.asyncIterator]: () => inbox.iterate(signal) };
  }

  /**
   * The peer is gone. Its receives still in flight are no longer counted (as before the node-wide
   * budget: a receive that never settles is the agent's to bound).
   */
  forgetPeer(peer: Peer): void {
    const inFlight = this.asyncReceives.get(peer);
    inFlight?.memory.release(inFlight.bytes);
    this.asyncReceives.delete(peer);
    this.pausedByAsync.delete(peer);
    for (const inbox of this.inboxes.values()) inbox.forgetPeer(peer);
  }

  /** Ends pull-style readers once they have drained what was accepted. */
  close(): void {
    for (const inbox of this.inboxes.values()) inbox.close();
  }
}

/** A send to some other peer that its declared channels or capacities refused. */
function failedOnAnotherPeer(error: unknown, peer: Peer): error is SendError {
  return error instanceof SendError && error.peerId !== undefined && error.peerId !== peer.id;
}
