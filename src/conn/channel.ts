import { ProtocolError } from '../errors.js';
import { hex, type ResolvedChannelDescriptor } from './channel-descriptor.js';

export interface ChannelStatus {
  id: number;
  name: string;
  priority: number;
  sendQueueLength: number;
  sendQueueCapacity: number;
  sentMessages: number;
  sentBytes: number;
  receivedMessages: number;
  receivedBytes: number;
}

type RoomWaiter = () => void;

/**
 * One channel of an MConnection: a bounded FIFO of whole messages to send, the packet cursor into the
 * head message, and reassembly of incoming fragments. Not shared between connections.
 */
export class Channel {
  /** Decayed count of bytes recently sent; the scheduler favours the lowest recentlySent / priority. */
  recentlySent = 0;
  sentMessages = 0;
  sentBytes = 0;
  receivedMessages = 0;
  receivedBytes = 0;

  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;
  /** Bytes of the head message already packed. */
  private headOffset = 0;
  private readonly roomWaiters: RoomWaiter[] = [];
  private readonly recvParts: Uint8Array[] = [];
  private recvLength = 0;

  constructor(readonly descriptor: ResolvedChannelDescriptor) {}

  get id(): number {
    return this.descriptor.id;
  }

  get queueLength(): number {
    return this.queue.length - this.queueHead;
  }

  get hasRoom(): boolean {
    return this.queueLength < this.descriptor.sendQueueCapacity;
  }

  get isSendPending(): boolean {
    return this.queueHead < this.queue.length;
  }

  /** Adds a message if there is room. */
  tryEnqueue(message: Uint8Array): boolean {
    if (!this.hasRoom) return false;
    this.queue.push(message);
    return true;
  }

  /** Registers a callback for when a queue slot frees; returns a function that cancels it. */
  waitForRoom(waiter: RoomWaiter): () => void {
    this.roomWaiters.push(waiter);
    return () => {
      const index = this.roomWaiters.indexOf(waiter);
      if (index >= 0) this.roomWaiters.splice(index, 1);
    };
  }

  /**
   * The next fragment of the head message: [message, start, length, isLast]. Call `advance(length)`
   * after writing it. Zero-length messages yield one empty last fragment.
   */
  peekFragment(maxPayloadBytes: number): { message: Uint8Array; start: number; length: number; isLast: boolean } {
    const message = this.queue[this.queueHead]!;
    const remaining = message.length - this.headOffset;
    const length = remaining < maxPayloadBytes ? remaining : maxPayloadBytes;
    return { message, start: this.headOffset, length, isLast: length === remaining };
  }

  /** Marks `length` bytes of the head message sent, popping it when complete. */
  advance(length: number, isLast: boolean, wireBytes: number): void {
    this.recentlySent += wireBytes;
    this.sentBytes += length;
    if (!isLast) {
      this.headOffset += length;
      return;
    }
    this.headOffset = 0;
    this.queue[this.queueHead] = EMPTY;
    this.queueHead += 1;
    this.sentMessages += 1;
    // Compact occasionally so the array does not grow without bound under steady traffic.
    if (this.queueHead >= 1024 && this.queueHead * 2 >= this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    } else if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
    this.roomWaiters.shift()?.();
  }

  /**
   * Adds an incoming fragment; returns the whole message on the last one. Fails when the message
   * would exceed the channel's recvMessageCapacity, before buffering the excess.
   */
  receiveFragment(payload: Uint8Array, isLast: boolean): Uint8Array | ProtocolError | undefined {
    const total = this.recvLength + payload.length;
    if (total > this.descriptor.recvMessageCapacity) {
      return new ProtocolError(
        'ERR_MESSAGE_TOO_LARGE',
        `Message on channel 0x${hex(this.id)} exceeds recvMessageCapacity ${this.descriptor.recvMessageCapacity} bytes`,
        { detail: { channelId: this.id, limit: this.descriptor.recvMessageCapacity, received: total } },
      );
    }
    if (!isLast) {
      // The payload is a view into the frame: keep a copy.
      this.recvParts.push(payload.slice());
      this.recvLength = total;
      return undefined;
    }
    let message: Uint8Array;
    if (this.recvParts.length === 0) {
      message = payload.slice();
    } else {
      message = new Uint8Array(total);
      let offset = 0;
      for (const part of this.recvParts) {
        message.set(part, offset);
        offset += part.length;
      }
      message.set(payload, offset);
      this.recvParts.length = 0;
      this.recvLength = 0;
    }
    this.receivedMessages += 1;
    this.receivedBytes += message.length;
    return message;
  }

  /** Wakes every waiting sender once; each re-checks the connection state. */
  wakeAllWaiters(): void {
    const waiters = this.roomWaiters.splice(0, this.roomWaiters.length);
    for (const waiter of waiters) waiter();
  }

  /** Drops queued messages and wakes every waiter (they will see the connection closed). */
  clear(): void {
    this.queue.length = 0;
    this.queueHead = 0;
    this.headOffset = 0;
    this.recvParts.length = 0;
    this.recvLength = 0;
    this.wakeAllWaiters();
  }

  status(): ChannelStatus {
    return {
      id: this.id,
      name: this.descriptor.name,
      priority: this.descriptor.priority,
      sendQueueLength: this.queueLength,
      sendQueueCapacity: this.descriptor.sendQueueCapacity,
      sentMessages: this.sentMessages,
      sentBytes: this.sentBytes,
      receivedMessages: this.receivedMessages,
      receivedBytes: this.receivedBytes,
    };
  }
}

const EMPTY = new Uint8Array(0);
