import { AbortError, ProtocolError } from '../errors.js';
import type { Peer } from './peer.js';

export interface Envelope {
  peer: Peer;
  channelId: number;
  message: Uint8Array;
}

/** A first-in first-out queue with an O(1) shift (a moving head, compacted once half of it is spent). */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The first item, left in place; only when length > 0. */
  peek(): T {
    return this.items[this.head]!;
  }

  /** The first item; only when length > 0. */
  shift(): T {
    const item = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }
}

/** One peer's messages in an inbox, in the order it sent them. */
interface Lane {
  readonly peer: Peer;
  readonly envelopes: Fifo<Envelope>;
  bytes: number;
  /** Its peer has left (its messages stay for the readers). */
  departed: boolean;
}

/**
 * Holds messages for a channel read in the pull style. Readers take one message from each peer holding
 * some in turn, in each peer's order. Bounded in messages and in bytes: when either is full, a peer that
 * holds MORE THAN ITS SHARE of it is paused (its TCP window closes) until readers have taken all it
 * holds, or caught up (to half of both), so nothing is dropped. Its share: the capacity over the peers
 * holding messages, and past half again the capacity one message (the one it just added: each that
 * readers take lets it add one). Resumed only at half, a peer paused while holding a message or two
 * waited for the whole inbox to drain while flooders paused at a full share refilled it at each resume:
 * with 30 keys flooding, four honest peers got 184 of 3,200 messages in 8 s, the victim's CPU 6 % busy
 * (bench/recv-share.ts, flooders in other processes).
 *
 * First come, first served, with whoever added to a full inbox paused, one key flooding it kept it
 * full: every honest peer's next message found it full and paused that peer's whole connection (its
 * other channels too), and on each resume the flooder's decoded frame filled it first: of what four
 * honest peers sent at 100 messages a second each, 234 of 382 got through with one key flooding, 80 of
 * 395 with eight (test/hostile/pull-inbox-share.test.ts).
 *
 * A paused peer delivers nothing more, but each peer still delivers the message that finds the inbox
 * full, a peer holding one message may add the next, and messages of peers that left stay for the
 * readers: fresh keys could grow it that way without end. So past twice the capacity, plus one message
 * for each connected peer holding some or held paused (the Switch's peer limits bound them), a message
 * is refused and costs its sender the connection (ERR_RATE_LIMIT): refused, not accepted and lost.
 * `capacityBytes` is at least `maxMessageBytes`, so a lone message of the channel's largest size fits.
 */
export class Inbox {
  /** Lanes holding messages, by peer; a lane goes once empty. */
  private readonly lanes = new Map<Peer, Lane>();
  /** The same lanes, in the order readers take from them (one message, then to the back). */
  private readonly turns = new Fifo<Lane>();
  /** Lanes whose peer is still connected. */
  private connectedLanes = 0;
  private readonly readers: ((envelope: Envelope | undefined) => void)[] = [];
  private readonly pausedPeers = new Set<Peer>();
  private closed = false;
  /** Messages queued. */
  private count = 0;
  /** Bytes of the messages queued. */
  private bytes = 0;

  constructor(
    readonly capacity: number,
    readonly capacityBytes: number,
    /** The channel's recvMessageCapacity: what one paused peer's last message may add. */
    private readonly maxMessageBytes: number = capacityBytes,
  ) {}

  get length(): number {
    return this.count;
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
    const slack = this.pausedPeers.size + this.connectedLanes;
    if (this.count >= 2 * this.capacity + slack || this.bytes + size > 2 * this.capacityBytes + (slack + 1) * this.maxMessageBytes) {
      throw new ProtocolError('ERR_RATE_LIMIT', `Sent on channel 0x${envelope.channelId.toString(16).padStart(2, '0')} while its inbox was full (${this.count} unread, ${this.bytes} bytes)`, {
        peerId: envelope.peer.id,
        detail: { channelId: envelope.channelId, unread: this.count, unreadBytes: this.bytes, capacity: this.capacity, capacityBytes: this.capacityBytes },
      });
    }
    let lane = this.lanes.get(envelope.peer);
    if (lane === undefined) {
      this.lanes.set(envelope.peer, (lane = { peer: envelope.peer, envelopes: new Fifo(), bytes: 0, departed: false }));
      this.turns.push(lane);
      this.connectedLanes += 1;
    }
    lane.envelopes.push(envelope);
    lane.bytes += size;
    this.count += 1;
    this.bytes += size;
    if (!this.pausedPeers.has(envelope.peer) && this.holdsTooMuch(lane)) {
      this.pausedPeers.add(envelope.peer);
      envelope.peer.connection.pause(this);
    }
  }

  /** The inbox is full and `lane` holds more than its share of it (see the class). */
  private holdsTooMuch(lane: Lane): boolean {
    if (this.count < this.capacity && this.bytes < this.capacityBytes) return false;
    const held = lane.envelopes.length;
    const holders = this.turns.length;
    if (held * holders >= this.capacity || lane.bytes * holders >= this.capacityBytes) return true;
    // Under its share: past half again the capacity, all but the one message it just added is too much.
    return held >= 2 && (2 * this.count >= 3 * this.capacity || 2 * this.bytes >= 3 * this.capacityBytes);
  }

  /** Next envelope, or undefined once the inbox is closed and empty; rejects with AbortError when `signal` fires. */
  next(signal?: AbortSignal): Promise<Envelope | undefined> {
    if (this.count > 0) {
      const lane = this.turns.peek();
      const envelope = lane.envelopes.shift();
      const size = envelope.message.length;
      lane.bytes -= size;
      this.count -= 1;
      this.bytes -= size;
      // A lone lane keeps its turn: one peer's messages are read as cheaply as before lanes.
      if (lane.envelopes.length === 0) {
        this.dropLane(this.turns.shift());
        // It holds nothing now, under any share: it must not wait for the others' lanes to drain too.
        if (this.pausedPeers.delete(lane.peer)) lane.peer.connection.resume(this);
      } else if (this.turns.length > 1) this.turns.push(this.turns.shift());
      if (this.pausedPeers.size > 0 && this.count <= this.capacity / 2 && this.bytes <= this.capacityBytes / 2) this.resumePeers();
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
    const lane = this.lanes.get(peer);
    if (lane !== undefined && !lane.departed) {
      lane.departed = true;
      this.connectedLanes -= 1;
    }
  }

  private dropLane(lane: Lane): void {
    this.lanes.delete(lane.peer);
    if (!lane.departed) this.connectedLanes -= 1;
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
