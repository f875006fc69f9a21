/**
 * Every failure meshlink reports is a MeshlinkError with a stable `code`. Branch on `code` or on the
 * class, never on the message. Errors caused by a remote peer carry its id in `peerId` when known.
 */
export type ErrorCode =
  // wire and protocol misbehaviour by a peer
  | 'ERR_MALFORMED_PACKET'
  | 'ERR_MALFORMED_MESSAGE'
  | 'ERR_UNKNOWN_CHANNEL'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_DECRYPT'
  | 'ERR_RATE_LIMIT'
  | 'ERR_SPOOFED_SENDER' // a peer claimed another node's id as the sender of what it sent
  | 'ERR_PROTOCOL'
  | 'ERR_PEX_REQUEST_TOO_SOON' // PEX: a peer asked for addresses again before the minimum interval
  | 'ERR_PEX_UNSOLICITED_RESPONSE' // PEX: addresses we did not ask for
  | 'ERR_PEX_TOO_MANY_ADDRESSES' // PEX: a response over the per-response maximum
  | 'ERR_PEX_INVALID_ADDRESS' // PEX: a malformed address, one without a node id, or our own id
  // handshake
  | 'ERR_HANDSHAKE'
  | 'ERR_WRONG_PEER_ID'
  | 'ERR_INCOMPATIBLE_PEER'
  // time and lifecycle
  | 'ERR_TIMEOUT'
  | 'ERR_PONG_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_CLOSED'
  | 'ERR_NOT_STARTED'
  | 'ERR_STOPPED' // the node was stopped; a stopped node does not start again
  // local usage
  | 'ERR_INVALID_CONFIG'
  | 'ERR_INVALID_ADDRESS'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_NO_PEER_ID' // an address without a node id was dialled without `allowUnknownId`
  | 'ERR_NO_TRANSPORT'
  | 'ERR_TRANSPORT'
  // peer admission
  | 'ERR_DUPLICATE_PEER'
  | 'ERR_SELF_CONNECTION'
  | 'ERR_PEER_LIMIT'
  | 'ERR_BANNED'
  // storage and NAT
  | 'ERR_STORAGE'
  | 'ERR_HOME_IN_USE' // another live process (or node) holds the home directory's lock
  | 'ERR_NAT'
  // an optional package (@roamhq/wrtc, nat-upnp) a feature needs is not installed
  | 'ERR_MISSING_DEPENDENCY';

export interface ErrorOptions {
  /** Id of the remote peer this error concerns, when known. */
  peerId?: string;
  cause?: unknown;
  /** Structured facts (limits, sizes, addresses) for logs and tests. */
  detail?: Record<string, unknown>;
}

export class MeshlinkError extends Error {
  readonly code: ErrorCode;
  readonly peerId: string | undefined;
  readonly detail: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshlinkError';
    this.code = code;
    this.peerId = options.peerId;
    this.detail = options.detail ?? {};
  }

  /** A copy that names the peer, for errors raised below the layer that knows the peer id. */
  withPeer(peerId: string): this {
    if (this.peerId === peerId) return this;
    const copy = Object.create(Object.getPrototypeOf(this) as object) as this;
    Object.assign(copy, this, { peerId, message: this.message, stack: this.stack });
    return copy;
  }
}

/** The remote peer broke the wire protocol; costs that peer its connection. */
export class ProtocolError extends MeshlinkError {
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'ProtocolError';
  }
}

/** The secure or NodeInfo handshake failed: bad signature, wrong id, incompatible peer. */
export class HandshakeError extends MeshlinkError {
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'HandshakeError';
  }
}

/** A bounded wait ran out: handshake, dial, send, pong, graceful close. */
export class TimeoutError extends MeshlinkError {
  constructor(message: string, options?: ErrorOptions & { code?: 'ERR_TIMEOUT' | 'ERR_PONG_TIMEOUT' }) {
    super(options?.code ?? 'ERR_TIMEOUT', message, options);
    this.name = 'TimeoutError';
  }
}

/** The caller's AbortSignal fired. */
export class AbortError extends MeshlinkError {
  constructor(message = 'The operation was aborted', options?: ErrorOptions) {
    super('ERR_ABORTED', message, options);
    this.name = 'AbortError';
  }
}

