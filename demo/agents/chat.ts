import { bytesToHex } from '@noble/hashes/utils.js';
import {
  BaseAgent,
  ConfigError,
  MeshlinkError,
  ProtocolError,
  encodeMessage,
  isNodeId,
  monotonicNow,
  resolveDecodeLimits,
  systemClock,
  type ChannelDescriptor,
  type Peer,
  type Switch,
} from '../../src/index.js';
import { peerText } from '../printable.js';
import { decodeExactMap } from './exact-map.js';
import { LruSet } from './lru-set.js';
import { PacedForwarding, messagePaceLimits } from './paced-forwarding.js';
import { TokenBucket } from './token-bucket.js';
import { MAX_MONIKER_BYTES, truncateUtf8 } from './topology.js';

/**
 * The demo's chat: flood gossip like the MempoolAgent, with the message's origin and a hop count. A
 * message typed on one node reaches every node connected to it directly or through others, exactly once
 * (a bounded seen-set of message ids), and each node learns who wrote it and over how many links it came.
 *
 * Wire format (msgpack): `{ id: <16 random bytes>, origin: <40-hex id>, name: <≤64 B>, text: <1..1000 B>,
 * hops: <0..MAX_CHAT_HOPS-1> }`, where `hops` counts the links crossed before the one it arrives on (the
 * origin sends 0). A malformed message, or one with hops 0 whose origin is not its sender, costs the
 * sender its connection. The origin is as claimed by the first hop (messages are not signed).
 *
 * Each peer may make us take at most `peerRatePerSecond` messages (burst `peerBurst`), its own and those
 * it passes on; the rest are dropped, not answered by a cut (an honest relay forwarding a crowd's chat
 * can go over for a moment). Without it one peer could flood every node of the mesh, each message passed
 * on by everyone, and push honest messages out of the seen-set so that they arrive twice. And the other
 * side of it: what we pass on to a peer is paced below that allowance (ours, taken to be its own) and
 * shared among the networks it came from, then the peers of each (demo/agents/paced-forwarding.ts):
 * without it, two keys each flooding a relay within their allowance made it pass on twice what the
 * next node takes from it, which dropped the surplus, honest messages among it.
 */

/** The chat's channel id. */
export const ChatCh = 0x32;
export const MAX_CHAT_TEXT_BYTES = 1000;
export const CHAT_ID_BYTES = 16;
/** Links a message may travel; it is not forwarded further. */
export const MAX_CHAT_HOPS = 16;
/** A full message is ~1.15 KB: 1000 B of text, 64 B of name, an id, a node id and the keys. */
export const MAX_CHAT_MESSAGE_BYTES = 1280;
/** Message ids remembered, so that each message is delivered once. */
export const DEFAULT_CHAT_SEEN_CAPACITY = 10_000;
/** Message ids remembered per peer as "it has this one", so nothing is echoed back. */
export const DEFAULT_CHAT_PEER_KNOWN_CAPACITY = 1000;
/** Messages waiting to be passed on to one peer, per source and for all sources (~80 KB). */
export const CHAT_FORWARD_QUEUE_PER_SOURCE = 8;
export const CHAT_FORWARD_QUEUE = 64;
/** How often waiting messages are offered again while any wait: about one of the default pace. */
const CHAT_FORWARD_DRAIN_INTERVAL_MS = 100;
/** Chat messages a peer may make us take per second, sustained (people type far slower)... */
export const DEFAULT_CHAT_PEER_RATE_PER_S = 10;
/** ...and at once. */
export const DEFAULT_CHAT_PEER_BURST = 50;

const CHAT_DECODE_LIMITS = resolveDecodeLimits({
  maxBytes: MAX_CHAT_MESSAGE_BYTES,
  maxDepth: 1,
  maxElements: 10,
  maxStringBytes: MAX_CHAT_TEXT_BYTES,
  maxBinaryBytes: CHAT_ID_BYTES,
});
const CHAT_KEYS = ['id', 'origin', 'name', 'text', 'hops'];
const PEER_STATE = Symbol('chat.peer');

interface Forward {
  readonly id: string;
  readonly bytes: Uint8Array;
  /** Another node's message (counted as forwarded), not ours. */
  readonly relayed: boolean;
}

interface PeerState {
  /** Message ids the peer has (sent us, or we sent it), so nothing is echoed back. */
  known: LruSet<string>;
  bucket: TokenBucket;
}

export interface ChatWireMessage {
  id: Uint8Array;
  origin: string;
  name: string;
  text: string;
  hops: number;
}

export function encodeChatMessage(message: ChatWireMessage): Uint8Array {
  const { id, origin, name, text, hops } = message;
  return encodeMessage({ id, origin, name, text, hops });
}

/**
 * Decodes and validates a chat message; anything else is a ProtocolError ERR_MALFORMED_MESSAGE. Control
 * and bidi characters in the name and text come out as U+FFFD.
 */
