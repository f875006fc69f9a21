import type { ChannelDescriptor } from '../conn/channel-descriptor.js';
import type { Peer } from './peer.js';
import type { Switch } from './switch.js';

/**
 * An Agent (CometBFT's Reactor) owns one or more channels and reacts to peers and their messages.
 * Every method is optional except `channels`. The Switch calls them in this order per peer:
 * `addPeer` (before any message from that peer), then any number of `receive`, then `removePeer`
 * exactly once. Calls are synchronous and never overlap for one agent.
 */
export interface Agent {
  /** The channels this agent owns. Two agents claiming one id is an error at `Switch.start()`. */
  readonly channels: readonly ChannelDescriptor[];
  /** Called by `Switch.start()` before listening and dialling. */
  start?(sw: Switch): void | Promise<void>;
  /** Called by `Switch.stop()` after every peer is closed. Release timers and storage here. */
  stop?(): void | Promise<void>;
  /** A peer connected. Messages may be sent to it from here on. */
  addPeer?(peer: Peer): void;
  /** A peer is gone (`reason` is why: an Error, or undefined for a clean close). Called once. */
  removePeer?(peer: Peer, reason: Error | undefined): void;
  /**
   * A message arrived on one of this agent's channels. Throwing (or rejecting) means the message was
   * unacceptable: the Switch stops that peer with the error. A returned promise also paces the peer:
   * with 64 of its receives unsettled (MAX_ASYNC_RECEIVES_PER_PEER) its connection is paused until
   * half have settled. Agents without `receive` are read in the pull style, with
   * `for await (const { peer, message } of sw.receive(channelId))`.
   */
  receive?(channelId: number, peer: Peer, message: Uint8Array): void | Promise<void>;
}

/** No-op defaults and a handle on the Switch, for agents written as classes. */
export abstract class BaseAgent implements Agent {
  abstract readonly channels: readonly ChannelDescriptor[];
  protected sw: Switch | undefined;

  start(sw: Switch): void | Promise<void> {
    this.sw = sw;
  }

  stop(): void | Promise<void> {
    this.sw = undefined;
  }

  addPeer(_peer: Peer): void {}

  removePeer(_peer: Peer, _reason: Error | undefined): void {}
}