/** The connection, switch or link is closed (or closing) and can't do what was asked. */
export class ClosedError extends MeshlinkError {
  constructor(message = 'Closed', options?: ErrorOptions) {
    super('ERR_CLOSED', message, options);
    this.name = 'ClosedError';
  }
}

/** A bad option, address or argument from the local caller. */
export class ConfigError extends MeshlinkError {
  constructor(
    code: 'ERR_INVALID_CONFIG' | 'ERR_INVALID_ADDRESS' | 'ERR_INVALID_ARGUMENT' | 'ERR_NO_TRANSPORT' | 'ERR_NO_PEER_ID',
    message: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.name = 'ConfigError';
  }
}

/**
 * The node is not running: `start()` was not called yet (`ERR_NOT_STARTED`), or the node was stopped
 * (`ERR_STOPPED`). A stopped Switch does not start again (as CometBFT's services): make a new one.
 */
export class NotRunningError extends MeshlinkError {
  constructor(code: 'ERR_NOT_STARTED' | 'ERR_STOPPED', message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'NotRunningError';
  }
}

/**
 * A message that cannot go to this peer, refused before it is queued: the channel is not one both
 * ends declared (`ERR_UNKNOWN_CHANNEL`, `detail.missingOn` says 'local' or 'remote'), or the message is
 * over the remote's recvMessageCapacity for it (`ERR_MESSAGE_TOO_LARGE`). Retrying cannot help.
 */
export class SendError extends MeshlinkError {
  constructor(code: 'ERR_UNKNOWN_CHANNEL' | 'ERR_MESSAGE_TOO_LARGE', message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'SendError';
  }
}

/**
 * The remote peer closed the connection because of something we did, and said why before closing:
 * `code` is its verdict (`ERR_UNKNOWN_CHANNEL`, `ERR_MESSAGE_TOO_LARGE`, `ERR_BANNED`, …) and
 * `detail.remoteMessage` its words. Codes a peer may not give arrive as `ERR_PROTOCOL`, with the
 * peer's own in `detail.remoteCode`.
 */
export class RemoteCloseError extends MeshlinkError {
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'RemoteCloseError';
  }
}

/** A transport could not dial, listen or carry bytes. */
export class TransportError extends MeshlinkError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_TRANSPORT', message, options);
    this.name = 'TransportError';
  }
}

/** The Switch refused a peer: duplicate, self, over a limit, banned. */
export class PeerRejectedError extends MeshlinkError {
  constructor(code: 'ERR_DUPLICATE_PEER' | 'ERR_SELF_CONNECTION' | 'ERR_PEER_LIMIT' | 'ERR_BANNED' | 'ERR_INCOMPATIBLE_PEER', message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'PeerRejectedError';
  }
}

/** TransportError reasons (detail.reason) of a WebRTC dial refused by our own limits before it reached anyone. */
const OWN_DIAL_LIMITS: ReadonlySet<string> = new Set(['dial-allowance', 'dial-budget', 'pending-dials']);

/**
 * Whether a dial failed on our own transport's limits (the WebRTC dial allowance, its pending-dial caps,
 * its RTCPeerConnections not yet garbage collected),
 * not on the address: peers handing us made-up addresses can use those limits up, and honest addresses
 * dialled meanwhile must not be backed off for it.
 */
export function isOwnDialLimit(error: unknown): boolean {
  return error instanceof TransportError && OWN_DIAL_LIMITS.has(String(error.detail['reason']));
}

export function isMeshlinkError(value: unknown): value is MeshlinkError {
  return value instanceof MeshlinkError;
}

/**
 * Normalises anything thrown or emitted (strings, DOM events, Node errors) into an Error. Never throws:
 * it runs in the catch and rejection handlers that cost a peer its connection, and `String()` of an
 * object with no prototype, or whose `toString` throws (a decoded `{ "toString": 1 }` an agent rejected
 * with), threw there instead: an unhandled rejection, and the peer kept its connection.
 */
export function toError(value: unknown): Error {
  try {
    if (value instanceof Error) return value;
    return new Error(typeof value === 'string' ? value : String(value));
  } catch {
    return new Error(`a thrown value that cannot be printed (${typeof value})`);
  }
}
