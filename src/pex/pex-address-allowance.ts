import { MAX_ADDRESS_ALLOWANCE_NETWORKS, WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK } from './constants.js';

/**
 * How many new book entries the answers from one network (the answering peer's network group: an IPv4
 * /16, an IPv6 /32) may still add: a token bucket per network, after Bitcoin Core's per-peer
 * m_addr_token_bucket. A network we have not heard from lately starts with `burst` (a first answer fills a
 * young book as before: Bitcoin grants 1000 tokens to the answer of its GETADDR); afterwards it earns
 * `perMinute`. Keyed by network, not by peer: keys are free, and a liar asked again and again (we ask
 * while the book is under needAddressThreshold) otherwise added up to 28 made-up nodes an answer, which
 * were most of an honest book in the simulator. Addresses past the allowance are ignored, not punished:
 * an honest peer's answer is mostly made of what we know already. At most MAX_ADDRESS_ALLOWANCE_NETWORKS
 * networks are remembered; one that earned its burst back is forgotten first, else the longest unused.
 */
export class AddressAllowance {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    private readonly burst: number,
    private readonly perMinute: number,
  ) {}

  /** The new entries `network` may add now. */
  available(network: string, nowMs: number): number {
    const bucket = this.buckets.get(network);
    if (bucket === undefined) return this.burst;
    // A clock that stepped back earns nothing until it has caught up.
    const earned = (Math.max(0, nowMs - bucket.atMs) * this.perMinute) / 60_000;
    return Math.min(this.burst, Math.floor(bucket.tokens + earned));
  }

  /** `network` added `count` new entries at `nowMs`. */
  spend(network: string, count: number, nowMs: number): void {
    if (count <= 0) return;
    const bucket = this.buckets.get(network);
    const earned = bucket === undefined ? this.burst : Math.min(this.burst, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) * this.perMinute) / 60_000);
    this.buckets.delete(network);
    this.buckets.set(network, { tokens: Math.max(0, earned - count), atMs: nowMs });
    if (this.buckets.size > MAX_ADDRESS_ALLOWANCE_NETWORKS) this.forgetOne(nowMs);
  }

  private forgetOne(nowMs: number): void {
    for (const [network] of this.buckets) {
      if (this.available(network, nowMs) >= this.burst) {
        this.buckets.delete(network);
        return;
      }
    }
    this.buckets.delete(this.buckets.keys().next().value!);
  }
}

/**
 * The allowance an answer is held to: its network's (AddressAllowance), but a WebRTC peer's (`network`
 * being `webrtc:<its relay's network>`, connectedPeerGroup) is its own, keyed by its node id, within a
 * total for the relay's network of WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK times a network's. Keyed by the
 * relay's network alone, liars reached through an honest relay spent what the honest pages behind it
 * needed: 3 liars' answers there and an honest page's 30 addresses got 0 into the book. Keys are free, so
 * a peer's own bucket alone would let one liar mint allowance by minting keys: the relay network's total
 * bounds what all of its peers add (at the defaults 400 at once, then 4 a minute), and an honest page
 * keeps its own share until that many of its relay's peers have spent theirs.
 */
export class AnswerAllowance {
  /** Networks' buckets, and WebRTC peers' own. */
  private readonly own: AddressAllowance;
  /** WebRTC relay networks' totals. */
  private readonly relayed: AddressAllowance;

  constructor(burst: number, perMinute: number) {
    this.own = new AddressAllowance(burst, perMinute);
    this.relayed = new AddressAllowance(burst * WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK, perMinute * WEBRTC_PEER_ALLOWANCES_PER_RELAY_NETWORK);
  }

  /** The new entries an answer of `peerId`, of network `network`, may add now. */
  available(network: string, peerId: string, nowMs: number): number {
    if (!isRelayed(network)) return this.own.available(network, nowMs);
    return Math.min(this.own.available(peerKey(network, peerId), nowMs), this.relayed.available(network, nowMs));
  }

  /** An answer of `peerId`, of network `network`, added `count` new entries at `nowMs`. */
  spend(network: string, peerId: string, count: number, nowMs: number): void {
    if (!isRelayed(network)) return this.own.spend(network, count, nowMs);
    this.own.spend(peerKey(network, peerId), count, nowMs);
    this.relayed.spend(network, count, nowMs);
  }
}

function isRelayed(network: string): boolean {
  return network.startsWith('webrtc:');
}

/** No network group holds a space. */
function peerKey(network: string, peerId: string): string {
  return `${network} ${peerId}`;
}