export function decodeChatMessage(bytes: Uint8Array, peerId?: string): ChatWireMessage {
  const { fields, bad } = decodeExactMap(bytes, CHAT_DECODE_LIMITS, CHAT_KEYS, 'chat message', peerId);
  const { id, origin, name, text, hops } = fields;
  if (!(id instanceof Uint8Array) || id.length !== CHAT_ID_BYTES) return bad(`id is not ${CHAT_ID_BYTES} bytes`);
  if (!isNodeId(origin)) return bad('origin is not a node id');
  if (typeof name !== 'string' || new TextEncoder().encode(name).length > MAX_MONIKER_BYTES) return bad(`name is not a string of at most ${MAX_MONIKER_BYTES} bytes`);
  if (typeof text !== 'string' || text.length === 0) return bad('text is not a non-empty string');
  if (!Number.isInteger(hops) || (hops as number) < 0 || (hops as number) >= MAX_CHAT_HOPS) return bad(`hops must be 0..${MAX_CHAT_HOPS - 1}`);
  // Shown by the page and printed by `npm start`: no control or bidi characters (passed on as replaced).
  // A replacement (U+FFFD, 3 bytes) can be longer than what it replaced: cut back to the limits this
  // decoder enforces, or the next node refuses what we pass on and cuts us (a stranger's 22 one-byte
  // controls in a name made every neighbour of an honest relay cut it).
  return { id, origin, name: truncateUtf8(peerText(name), MAX_MONIKER_BYTES), text: truncateUtf8(peerText(text), MAX_CHAT_TEXT_BYTES), hops: hops as number };
}

/** A message as the page shows it. */
export interface ChatDelivery {
  /** Hex of the message id. */
  id: string;
  origin: string;
  name: string;
  text: string;
  /** Links it travelled to reach us; 0 for our own. */
  hops: number;
  /** The peer it arrived from; undefined for our own. */
  from: Peer | undefined;
  receivedAt: number;
}

export type ChatListener = (message: ChatDelivery) => void;

export interface ChatStats {
  delivered: number;
  duplicates: number;
  forwarded: number;
  /** Messages dropped because their sender was over its rate. */
  rateLimited: number;
  /** Messages not passed on to a peer because their source was over its share of our pace toward it. */
  forwardDropped: number;
}

export interface ChatAgentOptions {
  /** Our name in messages we write. @default the Switch's moniker */
  name?: string;
  onMessage?: ChatListener;
  /** @default DEFAULT_CHAT_SEEN_CAPACITY */
  seenCapacity?: number;
  /** @default DEFAULT_CHAT_PEER_KNOWN_CAPACITY */
  peerKnownCapacity?: number;
  /** @default DEFAULT_CHAT_PEER_RATE_PER_S */
  peerRatePerSecond?: number;
  /** @default DEFAULT_CHAT_PEER_BURST */
  peerBurst?: number;
}

export class ChatAgent extends BaseAgent {
  readonly channels: readonly ChannelDescriptor[] = [{ id: ChatCh, name: 'chat', priority: 6, recvMessageCapacity: MAX_CHAT_MESSAGE_BYTES }];
  private readonly seen: LruSet<string>;
  private readonly peerKnownCapacity: number;
  private readonly listeners = new Set<ChatListener>();
  private readonly counters: ChatStats = { delivered: 0, duplicates: 0, forwarded: 0, rateLimited: 0, forwardDropped: 0 };
  private readonly forwarding: PacedForwarding<Forward>;
  private name = '';

  constructor(private readonly options: ChatAgentOptions = {}) {
    super();
    this.seen = new LruSet(options.seenCapacity ?? DEFAULT_CHAT_SEEN_CAPACITY);
    this.peerKnownCapacity = options.peerKnownCapacity ?? DEFAULT_CHAT_PEER_KNOWN_CAPACITY;
    if (options.onMessage !== undefined) this.listeners.add(options.onMessage);
    const limits = messagePaceLimits(
      options.peerRatePerSecond ?? DEFAULT_CHAT_PEER_RATE_PER_S,
      options.peerBurst ?? DEFAULT_CHAT_PEER_BURST,
      MAX_CHAT_MESSAGE_BYTES,
      CHAT_FORWARD_QUEUE_PER_SOURCE,
      CHAT_FORWARD_QUEUE,
    );
    this.forwarding = new PacedForwarding<Forward>(limits, CHAT_FORWARD_DRAIN_INTERVAL_MS, (peer, forward) => this.sendForward(peer, forward));
  }

  /** Message ids remembered (at most the seen capacity). */
  get seenCount(): number {
    return this.seen.size;
  }

  /** Messages waiting to be passed on, over all peers: at most CHAT_FORWARD_QUEUE a peer. */
  get forwardPending(): number {
    return this.forwarding.pending.items;
  }

  stats(): ChatStats {
    return { ...this.counters, forwardDropped: this.forwarding.dropped };
  }

