import type { Peer } from '../switch/peer.js';
import type { Switch } from '../switch/switch.js';
import type { AddressBook } from './address-book.js';
import type { PexConfig } from './config.js';
import { MAX_LIVE_WEBRTC_ADDRESSES } from './constants.js';
import { firstHandFirst } from './pex-dial-planner.js';

/** What answering a pexRequest needs to know about the node. */
export interface AnswerContext {
  readonly book: AddressBook;
  readonly config: PexConfig;
  /** The running Switch (undefined before start: then no live WebRTC addresses). */
  readonly sw: Switch | undefined;
  /** We relay WebRTC signalling (PexAgentOptions.relayWebRtc). */
  readonly relayWebRtc: boolean;
  readonly random: () => number;
}

/**
 * The addresses to hand `asker` for its request: the book's sample size (never the whole book),
 * first-hand addresses first, never the asker's own; in seed mode only first-hand ones once there are
 * any; a relay's live WebRTC addresses in front.
 */
export function answerFor(asker: Peer, context: AnswerContext): string[] {
  const { book, config } = context;
  // WebRTC addresses go out only live (below): whether their relay still serves them, the book cannot know.
  const sample = book.getSelection(config.maxAddressesPerResponse).filter((address) => !address.startsWith('webrtc://'));
  const live = context.relayWebRtc ? liveWebRtcAddresses(asker, context) : [];
  // A seed's answers are what nodes trust most (trustedOutboundShare): once it has reached anyone, it
  // vouches only for nodes it reached or that told it of themselves, never for hearsay it was fed.
  const vouched = config.seedMode ? book.sampleFirstHand(sample.length) : [];
  const fromBook = (vouched.length > 0 ? vouched : firstHandFirst(book, sample)).filter((address) => !address.includes(asker.id));
  return [...live, ...fromBook].slice(0, config.maxAddressesPerResponse);
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
