import type { Peer } from '../switch/peer.js';
import type { Switch } from '../switch/switch.js';
import type { AddressBook } from './address-book.js';
import type { PexConfig } from './config.js';
import { MAX_ANSWER_REUSE_NETWORKS, MAX_LIVE_WEBRTC_ADDRESSES, MIN_GET_SELECTION } from './constants.js';
import { encodePexMessage } from './pex-messages.js';

/** What answering a pexRequest needs to know about the node. */
export interface AnswerContext {
  readonly book: AddressBook;
  readonly config: PexConfig;
  /** The running Switch (undefined before start: then no live WebRTC addresses). */
  readonly sw: Switch | undefined;
  /** We relay WebRTC signalling (PexAgentOptions.relayWebRtc). */
  readonly relayWebRtc: boolean;
  readonly random: () => number;
  /** The samples handed out for a while (see AnswerCache), the time now and the asker's network; absent: sampled afresh. */
  readonly reuse?: { readonly cache: AnswerCache; readonly nowMs: number; readonly network: string };
  /**
   * Whether our last dials into the address's network all failed (FailingNetworks): addresses there we
   * never reached are not handed on. A peer naming made-up nodes at a victim had every node that heard
   * of them pass them on, each then dialling the victim too. Hearsay only: made-up nodes in an honest
   * node's network must not take that node out of our answers once we reached it, nor while it is its
   * own word on the host where we reach it (first-hand: what a seed vouches for). @default none failing
   */
  readonly failingNetwork?: (address: string) => boolean;
}

/**
 * The book's samples a node (not a seed) hands out to a connection's first request: every asker from one
 * network (its network group: an IPv4 /16, an IPv6 /32) gets the same one until `answerReuseMs` has
 * passed, so a stranger asking on connection after connection with fresh keys learns one sample of the
 * book, not all of it (Bitcoin Core keeps one answer for about a day). Askers from other networks, and a
 * connection's later requests (paced, each holding a slot), get samples of their own: one sample for
 * every request gave attackers' addresses a larger share of honest books in the simulator (botnet at
 * 30 %: 53 % against 37 %; one per network and connection alike, 47 %; this way 37 %). A sample is drawn
 * afresh sooner when the book has more than doubled since it was drawn (it was small then) or the clock
 * stepped back. (Not by the sample's size: an answer of a book mostly of unvetted hearsay is short on
 * purpose, see firstHandFirst, and was drawn afresh for every asker.) At most MAX_ANSWER_REUSE_NETWORKS
 * networks are remembered, the one drawn longest ago forgotten first.
 */
export class AnswerCache {
  private readonly samples = new Map<string, { readonly addresses: readonly string[]; readonly drawnAt: number; readonly bookSize: number }>();

  constructor(private readonly reuseMs: number) {}

  get(network: string, nowMs: number, bookSize: number, draw: () => string[]): readonly string[] {
    const kept = this.samples.get(network);
    const age = kept === undefined ? -1 : nowMs - kept.drawnAt;
    if (kept !== undefined && age >= 0 && age < this.reuseMs && bookSize <= 2 * kept.bookSize) return kept.addresses;
    const addresses = draw();
    this.samples.delete(network);
    this.samples.set(network, { addresses, drawnAt: nowMs, bookSize });
    if (this.samples.size > MAX_ANSWER_REUSE_NETWORKS) this.samples.delete(this.samples.keys().next().value!);
    return addresses;
  }
}

/**
 * The addresses to hand `asker` for its request: the book's sample size (never the whole book),
 * first-hand addresses first, never the asker's own; in seed mode only first-hand ones once there are
 * any; a relay's live WebRTC addresses in front.
 */
export function answerFor(asker: Peer, context: AnswerContext): string[] {
  const { book, config } = context;
  // WebRTC addresses go out only live (below): whether their relay still serves them, the book cannot know.
  const unproven = (address: string): boolean => context.failingNetwork?.(address) === true && book.isFirstHand(address) === false;
  const connected = new Set(context.sw?.peers.map((peer) => peer.id));
  // A node that left, or that we have not confirmed for long, unless it is our peer now (see hasLapsed).
  const lapsed = (address: string): boolean => book.hasLapsed(address) && !connected.has(nodeIdIn(address));
  // A first-hand entry that lapsed leaves its room to others; hearsay we failed to reach leaves its room
  // empty (filtered after the draw): refilled, most of it went to the liars' addresses, which never fail
  // (their share of honest outbound peers rose in the simulator).
  const lapsedFirstHand = (address: string): boolean => book.isFirstHand(address) === true && lapsed(address);
  const accept = (address: string): boolean => notWebRtc(address) && !address.includes(asker.id) && !unproven(address) && !lapsedFirstHand(address);
  const live = context.relayWebRtc ? liveWebRtcAddresses(asker, context) : [];
  const wanted = book.selectionSize(config.maxAddressesPerResponse);
  // A seed's answers are what nodes trust most (trustedOutboundShare): once it has reached anyone, it
  // vouches only for nodes it reached or that told it of themselves, never for hearsay it was fed, nor
  // (accept) for one whose last crawl dial failed (gone: a first-hand entry stays good for days).
  const vouched = config.seedMode ? book.sampleFirstHand(wanted, accept) : [];
  if (vouched.length > 0) return [...live, ...vouched].slice(0, config.maxAddressesPerResponse);
  // Seeds sample afresh: handing out their book to newcomers is what they are for.
  // Our peers of the moment are first-hand (we reached them, or they told us of themselves), and first-hand
  // addresses lead every answer: while the book held fewer than an answer takes, each answer named all of
  // them, so one request told a stranger whom to cut or crowd out to surround us. They come only through
  // the sample now, as likely as any other entry.
  const notConnected = (address: string): boolean => accept(address) && !connected.has(nodeIdIn(address));
  const { reuse } = context;
  const draw = (): string[] => firstHandFirst(book, wanted, accept, notConnected);
  const fromBook =
    reuse === undefined || config.seedMode
      ? draw()
      : // Drawn for the asker that found no sample, then each asker's own left out; an address the book dropped since is not handed on.
        reuse.cache.get(reuse.network, reuse.nowMs, book.size(), draw).filter((address) => accept(address) && book.has(address));
  return [...live, ...fromBook.filter((address) => !lapsed(address))].slice(0, config.maxAddressesPerResponse);
}

