import type { AeadFactory } from '../crypto/aead.js';
import type { HandshakeCrypto } from '../crypto/handshake-crypto.js';
import type { NodeKey } from '../crypto/keys.js';
import { secureHandshake, type SecureLink } from '../conn/secure-link.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { ResolvedSwitchOptions, SecureHandshakeFunction } from './config.js';
import { HandshakeError, MeshlinkError, PeerRejectedError, toError } from '../errors.js';
import type { Link } from '../transport/link.js';
import { followAbort, withDeadline } from '../util/abort.js';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import { frameLinkMessage, LinkMessageReader } from './link-messages.js';
import { checkCompatible, MAX_NODE_INFO_BYTES, NODE_INFO_DECODE_LIMITS, parseNodeInfo, type NodeInfo } from './node-info.js';
import { resolveDecodeLimits } from '../wire/config.js';
import { printable } from '../util/printable.js';

export type Direction = 'inbound' | 'outbound';

/** The acceptor's verdict on a new peer, sent to the dialer so it learns why it was refused. */
export type AdmissionDecision =
  | { accept: true }
  | { accept: false; code: 'ERR_DUPLICATE_PEER' | 'ERR_SELF_CONNECTION' | 'ERR_PEER_LIMIT' | 'ERR_BANNED'; reason: string };

export interface UpgradeOptions {
  identity: NodeKey;
  localInfo: NodeInfo;
  direction: Direction;
  /** Dialer: the id in the address dialled. */
  expectedPeerId?: string | undefined;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  aead?: AeadFactory | undefined;
  handshakeCrypto?: HandshakeCrypto | undefined;
  maxFramePayloadBytes?: number | undefined;
  /** Runs the deadline and the linger timers. @default systemClock */
  clock?: Clock | undefined;
  /** @internal Simulation only (see SwitchOptions.secureHandshake). @default secureHandshake */
  secureHandshake?: SecureHandshakeFunction | undefined;
  /** Acceptor: decides whether the authenticated peer may stay. */
  admit?: (remote: NodeInfo) => Promise<AdmissionDecision> | AdmissionDecision;
}

/** The upgrade settings of a Switch's link; the Acceptor adds its admission rule. */
export function switchUpgradeOptions(options: ResolvedSwitchOptions, localInfo: NodeInfo, direction: Direction, signal: AbortSignal, expectedPeerId?: string): UpgradeOptions {
  return {
    identity: options.identity,
    localInfo,
    direction,
    expectedPeerId,
    timeoutMs: options.handshakeTimeoutMs,
    signal,
    aead: options.aead,
    handshakeCrypto: options.handshakeCrypto,
    clock: options.clock,
    secureHandshake: options.secureHandshake,
  };
}

export interface UpgradedLink {
  link: SecureLink;
  remoteInfo: NodeInfo;
  /** Bytes already read past the handshake; the MConnection must see them first. */
  leftover: Uint8Array;
}

/** How long a refused dialer may take to read our decision before the link is cut. */
const REJECTED_LINGER_MS = 2 * 1000;
/** An admission decision is a map of at most three short fields. */
const DECISION_DECODE_LIMITS = resolveDecodeLimits({ maxBytes: 1024, maxDepth: 1, maxElements: 16, maxStringBytes: 512, maxBinaryBytes: 0 });

/**
 * Turns a raw Link into an authenticated, encrypted one with a known, compatible peer:
 *
 *   dialer                                   acceptor
 *     │── secure handshake (X25519, ed25519) ──│   both learn the other's proven id
 *     │── NodeInfo ───────────────────────────▶│
 *     │◀─────────────────────────── NodeInfo ──│   both check network and protocol version
 *     │◀──────────── decision {accept|reason} ─│   acceptor: limits, bans, duplicates
 *
 * The acceptor decides alone so that both ends agree on whether the connection lives, before either
 * side's agents see the peer. Everything runs under one deadline; on any failure the link is destroyed.
 */