  onMessage(listener: ChatListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  override start(sw: Switch): void {
    super.start(sw);
    this.name = truncateUtf8(this.options.name ?? sw.options.moniker, MAX_MONIKER_BYTES);
  }

  override stop(): void {
    this.forwarding.stop();
    super.stop();
  }

  override addPeer(peer: Peer): void {
    peer.data.set(PEER_STATE, {
      known: new LruSet<string>(this.peerKnownCapacity),
      // On time that never steps: on the wall clock, a step forward (NTP, a VM catching up) gave every peer a fresh burst.
      bucket: new TokenBucket(this.options.peerBurst ?? DEFAULT_CHAT_PEER_BURST, this.options.peerRatePerSecond ?? DEFAULT_CHAT_PEER_RATE_PER_S, () => monotonicNow(this.sw?.options.clock ?? systemClock)),
    } satisfies PeerState);
    if (this.sw !== undefined) this.forwarding.open(this.sw, peer);
  }

  override removePeer(peer: Peer): void {
    peer.data.delete(PEER_STATE);
    this.forwarding.close(peer);
  }

  /** Writes a message to every peer (who pass it on). Returns it as delivered here. */
  send(text: string): ChatDelivery {
    const sw = this.sw;
    if (sw === undefined) throw new MeshlinkError('ERR_NOT_STARTED', 'ChatAgent is not running (start the Switch first)');
    const size = new TextEncoder().encode(text).length;
    if (size === 0 || size > MAX_CHAT_TEXT_BYTES) throw new ConfigError('ERR_INVALID_ARGUMENT', `A chat message is 1..${MAX_CHAT_TEXT_BYTES} bytes of text, got ${size}`);
    const message: ChatWireMessage = { id: crypto.getRandomValues(new Uint8Array(CHAT_ID_BYTES)), origin: sw.nodeId, name: this.name, text, hops: 0 };
    const delivery = this.deliver(message, 0, undefined)!;
    this.forward(sw, message, undefined);
    return delivery;
  }

  receive(_channelId: number, peer: Peer, bytes: Uint8Array): void {
    const state = peer.data.get(PEER_STATE) as PeerState | undefined;
    if (state !== undefined && !state.bucket.take()) {
      this.counters.rateLimited++;
      return;
    }
    const message = decodeChatMessage(bytes, peer.id); // throws: the Switch drops the peer
    if (message.hops === 0 && message.origin !== peer.id) {
      throw new ProtocolError('ERR_SPOOFED_SENDER', `Chat message with hops 0 from ${peer.id} claims origin ${message.origin}`, { peerId: peer.id });
    }
    const id = bytesToHex(message.id);
    state?.known.add(id);
    const travelled = message.hops + 1;
    if (this.deliver(message, travelled, peer) === undefined) return;
    const sw = this.sw;
    if (sw !== undefined && travelled < MAX_CHAT_HOPS) this.forward(sw, { ...message, hops: travelled }, peer);
  }

  /** Records and announces a message; undefined if it was seen before. */
  private deliver(message: ChatWireMessage, hops: number, from: Peer | undefined): ChatDelivery | undefined {
    const id = bytesToHex(message.id);
    if (this.seen.has(id)) {
      this.counters.duplicates++;
      return undefined;
    }
    this.seen.add(id);
    this.counters.delivered++;
    const delivery: ChatDelivery = { id, origin: message.origin, name: message.name, text: message.text, hops, from, receivedAt: Date.now() };
    for (const listener of this.listeners) {
      try {
        listener(delivery);
      } catch (error) {
        console.error('ChatAgent: a message listener threw', error);
      }
    }
    return delivery;
  }

  private forward(sw: Switch, message: ChatWireMessage, from: Peer | undefined): void {
    const id = bytesToHex(message.id);
    const bytes = encodeChatMessage(message);
    for (const peer of sw.peers) {
      // Not to a peer that declared a smaller recvMessageCapacity: trySend would throw out of the
      // sender's receive(), ending this loop before the peers after it.
      if (peer === from || peer.id === message.origin || peer.maxMessageBytes(ChatCh) < bytes.length) continue;
      const known = (peer.data.get(PEER_STATE) as PeerState | undefined)?.known;
      if (known?.has(id) === true) continue;
      this.forwarding.forward(peer, { id, bytes, relayed: from !== undefined }, bytes.length, from);
    }
  }

  /** Passes a waiting message on to `peer` now, unless it has it by now. */
  private sendForward(peer: Peer, { id, bytes, relayed }: Forward): boolean {
    const known = (peer.data.get(PEER_STATE) as PeerState | undefined)?.known;
    if (known === undefined || known.has(id)) return false;
    // trySend, as the mempool: a peer whose queue is full misses this message rather than stall the rest.
    if (!peer.trySend(ChatCh, bytes)) return false;
    known.add(id);
    if (relayed) this.counters.forwarded++;
    return true;
  }
}
