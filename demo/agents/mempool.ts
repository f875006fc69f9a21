import { BaseAgent, ConfigError, MeshlinkError, peerNetworkGroup, type ChannelDescriptor, type Envelope, type Peer, type Switch } from '../../src/index.js';
import type { FairOutboxLimits } from './fair-outbox.js';
import { Allowances, type Allowance } from './mempool-allowance.js';
import { MAX_TX_BYTES, MempoolCh, TX_MESSAGE_OVERHEAD_BYTES, decodeTxMessage, encodeTxMessage, txHash } from './mempool-wire.js';
import { LruSet } from './lru-set.js';
import { FORWARD_BURST_SHARE, FORWARD_RATE_SHARE, PacedForwarding } from './paced-forwarding.js';

/**
 * The seed's example (Tendermint's p2p README, "MempoolReactor"), kept close to the Go original:
 *
 *   NewMempoolAgent(sw)          → new MempoolAgent(options), then sw.addAgent('mempool', agent)
 *   Start() / Stop()             → start(sw) / stop(), called by the Switch; both idempotent
 *   switchEventsRoutine()        → sw.on('peer:connected' | 'peer:disconnected', …)
 *   gossipTxRoutine()            → for await (const { peer, message } of sw.receive(MempoolCh))
 *   peer.TrySend(MempoolCh, msg) → peer.trySend(MempoolCh, msg)
 *
 * Added over the original, because a real network needs them: de-duplication by tx hash in a bounded
 * seen-set, a per-peer record of the txs each peer is known to have (so nothing is echoed back), and
 * a malformed message costing its sender the connection, and a per-peer allowance (txs and bytes a
 * second) past which a peer's txs are dropped: every tx taken is passed on to every other peer, so
 * without it one peer could make us flood the whole mesh and crowd honest txs out of full queues.
 * And the other side of it: what we pass on to a peer is paced below its allowance for us, and shared
 * fairly among the networks it came from, then the peers in each (demo/agents/fair-outbox.ts), so
 * several flooders each within its allowance cannot make us spend the next node's allowance for us
 * and have honest txs dropped there. A network's departed peers leave their allowance behind for its
 * next key (demo/agents/mempool-allowance.ts), so reconnecting buys no fresh burst.
 */

export { MAX_TX_BYTES, MempoolCh, decodeTxMessage, encodeTxMessage, txHash, type TxMessage } from './mempool-wire.js';

/** Tx hashes remembered for de-duplication: 100k × ~100 bytes ≈ 10 MB at most. */
export const DEFAULT_SEEN_CAPACITY_TXS = 100_000;
/** Tx hashes remembered per peer as "it has this one": smaller, as it is paid per peer. */
export const DEFAULT_PEER_KNOWN_CAPACITY_TXS = 10_000;

/**
 * Txs a peer may make us take (and pass on to every other peer) per second, sustained, and at once. A
 * relay forwards the txs of a whole mesh over one link: the testnet's 30 nodes at one tx every 2 s are 15.
 */
export const DEFAULT_MEMPOOL_PEER_RATE_PER_S = 100;
export const DEFAULT_MEMPOOL_PEER_BURST = 200;
/** Bytes of tx messages a peer may make us take per second, sustained, and at once (16 txs of the largest size). */
export const DEFAULT_MEMPOOL_PEER_BYTES_PER_S = 1024 * 1024;
export const DEFAULT_MEMPOOL_PEER_BURST_BYTES = 16 * (MAX_TX_BYTES + TX_MESSAGE_OVERHEAD_BYTES);

/** Txs waiting to be passed on to one peer, per source and for all sources (~1 MiB of the largest). */
export const FORWARD_QUEUE_PER_SOURCE_TXS = 16;
export const FORWARD_QUEUE_TXS = 128;
const FORWARD_QUEUE_PER_SOURCE_BYTES = 4 * (MAX_TX_BYTES + TX_MESSAGE_OVERHEAD_BYTES);
export const FORWARD_QUEUE_BYTES = 16 * (MAX_TX_BYTES + TX_MESSAGE_OVERHEAD_BYTES);
/** How often waiting txs are offered again while any wait: 2 txs of the default pace. */
const FORWARD_DRAIN_INTERVAL_MS = 20;
/** Key of the per-peer state in `peer.data`; a symbol so no other agent can clash with it. */
const KNOWN_TXS = Symbol('mempool.knownTxs');
/** Key of the per-peer allowance in `peer.data`. */
const ALLOWANCE = Symbol('mempool.allowance');