function notWebRtc(address: string): boolean {
  return !address.startsWith('webrtc://');
}

/** The node id of a book entry's address (canonical: the id follows the scheme). */
function nodeIdIn(address: string): string {
  const start = address.indexOf('://') + 3;
  return address.slice(start, start + 40);
}

/**
 * A pexResponse's up to `wanted` addresses from the book: first those we know first-hand (we reached
 * them, or the node itself told us over an authenticated connection), topped up from a group-fair
 * sample of the vetted ones (first-hand, or hearsay named to us from two source groups at least).
 * Gossip can name nodes that are not (yet) up, and colluders can name each other far more often than
 * honest nodes get named; first-hand addresses are a fair sample of the nodes that are up, whoever
 * talks about them, so answering with them first keeps the colluders' echo from spreading. Hearsay from
 * one source group alone only makes up an answer of MIN_GET_SELECTION: a liar naming made-up nodes
 * had every honest node that asked it hand them on, 23 % of a book it swelled, and in the simulator
 * (bench/sim-eclipse.ts) 82 % of the made-up entries in honest books came from honest nodes' answers.
 * `acceptFirst` narrows the first-hand pass alone.
 */
export function firstHandFirst(book: AddressBook, wanted: number, accept?: (address: string) => boolean, acceptFirst = accept): string[] {
  // A group's share only: first-hand addresses of a crowded group (one host's many keys) must not take
  // the room of hearsay about other networks; the group-fair sample of the whole book fills that.
  const firstHand = book.sampleFirstHand(wanted, acceptFirst, false);
  if (firstHand.length >= wanted) return firstHand;
  const selection = new Set(firstHand);
  const topUp = (addresses: readonly string[], upTo: number): void => {
    for (const address of addresses) {
      if (selection.size >= upTo) break;
      selection.add(address);
    }
  };
  // `acceptFirst` here too: when the vetted entries are few, a sample of them named every peer we have
  // (see answerFor); our peers come through the sample of the whole book below, as likely as any entry.
  topUp(book.getSelection(wanted, acceptFirst, true), wanted);
  // A young book (or a small network) has little that is vetted: its answer still names a few.
  const floor = Math.min(wanted, MIN_GET_SELECTION);
  if (selection.size < floor) topUp(book.getSelection(wanted, accept), floor);
  return [...selection];
}

/**
 * `webrtc://<id>?via=<us>` for connected peers (other than `asker`) that take WebRTC offers and
 * dialled us: a node takes relayed signals only from peers it dialled (the SignalAgent's rule), so
 * only those will accept offers we forward.
 */
function liveWebRtcAddresses(asker: Peer, { sw, random }: AnswerContext): string[] {
  if (sw === undefined) return [];
  const out: string[] = [];
  for (const peer of sw.peers) {
    if (peer === asker || peer.direction !== 'inbound' || !peer.nodeInfo.listenAddresses.includes(`webrtc://${peer.id}`)) continue;
    out.push(`webrtc://${peer.id}?via=${sw.nodeId}`);
  }
  // A random subset when there are many, so every page gets a different slice of the mesh.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.slice(0, MAX_LIVE_WEBRTC_ADDRESSES);
}

/** msgpack's framing of one address in the array (a str 16 header), and of the rest of a response. */
const ADDRESS_FRAMING_BYTES = 3;
const RESPONSE_FRAMING_BYTES = 64;

/**
 * A pexResponse of the first of `addresses` that fit in `maxBytes` (the asker's declared capacity),
 * undefined when not even an empty one does. PEX_MAX_MESSAGE_BYTES counts a byte per character, and
 * an address may hold characters of up to three bytes (a ws path): then a full answer needs more.
 */
export function encodeAnswerWithin(addresses: readonly string[], maxBytes: number): Uint8Array | undefined {
  // A character is at most 3 bytes of UTF-8: when even that fits, one encoding (honest answers). Else
  // the whole answer is never encoded, only what fits.
  let bound = RESPONSE_FRAMING_BYTES;
  for (const address of addresses) bound += 3 * address.length + ADDRESS_FRAMING_BYTES;
  if (bound <= maxBytes) return encodePexMessage({ type: 'pexResponse', addresses });
  const encoder = new TextEncoder();
  const kept: string[] = [];
  let size = RESPONSE_FRAMING_BYTES;
  for (const address of addresses) {
    size += encoder.encode(address).length + ADDRESS_FRAMING_BYTES;
    if (size > maxBytes) break;
    kept.push(address);
  }
  // The estimate above is an upper bound of msgpack's size, so this is rarely more than one encoding.
  for (;;) {
    const response = encodePexMessage({ type: 'pexResponse', addresses: kept });
    if (response.length <= maxBytes) return response;
    if (kept.length === 0) return undefined;
    kept.pop();
  }
}
