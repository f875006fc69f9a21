import { ConfigError } from '../errors.js';
import { CONTROL_PACKET_BYTES, MSG_PACKET_HEADER_BYTES, PacketKind } from '../wire/constants.js';
import { writeControlPacket } from '../wire/packet.js';
import { Channel } from './channel.js';
import { hex, resolveChannelDescriptor, type ChannelDescriptor } from './channel-descriptor.js';
import { PRIORITY_DECAY_FACTOR, PRIORITY_DECAY_INTERVAL_MS } from './constants.js';
import { systemClock } from '../util/clock.js';

/**
 * The channels of one connection and the rule that shares the link between them: each next packet
 * comes from the pending channel with the least recently-sent bytes per unit of priority (CometBFT's
 * rule), so under contention priority 10 gets ~10× the bytes of priority 1 and a lone channel gets all.
 */
export class SendScheduler {
  readonly channels: Channel[] = [];
  private readonly byId: (Channel | undefined)[] = new Array<Channel | undefined>(256);
  private lastDecayMs = 0;
  /** Control packets waiting to go out first in the next batch. */
  pongPending = false;
  pingPending = false;

  constructor(
    descriptors: readonly ChannelDescriptor[],
    maxPacketPayloadBytes: number,
    /** Milliseconds; the connection passes its clock's. */
    private readonly now: () => number = systemClock.now,
  ) {
    for (const descriptor of descriptors) {
      const channel = new Channel(resolveChannelDescriptor(descriptor), maxPacketPayloadBytes);
      if (this.byId[channel.id] !== undefined) throw new ConfigError('ERR_INVALID_CONFIG', `Channel 0x${hex(channel.id)} declared twice`);
      this.byId[channel.id] = channel;
      this.channels.push(channel);
    }
  }

  channel(id: number): Channel | undefined {
    return this.byId[id];
  }

  /**
   * Packs control packets and message fragments into one batch of at most `limit` bytes; undefined
   * when nothing is pending. The batch is allocated at its exact size (the channels know their queued
   * wire bytes) and handed to the link, which may keep it: no batch-sized buffer lives per connection,
   * so an idle connection holds none, and nothing is copied twice.
   */
  packBatch(limit: number): Uint8Array | undefined {
    let wanted = (this.pongPending ? CONTROL_PACKET_BYTES : 0) + (this.pingPending ? CONTROL_PACKET_BYTES : 0);
    const channels = this.channels;
    for (let i = 0; i < channels.length; i++) wanted += channels[i]!.pendingWireBytes;
    if (wanted === 0) return undefined;
    const size = wanted < limit ? wanted : limit;
    const buffer = new Uint8Array(size);
    let offset = 0;
    if (this.pongPending) {
      this.pongPending = false;
      offset = writeControlPacket(buffer, offset, PacketKind.Pong);
    }
    if (this.pingPending) {
      this.pingPending = false;
      offset = writeControlPacket(buffer, offset, PacketKind.Ping);
    }
    this.decayPriorities();
    while (size - offset >= MSG_PACKET_HEADER_BYTES) {
      const channel = this.pickChannel();
      if (channel === undefined) break;
      const next = channel.writeNextPacket(buffer, offset, size - offset - MSG_PACKET_HEADER_BYTES);
      if (next < 0) break;
      offset = next;
    }
    if (offset === 0) return undefined;
    return offset === size ? buffer : buffer.subarray(0, offset);
  }

  /** The pending channel with the least recently-sent bytes per unit of priority. */
  private pickChannel(): Channel | undefined {
    let best: Channel | undefined;
    let bestRatio = Infinity;
    const channels = this.channels;
    for (let i = 0; i < channels.length; i++) {
      const channel = channels[i]!;
      if (channel.pendingWireBytes === 0) continue;
      const ratio = channel.recentlySent / channel.descriptor.priority;
      if (ratio < bestRatio) {
        bestRatio = ratio;
        best = channel;
      }
    }
    return best;
  }

  /** Decays lazily at pick time instead of with a timer per connection: idle peers cost no wake-ups. */
  private decayPriorities(): void {
    const now = this.now();
    // A wall clock that stepped back restarts the interval instead of stalling decay until it catches up.
    if (now < this.lastDecayMs) this.lastDecayMs = now;
    const intervals = Math.floor((now - this.lastDecayMs) / PRIORITY_DECAY_INTERVAL_MS);
    if (intervals <= 0) return;
    this.lastDecayMs = now;
    const factor = intervals > 50 ? 0 : PRIORITY_DECAY_FACTOR ** intervals;
    for (const channel of this.channels) channel.recentlySent *= factor;
  }
}