interface Forward {
  readonly message: Uint8Array;
  readonly hash: string;
}

/**
 * Called once per new transaction: `from` is the peer it came from, or undefined for `addTx`.
 * `tx` may share memory with the message being forwarded: do not modify it.
 */
export type TxListener = (tx: Uint8Array, info: { hash: string; from: Peer | undefined }) => void;

export interface MempoolAgentOptions {
  onTx?: TxListener;
  /** @default DEFAULT_SEEN_CAPACITY_TXS */
  seenCapacity?: number;
  /** @default DEFAULT_PEER_KNOWN_CAPACITY_TXS */
  peerKnownCapacity?: number;
  /** Txs one peer may make us take per second; the rest are dropped. @default DEFAULT_MEMPOOL_PEER_RATE_PER_S */
  peerRatePerSecond?: number;
  /** @default DEFAULT_MEMPOOL_PEER_BURST */
  peerBurst?: number;
  /** Bytes of txs one peer may make us take per second. @default DEFAULT_MEMPOOL_PEER_BYTES_PER_S */
  peerBytesPerSecond?: number;
  /** @default DEFAULT_MEMPOOL_PEER_BURST_BYTES */
  peerBurstBytes?: number;
}

export class MempoolAgent extends BaseAgent {
  readonly channels: readonly ChannelDescriptor[] = [
    { id: MempoolCh, name: 'mempool', priority: 5, recvMessageCapacity: MAX_TX_BYTES + TX_MESSAGE_OVERHEAD_BYTES },
  ];
  /** The mempool proper: hashes of the txs we have. Bounded, so the oldest are forgotten first. */
  private readonly seen: LruSet<string>;
  private readonly peerKnownCapacity: number;
  private readonly allowances: Allowances;
  /** What we pass on to each peer, paced below its allowance for us (demo/agents/paced-forwarding.ts). */
  private readonly forwarding: PacedForwarding<Forward>;
  private rateLimitedTxs = 0;
  private readonly listeners = new Set<TxListener>();
  private readonly unsubscribe: (() => void)[] = [];
  // Go needs atomic CAS on uint32 flags; JavaScript runs one routine at a time, so booleans do.
  private started = false;
  private stopped = false;
  private gossipDone: Promise<void> = Promise.resolve();

  constructor(options: MempoolAgentOptions = {}) {
    super();
    this.seen = new LruSet(options.seenCapacity ?? DEFAULT_SEEN_CAPACITY_TXS);
    this.peerKnownCapacity = options.peerKnownCapacity ?? DEFAULT_PEER_KNOWN_CAPACITY_TXS;
    const { peerRatePerSecond = DEFAULT_MEMPOOL_PEER_RATE_PER_S, peerBurst = DEFAULT_MEMPOOL_PEER_BURST } = options;
    const { peerBytesPerSecond = DEFAULT_MEMPOOL_PEER_BYTES_PER_S, peerBurstBytes = DEFAULT_MEMPOOL_PEER_BURST_BYTES } = options;
    this.allowances = new Allowances({ ratePerSecond: peerRatePerSecond, burst: peerBurst, bytesPerSecond: peerBytesPerSecond, burstBytes: peerBurstBytes });
    const largest = MAX_TX_BYTES + TX_MESSAGE_OVERHEAD_BYTES;
    const forwardLimits: FairOutboxLimits = Object.freeze({
      ratePerSecond: peerRatePerSecond * FORWARD_RATE_SHARE,
      burst: Math.max(1, peerBurst * FORWARD_BURST_SHARE),
      bytesPerSecond: peerBytesPerSecond * FORWARD_RATE_SHARE,
      // At least one of the largest txs, or such a tx would wait forever.
      burstBytes: Math.max(largest, peerBurstBytes * FORWARD_BURST_SHARE),
      maxQueuedPerSource: FORWARD_QUEUE_PER_SOURCE_TXS,
      maxQueuedBytesPerSource: FORWARD_QUEUE_PER_SOURCE_BYTES,
      maxQueued: FORWARD_QUEUE_TXS,
      maxQueuedBytes: FORWARD_QUEUE_BYTES,
    });
    this.forwarding = new PacedForwarding<Forward>(forwardLimits, FORWARD_DRAIN_INTERVAL_MS, (peer, forward) => this.sendForward(peer, forward));
    if (options.onTx !== undefined) this.listeners.add(options.onTx);
  }

