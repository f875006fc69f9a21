import { toError } from '../errors.js';
import { printable, quotedPeerText } from '../util/printable.js';
import { WEBRTC_MAX_STACK_MESSAGE_CHARS } from './constants.js';
import type { HangUpChannel } from './hang-up.js';
import type { SimplePeerLike } from './simple-peer-like.js';

/** The parts of an RTCDataChannel the guard reads (the DOM type is not in `src/`'s lib). */
interface DataChannelLike extends HangUpChannel {
  readonly label: string;
  readonly ordered: boolean;
  readonly maxRetransmits: number | null;
  readonly maxPacketLifeTime: number | null;
  close(): void;
}

interface DataChannelEventLike {
  readonly channel: DataChannelLike;
}

interface PeerConnectionLike {
  ondatachannel: ((event: DataChannelEventLike) => void) | null | undefined;
}

const UNSET_LIMIT_IN_WRTC = 65_535;

/** Why the guard cut a link: the `code` simple-peer gives data channel failures, and what happened. */
export type DataChannelViolation = 'extra-data-channel' | 'unreliable-data-channel' | 'stray-stream-data';

/**
 * Lets a WebRTC link carry exactly one reliable, ordered data channel: the one simple-peer opened (our
 * dials) or the first the remote opened (offers we answer). Any other channel the remote opens, and a
 * first one that may drop or reorder messages, is left unread and costs the remote its link: `cut` gets
 * an Error with code `ERR_DATA_CHANNEL` and `reason`, which the negotiation or the link turns into a
 * TransportError. Another channel is closed at once; a refused first one is handed to `cut` too, as the
 * only channel on which the remote can be asked to hang up (hang-up.ts). By default both are closed and
 * the peer destroyed with the error.
 *
 * HACK: simple-peer 9 handles `ondatachannel` itself on the answering side and takes every new channel
 * as *the* channel: the remote then picks which channel our writes go to, each channel's messages join
 * the byte stream, and each adds a 5 s interval that `destroy()` never clears (it pins the peer and its
 * RTCPeerConnection for the life of the process: 40 extra channels left 40 running). Its
 * RTCPeerConnection is `_pc` in both builds; a stand-in without one (tests) is left alone.
 */
export function admitOneDataChannel(peer: SimplePeerLike, cut?: (violation: ReturnType<typeof dataChannelViolation>, onlyChannel?: HangUpChannel) => void): void {
  const pc = (peer as { _pc?: PeerConnectionLike })._pc;
  if (pc === undefined || pc === null) return;
  const setUp = pc.ondatachannel;
  let admitted = false;
  const refuse = (channel: DataChannelLike, reason: DataChannelViolation, message: string, only = false): void => {
    // The remote's label: JSON.stringify escapes C0 controls, not C1 ones (U+009B starts an escape) or bidi overrides.
    const violation = dataChannelViolation(reason, `${message} (label ${printable(JSON.stringify(channel.label.slice(0, 64)))})`);
    if (only && cut !== undefined) {
      cut(violation, channel);
      return;
    }
    channel.close();
    if (cut === undefined) peer.destroy(violation);
    else cut(violation);
  };
  pc.ondatachannel = (event) => {
    const { channel } = event;
    if (admitted || typeof setUp !== 'function' || peer.destroyed) {
      refuse(channel, 'extra-data-channel', 'The remote opened a second data channel');
      return;
    }
    admitted = true;
    if (!channel.ordered || mayDrop(channel)) {
      refuse(channel, 'unreliable-data-channel', 'The remote opened a data channel that may drop or reorder messages', true);
      return;
    }
    setUp.call(pc, event);
  };
}

/**
 * Whether the channel has a reliability limit (it may drop messages). HACK: @roamhq/wrtc reports an unset
 * limit as 65535, not null, so both at 65535 is how it reports neither set (the API refuses a channel with
 * both); it cannot tell a limit of 65535 from none. A browser reports null: there 65535 beside a null is a
 * limit the remote set (a 65.5 s lifetime), which taking 65535 alone as unset let through.
 */
function mayDrop(channel: DataChannelLike): boolean {
  const { maxRetransmits, maxPacketLifeTime } = channel;
  if (maxRetransmits === UNSET_LIMIT_IN_WRTC && maxPacketLifeTime === UNSET_LIMIT_IN_WRTC) return false;
  return isGiven(maxRetransmits) || isGiven(maxPacketLifeTime);
}

function isGiven(limit: number | null | undefined): boolean {
  return limit !== null && limit !== undefined;
}

/** The error a data channel violation ends a connection with, as simple-peer shapes its own failures (`code`, `reason`). */
export function dataChannelViolation(reason: DataChannelViolation, message: string): Error & { code: string; reason: DataChannelViolation } {
  return Object.assign(new Error(message), { code: 'ERR_DATA_CHANNEL', reason });
}

/** A failure's message from the WebRTC stack (simple-peer, the RTCPeerConnection), fit for ours: it may quote the remote. */
export function stackMessage(error: unknown): string {
  return quotedPeerText(toError(error).message, WEBRTC_MAX_STACK_MESSAGE_CHARS);
}

/** simple-peer's `code` of a failure, and the guard's `reason` (data-channel-guard.ts) when it cut the link. */
export function peerErrorDetail(error: Error & { code?: string; reason?: string }): { code: string | undefined; reason?: string } {
  return error.reason === undefined ? { code: error.code } : { code: error.code, reason: error.reason };
}