export async function upgradeLink(raw: Link, options: UpgradeOptions): Promise<UpgradedLink> {
  let secure: SecureLink | undefined;
  let reader: LinkMessageReader | undefined;
  const clock = options.clock ?? systemClock;
  const handshake = options.secureHandshake ?? secureHandshake;
  try {
    return await withDeadline(
      async (signal) => {
        secure = await handshake(raw, {
          identity: options.identity,
          timeoutMs: options.timeoutMs,
          signal,
          clock,
          ...(options.expectedPeerId !== undefined ? { expectedPeerId: options.expectedPeerId } : {}),
          ...(options.aead !== undefined ? { aead: options.aead } : {}),
          ...(options.handshakeCrypto !== undefined ? { handshakeCrypto: options.handshakeCrypto } : {}),
          ...(options.maxFramePayloadBytes !== undefined ? { maxFramePayloadBytes: options.maxFramePayloadBytes } : {}),
        });
        const peerId = secure.remoteNodeId;
        if (peerId === options.identity.nodeId) {
          throw new PeerRejectedError('ERR_SELF_CONNECTION', 'Connected to ourselves', { peerId });
        }
        reader = new LinkMessageReader(secure, MAX_NODE_INFO_BYTES);
        secure.write(frameLinkMessage(encodeMessage(options.localInfo)));
        const remoteInfo = parseNodeInfo(decodeMessage(await reader.next(signal), NODE_INFO_DECODE_LIMITS), peerId);
        if (remoteInfo.id !== peerId) {
          throw new HandshakeError('ERR_HANDSHAKE', `NodeInfo claims id ${remoteInfo.id} but the key proves ${peerId}`, { peerId });
        }
        checkCompatible(options.localInfo, remoteInfo);
        if (options.direction === 'inbound') {
          const decision = (await options.admit?.(remoteInfo)) ?? { accept: true };
          secure.write(frameLinkMessage(encodeMessage(decision)));
          if (!decision.accept) {
            // Let the decision reach the dialer before the link ends (see the linger below).
            secure.close();
            throw new PeerRejectedError(decision.code, decision.reason, { peerId });
          }
        } else {
          const decision = parseDecision(decodeMessage(await reader.next(signal), DECISION_DECODE_LIMITS), peerId);
          if (!decision.accept) throw new PeerRejectedError(decision.code, `Peer refused us: ${decision.reason}`, { peerId, detail: { refusedBy: 'remote' } });
        }
        return { link: secure, remoteInfo, leftover: reader.detach() };
      },
      { timeoutMs: options.timeoutMs, signal: options.signal, what: 'Peer handshake', peerId: options.expectedPeerId, clock },
    );
  } catch (error) {
    const failure = toError(error);
    if (failure instanceof PeerRejectedError && options.direction === 'inbound' && reader !== undefined) {
      // The decision is on its way. The upgrade (and so the acceptor's pending slot) lasts until the
      // dialer hangs up or the linger is over: refused dialers that never hang up hold no more links
      // than the pending caps allow.
      await lingerUntilClosed(reader, clock, options.signal);
    }
    (secure ?? raw).destroy(failure);
    raw.destroy(failure);
    throw failure instanceof MeshlinkError && secure !== undefined ? failure.withPeer(secure.remoteNodeId) : failure;
  }
}

/** Waits until the link closes, REJECTED_LINGER_MS is over, or `signal` fires, whichever is first. */
async function lingerUntilClosed(reader: LinkMessageReader, clock: Clock, signal: AbortSignal | undefined): Promise<void> {
  const linger = new AbortController();
  const unfollow = signal === undefined ? undefined : followAbort(signal, linger);
  const timer = clock.setTimeout(() => linger.abort(), REJECTED_LINGER_MS);
  // A dialer that never hangs up must not keep a stopping process alive.
  (timer as { unref?: () => void }).unref?.();
  try {
    // A refused dialer has nothing more to say: whatever it sends is read and dropped with the link.
    for (;;) await reader.next(linger.signal);
  } catch {
    // closed by the dialer, or the linger is over
  } finally {
    clock.clearTimeout(timer);
    unfollow?.();
  }
}

/**
 * The refusals an acceptor may send. Not ERR_SELF_CONNECTION: an acceptor refuses a self-connection
 * only when our id is its own, and then our end has already seen its id equal ours. From a peer with
 * another key it is a lie, and a costly one to believe: PEX takes the address dialled for one of ours
 * (it refuses it from then on, and sweeps the book for other entries at that place).
 */
const REJECTION_CODES = new Set(['ERR_DUPLICATE_PEER', 'ERR_PEER_LIMIT', 'ERR_BANNED']);

function parseDecision(value: unknown, peerId: string): AdmissionDecision {
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    if (record['accept'] === true) return { accept: true };
    if (record['accept'] === false && typeof record['code'] === 'string' && REJECTION_CODES.has(record['code'])) {
      // The acceptor's words reach our error message (dial:failed, logs): printable, like a close reason's.
      const reason = typeof record['reason'] === 'string' ? printable(record['reason'].slice(0, 200)) : 'refused';
      return { accept: false, code: record['code'] as 'ERR_PEER_LIMIT', reason };
    }
  }
  throw new HandshakeError('ERR_HANDSHAKE', 'Malformed admission decision', { peerId });
}
