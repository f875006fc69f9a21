import { ProtocolError } from '../errors.js';
import type { Peer } from '../switch/peer.js';
import type { BatchOutcome } from './address-book.js';
import type { PexConfig } from './config.js';
import { PEX_CHANNEL_ID, PEX_MAX_ADDRESSES_PER_RESPONSE } from './constants.js';
import { namesNode } from './pex-messages.js';
import type { PexPeerState } from './pex-peers.js';
import { printable } from '../util/printable.js';

/**
 * The rules of the PEX exchange with one peer: how often each side may ask, and which answers are
 * acceptable. A check returns the ProtocolError the peer is stopped and banned with, or undefined.
 */

/** No request outstanding, and the last one at least an ensurePeers interval, twice our minimum and minRequestGapMs ago. */
export function mayAsk(peer: Peer, state: PexPeerState | undefined, config: PexConfig, now: () => number): state is PexPeerState {
  if (state === undefined || state.awaitingResponse || state.punished || !peer.hasChannel(PEX_CHANNEL_ID)) return false;
  const gap = Math.max(config.ensurePeersIntervalMs, 2 * config.minRequestIntervalMs, config.minRequestGapMs);
  if (state.lastRequestSentAt === 0) return true;
  const nowMs = now();
  if (nowMs < state.lastRequestSentAt) {
    // Our wall clock stepped back: the wait starts over from here (the peer's clock did not step, so
    // asking at once could be too soon for it), rather than lasting until the clock has caught up.
    state.lastRequestSentAt = nowMs;
    return false;
  }
  return nowMs - state.lastRequestSentAt >= gap;
}

/** A pexRequest sooner than minRequestIntervalMs after the peer's last one, to a seed as to anyone. */
export function requestTooSoon(peer: Peer, state: PexPeerState, nowMs: number, config: PexConfig): ProtocolError | undefined {
  // Seeds too: a seed answers once per connection and hangs up, and each answer samples the book,
  // so requests pipelined before the hang-up would otherwise each cost a sample (and a timer).
  // Our wall clock stepping back (NTP) is not the peer asking early: it would have banned every peer
  // that asked next. The interval is counted from this request on.
  if (state.lastRequestReceivedAt === 0 || nowMs < state.lastRequestReceivedAt || nowMs - state.lastRequestReceivedAt >= config.minRequestIntervalMs) return undefined;
  const sinceMs = nowMs - state.lastRequestReceivedAt;
  return new ProtocolError('ERR_PEX_REQUEST_TOO_SOON', `pexRequest ${sinceMs} ms after the last one (minimum ${config.minRequestIntervalMs} ms)`, {
    peerId: peer.id,
    detail: { sinceMs, minIntervalMs: config.minRequestIntervalMs },
  });
}

/**
 * What is wrong with a pexResponse before its addresses go into the book: none was asked for
 * (`awaited` false), it holds too many, or it names `ourNodeId` (honest peers leave the asker's own
 * addresses out; unroutable, banned or repeated ones are fine).
 */
export function responseViolation(peer: Peer, awaited: boolean, addresses: readonly string[], ourNodeId: string | undefined): ProtocolError | undefined {
  if (!awaited) return violation(peer, 'ERR_PEX_UNSOLICITED_RESPONSE', 'pexResponse without a pexRequest');
  if (addresses.length > PEX_MAX_ADDRESSES_PER_RESPONSE) {
    return violation(peer, 'ERR_PEX_TOO_MANY_ADDRESSES', `pexResponse with ${addresses.length} addresses (maximum ${PEX_MAX_ADDRESSES_PER_RESPONSE})`, {
      count: addresses.length,
      max: PEX_MAX_ADDRESSES_PER_RESPONSE,
    });
  }
  const naming = ourNodeId === undefined ? undefined : addresses.find((address) => namesNode(address, ourNodeId));
  if (naming !== undefined) return violation(peer, 'ERR_PEX_INVALID_ADDRESS', 'pexResponse with our own node id', { address: printable(naming.slice(0, 200)) });
  return undefined;
}

/** The error for a response the book refused as a whole: one address was malformed or named no node. */
export function refusedResponseError(peer: Peer, refused: NonNullable<BatchOutcome['refused']>): ProtocolError {
  const why = refused.outcome === 'no-node-id' ? 'an address without a node id' : 'a malformed or undialable address';
  return violation(peer, 'ERR_PEX_INVALID_ADDRESS', `pexResponse with ${why}`, { address: printable(refused.address.slice(0, 200)), outcome: refused.outcome });
}

function violation(
  peer: Peer,
  code: 'ERR_PEX_UNSOLICITED_RESPONSE' | 'ERR_PEX_TOO_MANY_ADDRESSES' | 'ERR_PEX_INVALID_ADDRESS',
  why: string,
  detail: Record<string, unknown> = {},
): ProtocolError {
  return new ProtocolError(code, why, { peerId: peer.id, detail });
}
