import { AbortError, ProtocolError } from '../errors.js';
import type { Peer } from './peer.js';

export interface Envelope {
  peer: Peer;
  channelId: number;
  message: Uint8Array;
}

/**
 * Holds messages for a channel read in the pull style. Bounded in messages and in bytes: when either
 * is full, the peers that keep sending are paused (their TCP windows close) until a reader catches up
 * (to half of both), so nothing is dropped. A paused peer delivers nothing more, but each peer that
 * arrives while the inbox is full still delivers the one message that finds it full, and messages of
 * peers that left stay for the readers: fresh keys could grow it that way without end. So past twice
 * the capacity, plus one message for each connected peer it holds paused (each may have brought its one
 * message past the capacity; the Switch's peer limits bound them), a message is refused and costs its
 * sender the connection (ERR_RATE_LIMIT): refused, not accepted and lost. `capacityBytes` is at least
 * `maxMessageBytes`, so a lone message of the channel's largest size always fits.
 */
export class Inbox {
  private readonly queue: Envelope[] = [];
  private head = 0;
  private readonly readers: ((envelope: Envelope | undefined) => void)[] = [];
  private readonly pausedPeers = new Set<Peer>();
  private closed = false;
  /** Bytes of the messages queued. */
  private bytes = 0;

  constructor(
    readonly capacity: number,
    readonly capacityBytes: number,
    /** The channel's recvMessageCapacity: what one paused peer's last message may add. */
    private readonly maxMessageBytes: number = capacityBytes,
  ) {}

  get length(): number {
    return this.queue.length - this.head;
  }

  /** Throws ProtocolError ERR_RATE_LIMIT, without keeping the message, past the hard limit (above). */
  push(envelope: Envelope): void {
    if (this.closed) return;
    const reader = this.readers.shift();
    if (reader !== undefined) {
      reader(envelope);
      return;
    }
    const size = envelope.message.length;
    if (this.length >= 2 * this.capacity + this.pausedPeers.size || this.bytes + size > 2 * this.capacityBytes + this.pausedPeers.size * this.maxMessageBytes) {
      throw new ProtocolError('ERR_RATE_LIMIT', `Sent on channel 0x${envelope.channelId.toString(16).padStart(2, '0')} while its inbox was full (${this.length} unread, ${this.bytes} bytes)`, {
        peerId: envelope.peer.id,
        detail: { channelId: envelope.channelId, unread: this.length, unreadBytes: this.bytes, capacity: this.capacity, capacityBytes: this.capacityBytes },
      });
    }
    this.queue.push(envelope);
    this.bytes += size;
    if ((this.length >= this.capacity || this.bytes >= this.capacityBytes) && !this.pausedPeers.has(envelope.peer)) {
      this.pausedPeers.add(envelope.peer);
      envelope.peer.connection.pause(this);
    }
  }

  /** Next envelope, or undefined once the inbox is closed and empty; rejects with AbortError when `signal` fires. */
  next(signal?: AbortSignal): Promise<Envelope | undefined> {
    if (this.length > 0) {
      const envelope = this.queue[this.head]!;
      this.queue[this.head] = undefined as unknown as Envelope;
      this.head += 1;
      this.bytes -= envelope.message.length;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (this.pausedPeers.size > 0 && this.length <= this.capacity / 2 && this.bytes <= this.capacityBytes / 2) this.resumePeers();
      return Promise.resolve(envelope);
    }
    if (this.closed) return Promise.resolve(undefined);
    if (signal?.aborted) return Promise.reject(abortErrorOf(signal));
    return new Promise((resolve, reject) => {
      const reader = (envelope: Envelope | undefined): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(envelope);
      };
      // The reader leaves the line on abort, so a message pushed afterwards goes to another reader or
      // waits in the queue: nothing is handed to a reader that gave up.
      const onAbort = (): void => {
        const index = this.readers.indexOf(reader);
        if (index >= 0) this.readers.splice(index, 1);
        reject(abortErrorOf(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.readers.push(reader);
    });
  }

  /** A departed peer need not be resumed; its accepted messages stay for the readers. */
  forgetPeer(peer: Peer): void {
    this.pausedPeers.delete(peer);
  }

  close(): void {
    this.closed = true;
    this.resumePeers();
    for (const reader of this.readers.splice(0)) reader(undefined);
  }

  private resumePeers(): void {
    // Cleared first: a resumed peer hands on what it had decoded at once, and when that fills the inbox
    // again the peer must be paused again, not taken as still paused (and pushed past the hard limit).
    const peers = [...this.pausedPeers];
    this.pausedPeers.clear();
    for (const peer of peers) peer.connection.resume(this);
  }

  async *iterate(signal?: AbortSignal): AsyncGenerator<Envelope, void, undefined> {
    for (;;) {
      const envelope = await this.next(signal);
      if (envelope === undefined) return;
      yield envelope;
    }
  }
}

function abortErrorOf(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new AbortError('Reading the inbox was aborted');
}
