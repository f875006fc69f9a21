import { ConfigError } from '../errors.js';
import { CONTROL_PACKET_BYTES, MAX_CHANNEL_ID, MSG_PACKET_HEADER_BYTES, PacketKind } from '../wire/constants.js';
import { writeControlPacket } from '../wire/packet.js';
import { LatencyPoint, latencyProbeEnabled, markLatency } from '../util/latency-probe.js';
import { UNMETERED, type MemoryAccount } from '../util/memory-budget.js';
import { BufferPool } from './buffer-pool.js';
import { Channel } from './channel.js';
import { hex, sharedResolvedDescriptor, type ChannelDescriptor } from './channel-descriptor.js';
import { BATCH_POOL_MAX_FREE_BUFFERS, DEFAULT_MAX_BATCH_BYTES, PRIORITY_DECAY_FACTOR, PRIORITY_DECAY_INTERVAL_MS } from './constants.js';
import { messageSurcharge } from './work-charge.js';

/** Up to this many channels a connection finds a channel by scanning its list. */
const SCANNED_CHANNELS_MAX = 8;

/** Shared by every connection of the process: JS runs one flush at a time. */
const batchBuffers = new BufferPool(DEFAULT_MAX_BATCH_BYTES, BATCH_POOL_MAX_FREE_BUFFERS);
import { systemClock } from '../util/clock.js';

/**
 * The channels of one connection and the rule that shares the link between them: each next packet
 * comes from the pending channel with the least recently-sent bytes per unit of priority (CometBFT's
 * rule), so under contention priority 10 gets ~10× the bytes of priority 1 and a lone channel gets all.
 */
export class SendScheduler {
  readonly channels: readonly Channel[];
  /**
   * Channel by id, only for connections with many channels: a few are found faster by a scan, and a
   * 256-slot table per connection would be 2 KiB of an idle peer's memory.
   */
  private readonly byId: (Channel | undefined)[] | undefined;
  private lastDecayMs = 0;
  /** The pooled buffer behind the last batch, until `releaseBatch`. */
  private lentBuffer: Uint8Array | undefined;
  /** Control packets waiting to go out first in the next batch. */
  pongPending = false;
  pingPending = false;
  /**
   * What the messages packed since the Sender last took it add to their frames' charge at a receiver
   * that limits its rate (work-charge.ts): small messages cost it more than their bytes.
   */
  packedMessageSurcharge = 0;

  constructor(
    descriptors: readonly ChannelDescriptor[],
    maxPacketPayloadBytes: number,
    /** Milliseconds; the connection passes its clock's. */
    private readonly now: () => number = systemClock.now,
    memory: MemoryAccount = UNMETERED,
  ) {
    // Made at its exact length (push would leave spare slots in every connection's array).
    this.channels = descriptors.map((descriptor) => new Channel(sharedResolvedDescriptor(descriptor), maxPacketPayloadBytes, memory));
    this.channels.forEach((channel, index) => {
      if (this.channels.findIndex((other) => other.id === channel.id) !== index) {
        throw new ConfigError('ERR_INVALID_CONFIG', `Channel 0x${hex(channel.id)} declared twice`);
      }
    });
    if (this.channels.length > SCANNED_CHANNELS_MAX) {
      this.byId = new Array<Channel | undefined>(MAX_CHANNEL_ID + 1);
      for (const channel of this.channels) this.byId[channel.id] = channel;
    }
  }

  channel(id: number): Channel | undefined {
    return this.byId === undefined ? this.scan(id) : this.byId[id];
  }

  private scan(id: number): Channel | undefined {
    const channels = this.channels;
    for (let i = 0; i < channels.length; i++) if (channels[i]!.id === id) return channels[i];
    return undefined;
  }

  /**
   * Packs control packets and message fragments into one batch of at most `limit` bytes; undefined
   * when nothing is pending. No batch-sized buffer lives per connection, so an idle connection holds
   * none. With `transient` (the link is done with the batch when `write` returns) the batch lies in a
   * pooled buffer: call `releaseBatch()` after the write. Otherwise it is allocated at its exact size
   * (the channels know their queued wire bytes) for the link to keep.
   */
  packBatch(limit: number, transient = false): Uint8Array | undefined {
    let wanted = (this.pongPending ? CONTROL_PACKET_BYTES : 0) + (this.pingPending ? CONTROL_PACKET_BYTES : 0);
    const channels = this.channels;
    for (let i = 0; i < channels.length; i++) wanted += channels[i]!.pendingWireBytes;
    if (wanted === 0) return undefined;
    if (latencyProbeEnabled) markLatency(LatencyPoint.Pack);
    const size = wanted < limit ? wanted : limit;
    let buffer: Uint8Array;
    if (transient && size <= batchBuffers.bufferBytes) {
      this.releaseBatch();
      buffer = this.lentBuffer = batchBuffers.acquire();
    } else {
      buffer = new Uint8Array(size);
    }
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
      const sentMessages = channel.sentMessages;
      const next = channel.writeNextPacket(buffer, offset, size - offset - MSG_PACKET_HEADER_BYTES);
      if (next < 0) break;
      // Charged by its last packet's payload: exact for a message in one packet, more for the few split
      // into packets below the minimum (a batch's end cut them), never less.
      if (channel.sentMessages !== sentMessages) this.packedMessageSurcharge += messageSurcharge(next - offset - MSG_PACKET_HEADER_BYTES);
      offset = next;
    }
    if (offset === 0) {
      this.releaseBatch();
      return undefined;
    }
    return offset === buffer.length ? buffer : buffer.subarray(0, offset);
  }

  /** Returns the pooled buffer of the last transient batch; the batch must not be used afterwards. */
  releaseBatch(): void {
    if (this.lentBuffer === undefined) return;
    batchBuffers.giveBack(this.lentBuffer);
    this.lentBuffer = undefined;
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