  /** Txs dropped because their sender was over its allowance. */
  get rateLimited(): number {
    return this.rateLimitedTxs;
  }

  /** Txs not passed on to a peer because their source was over its share of our pace toward it. */
  get forwardDropped(): number {
    return this.forwarding.dropped;
  }

  /** Txs (and their bytes) waiting to be passed on, over all peers: at most 128 (~1 MiB) a peer. */
  get forwardPending(): { txs: number; bytes: number } {
    const { items, bytes } = this.forwarding.pending;
    return { txs: items, bytes };
  }

  /** Number of txs in the pool (the seen-set). */
  get size(): number {
    return this.seen.size;
  }

  has(hash: string): boolean {
    return this.seen.has(hash);
  }

  /** Subscribes to new txs; returns the unsubscribe function. */
  onTx(listener: TxListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the gossip routine has ended (after the Switch stopped). */
  get done(): Promise<void> {
    return this.gossipDone;
  }

  /** Called by `Switch.start()`. A second call does nothing. */
  override start(sw: Switch): void {
    if (this.started) return;
    this.started = true;
    super.start(sw);
    // Opened here, not in the routine, so a misconfiguration rejects Switch.start() instead of
    // becoming an unhandled rejection later.
    const inbox = sw.receive(MempoolCh);
    this.switchEventsRoutine(sw);
    this.gossipDone = this.gossipTxRoutine(sw, inbox);
  }

  /**
   * Called by `Switch.stop()` (Go: close(quit)). The gossip loop ends when the Switch closes the
   * channel's inbox right after; messages still queued there are ignored.
   */
  override stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const off of this.unsubscribe.splice(0)) off();
    this.forwarding.stop();
    super.stop();
  }

  /**
   * Originates a transaction: adds it to the pool and sends it to every peer. Returns false if the
   * pool already had it (then nothing is sent).
   */
  addTx(tx: Uint8Array): boolean {
    if (!(tx instanceof Uint8Array) || tx.length === 0 || tx.length > MAX_TX_BYTES) {
      throw new ConfigError('ERR_INVALID_ARGUMENT', `A tx is a Uint8Array of 1..${MAX_TX_BYTES} bytes`);
    }
    const sw = this.sw;
    if (sw === undefined || this.stopped) throw new MeshlinkError('ERR_NOT_STARTED', 'MempoolAgent is not running (start the Switch first)');
    const hash = txHash(tx);
    if (!this.addToPool(tx, hash, undefined)) return false;
    this.broadcastTx(sw, encodeTxMessage(tx), hash, undefined);
    return true;
  }

  private switchEventsRoutine(sw: Switch): void {
    this.unsubscribe.push(
      // Set up per-peer state. The Switch emits this before any message from the peer is delivered.
      sw.on('peer:connected', ({ peer }) => {
        peer.data.set(KNOWN_TXS, new LruSet<string>(this.peerKnownCapacity));
        this.forwarding.open(sw, peer);
      }),
      // Tear down per-peer state (the Peer object may still sit in queued envelopes). Not the allowance:
      // its txs still in the inbox are taken after it left, and must not be taken without limit (a peer
      // that sent a flood and junk in one write was cut before we took any, and got them all taken).
      // What is left of it is what the next peer from its network starts with.
      sw.on('peer:disconnected', ({ peer }) => {
        const allowance = peer.data.get(ALLOWANCE) as Allowance | undefined;
        if (allowance !== undefined) this.allowances.depart(this.networkOf(peer), allowance);
        peer.data.delete(KNOWN_TXS);
        this.forwarding.close(peer);
      }),
    );
  }

  /**
   * The peer's allowance, made at its first tx (it starts full, or no fuller than what a departed peer of
   * its network left, which refills at the same rate meanwhile: so when makes no difference).
   */
  private allowanceOf(peer: Peer): Allowance {
    let allowance = peer.data.get(ALLOWANCE) as Allowance | undefined;
    if (allowance === undefined) peer.data.set(ALLOWANCE, (allowance = this.allowances.create(this.networkOf(peer))));
    return allowance;
  }

  /** The network the peer is in (IPv4 /16, IPv6 /32, a WebRTC peer's relay's), fixed when it arrived. */
  private networkOf(peer: Peer): string | undefined {
    return peerNetworkGroup(peer);
  }

  private async gossipTxRoutine(sw: Switch, inbox: AsyncIterable<Envelope>): Promise<void> {
    // Receive a message from any peer. The iteration ends when the Switch stops (Go: `if !ok break`).
    for await (const { peer: from, message } of inbox) {
      if (this.stopped) break;
      // Checked before decoding and hashing, so a flooder's surplus costs us next to nothing.
      const allowance = this.allowanceOf(from);
      if (!(allowance.txs.take() && allowance.bytes.take(message.length))) {
        this.rateLimitedTxs++;
        continue;
      }
      let tx: Uint8Array;
      try {
        tx = decodeTxMessage(message, from.id).tx; // Decode
      } catch (error) {
        // A peer that sends garbage is faulty or hostile: drop it, keep serving the others.
        sw.stopPeerForError(from, error);
        continue;
      }
      const hash = txHash(tx);
      this.knownTxs(from)?.add(hash);
      // Add the tx to the mempool; if not new, continue.
      if (!this.addToPool(tx, hash, from)) continue;
      // Broadcast to all peers except the sender. The bytes were validated, so they go on unchanged.
      this.broadcastTx(sw, message, hash, from);
    }
  }

  private broadcastTx(sw: Switch, message: Uint8Array, hash: string, from: Peer | undefined): void {
    for (const peer of sw.peers) {
      if (peer === from) continue;
      // A peer without the channel would treat a message on it as a protocol error and drop us; one
      // that declared a smaller recvMessageCapacity (its NodeInfo says what it likes) would too, and
      // trySend throws for it: skipped, or one such peer would end the gossip loop for everyone.
      if (peer.maxMessageBytes(MempoolCh) < message.length) continue;
      if (this.knownTxs(peer)?.has(hash) !== false) continue;
      this.forwarding.forward(peer, { message, hash }, message.length, from);
    }
  }

  /** Passes a waiting tx on to `peer` now, unless it told us of the tx meanwhile. */
  private sendForward(peer: Peer, { message, hash }: Forward): boolean {
    const known = this.knownTxs(peer);
    if (known === undefined || known.has(hash)) return false;
    // trySend, as the original: a peer whose queue is full misses this tx rather than stall the
    // gossip of every other peer behind it.
    if (!peer.trySend(MempoolCh, message)) return false;
    known.add(hash);
    return true;
  }

  private addToPool(tx: Uint8Array, hash: string, from: Peer | undefined): boolean {
    if (this.seen.has(hash)) return false;
    this.seen.add(hash);
    for (const listener of this.listeners) {
      try {
        listener(tx, { hash, from });
      } catch (error) {
        // A listener bug must not stop the gossip loop for everyone.
        console.error('MempoolAgent: a tx listener threw', error);
      }
    }
    return true;
  }

  private knownTxs(peer: Peer): LruSet<string> | undefined {
    return peer.data.get(KNOWN_TXS) as LruSet<string> | undefined;
  }
}
