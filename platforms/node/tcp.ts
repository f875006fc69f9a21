import net from 'node:net';
import { AbortError, TransportError } from '../../src/errors.js';
import { formatAddress, type PeerAddress } from '../../src/transport/address.js';
import { HeldChunks } from '../../src/transport/held-chunks.js';
import type { Link, LinkHandlers } from '../../src/transport/link.js';
import type { DialOptions, Listener, Transport } from '../../src/transport/transport.js';
import { dialLookupOption, type DialNameOptions, type GuardedLookup } from './guarded-lookup.js';

/** Above this many unsent bytes `write()` returns false. Large enough for two full batches. */
export const TCP_LINK_HIGH_WATER_MARK_BYTES = 128 * 1024;
/** What one read of a dialled socket may take: Node's own read size. */
export const TCP_READ_BUFFER_BYTES = 64 * 1024;
/**
 * A dialled socket goes on reading while its owner is paused (or not attached yet), as Node's stream
 * does up to its high-water mark, so that a remote hang-up is still seen; past this many held bytes
 * it stops reading until resumed. (Node's default high-water mark for sockets.)
 */
export const TCP_MAX_HELD_READ_BYTES = 16 * 1024;

export interface TcpTransportOptions extends DialNameOptions {
  /** @default TCP_LINK_HIGH_WATER_MARK_BYTES */
  highWaterMarkBytes?: number;
}

/**
 * The TcpLink a socket belongs to, for the socket's listeners below: they are shared module functions
 * (called with the socket as `this`) rather than closures per link, because an idle process holds one
 * link per peer and each closure costs a few hundred bytes. Node's own net code does the same.
 */
const OWNING_LINK = Symbol('meshlink.tcpLink');
type OwnedSocket = net.Socket & { [OWNING_LINK]: TcpLink };

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[OWNING_LINK].onSocketData(chunk);
}
function onSocketError(this: OwnedSocket, error: Error): void {
  this[OWNING_LINK].onSocketError(error);
}
function onSocketClose(this: OwnedSocket): void {
  this[OWNING_LINK].onSocketClose();
}
function onSocketDrain(this: OwnedSocket): void {
  this[OWNING_LINK].onSocketDrain();
}
function onSocketEnd(this: OwnedSocket): void {
  this[OWNING_LINK].onSocketEnd();
}

/**
 * Every socket we dial reads into this one buffer (Node's documented `onread` option): a read then
 * costs no allocation and skips the Readable stream's push/emit/nextTick, which on a request/response
 * exchange is a large share of the CPU per message. One buffer serves every socket because libuv hands
 * each read to its callback synchronously, before it reads from any other socket, and the callback is
 * done with it when it returns: the link passes a view only to handlers with `retainsChunks: false`,
 * and a copy to any other. Sockets a server accepts cannot have `onread` (net.Server has no such
 * option), so they keep 'data' events.
 */
let sharedReadBuffer: Uint8Array | undefined;

/** Connects a socket for `dial`, reading into the shared buffer for the TcpLink that `bind` names. */
function dialSocket(options: net.TcpNetConnectOpts): { socket: net.Socket; bind(link: TcpLink): TcpLink } {
  let owner: TcpLink | undefined;
  const socket = net.connect({
    ...options,
    onread: {
      buffer: (sharedReadBuffer ??= new Uint8Array(TCP_READ_BUFFER_BYTES)),
      // The link exists before the first read (made on 'connect'); it pauses the socket itself, so
      // the callback never asks Node to (by returning false).
      callback: (bytes: number, buffer: Uint8Array): boolean => {
        owner?.onSocketRead(bytes, buffer);
        return true;
      },
    },
  });
  return { socket, bind: (link) => (owner = link) };
}

/** A Link over a net.Socket. Nagle is off: MConnection already batches, and pings must not wait. */
export class TcpLink implements Link {
  readonly transport = 'tcp';
  readonly remoteAddress: string;
  private handlers: LinkHandlers | undefined;
  private needDrain = false;
  private closedValue = false;
  private failure: Error | undefined;
  /** The owner paused reading. */
  private paused = false;
  /**
   * `onread` sockets: copies of what was read while paused or before attach, delivered on resume. Made
   * when the first chunk is held and dropped once all are delivered: while it exists, new reads queue
   * behind it (and a remote end waits for them).
   */
  private held: HeldChunks | undefined;
  /** The remote ended while chunks were held: the owner hears of it after them. */
  private endHeld = false;
  private deliveryScheduled = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly highWaterMarkBytes = TCP_LINK_HIGH_WATER_MARK_BYTES,
    /** @internal The socket was made with `onread` (by dial): data comes through `onSocketRead`. */
    private readonly readsIntoBuffer = false,
  ) {
    socket.setNoDelay(true);
    const host = socket.remoteAddress ?? 'unknown';
    this.remoteAddress = `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? 0}`;
    (socket as OwnedSocket)[OWNING_LINK] = this;
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    socket.on('end', onSocketEnd);
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  get closed(): boolean {
    return this.closedValue;
  }

  attach(handlers: LinkHandlers): void {
    const first = this.handlers === undefined;
    this.handlers = handlers;
    if (first) {
      if (!this.readsIntoBuffer) this.socket.on('data', onSocketData);
      else this.scheduleHeldDelivery();
    }
    if (this.closedValue) queueMicrotask(() => handlers.onClose(this.failure));
  }

  write(chunk: Uint8Array, onReleased?: () => void): boolean {
    if (this.closedValue || !this.socket.writable) return false;
    // Node calls back once libuv has written the chunk, or with an error once it never will.
    this.socket.write(chunk, onReleased);
    if (this.socket.writableLength >= this.highWaterMarkBytes) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  pause(): void {
    this.paused = true;
    // An `onread` socket keeps reading into `held` (bounded) so that a hang-up is still noticed.
    if (!this.readsIntoBuffer) this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    if (!this.readsIntoBuffer) this.socket.resume();
    else this.scheduleHeldDelivery();
  }

  close(): void {
    if (this.closedValue) return;
    this.socket.end();
  }

  destroy(error?: Error): void {
    if (this.closedValue) return;
    if (error !== undefined) this.failure ??= error;
    this.socket.destroy();
    this.finish();
  }

  /** @internal */
  onSocketData(chunk: Buffer): void {
    this.handlers?.onData(chunk);
  }

  /** @internal `bytes` were read into `buffer`, which the next read of any dialled socket overwrites. */
  onSocketRead(bytes: number, buffer: Uint8Array): void {
    if (this.closedValue) return;
    const handlers = this.handlers;
    if (handlers !== undefined && !this.paused && this.held === undefined) {
      // slice() copies (on a plain Uint8Array, which the shared buffer is).
      handlers.onData(handlers.retainsChunks === false ? buffer.subarray(0, bytes) : buffer.slice(0, bytes));
      return;
    }
    if ((this.held ??= new HeldChunks()).push(buffer.slice(0, bytes)) >= TCP_MAX_HELD_READ_BYTES) this.socket.pause();
  }

  /** Held chunks go out asynchronously, as a resumed stream's would (never inside attach or resume). */
  private scheduleHeldDelivery(): void {
    if (this.deliveryScheduled || this.held === undefined) return;
    this.deliveryScheduled = true;
    queueMicrotask(() => this.deliverHeld());
  }

  private deliverHeld(): void {
    this.deliveryScheduled = false;
    const held = this.held;
    if (held === undefined) return;
    const allDelivered = held.drain(
      () => this.handlers !== undefined && !this.paused && !this.closedValue,
      (chunk) => this.handlers!.onData(chunk),
    );
    if (!allDelivered || this.closedValue) return;
    this.held = undefined;
    this.socket.resume();
    if (this.endHeld) {
      this.endHeld = false;
      this.onSocketEnd();
    }
  }

  /** @internal */
  onSocketError(error: Error): void {
    this.failure ??= new TransportError(`TCP ${this.remoteAddress}: ${error.message}`, { cause: error });
  }

  /** @internal */
  onSocketClose(): void {
    this.finish();
  }

  /** @internal */
  onSocketDrain(): void {
    if (!this.needDrain || this.closedValue) return;
    this.needDrain = false;
    this.handlers?.onDrain();
  }

  /**
   * @internal The remote ended its side. An owner that can flush (MConnection) is told and closes
   * when its queue is sent; otherwise we end ours at once. No link stays half-open for long.
   */
  onSocketEnd(): void {
    if (this.held !== undefined) {
      this.endHeld = true;
      return;
    }
    if (this.handlers?.onEnd !== undefined) this.handlers.onEnd();
    else this.socket.end();
  }

  private finish(): void {
    if (this.closedValue) return;
    this.closedValue = true;
    const handlers = this.handlers;
    handlers?.onClose(this.failure);
  }
}

class TcpTransport implements Transport {
  readonly protocols = ['tcp'] as const;

  /** How this transport's dials look names up (the system's lookup, or the guarded one). */
  private readonly lookup: { lookup?: GuardedLookup };

  constructor(private readonly options: TcpTransportOptions = {}) {
    this.lookup = dialLookupOption(options);
  }

  dial(address: PeerAddress, options: DialOptions = {}): Promise<Link> {
    return new Promise<Link>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new AbortError());
        return;
      }
      const { socket, bind } = dialSocket({
        host: address.host,
        port: address.port,
        allowHalfOpen: true,
        ...this.lookup,
      });
      const onAbort = (): void => {
        socket.destroy();
        reject(new AbortError(`Dial to ${formatAddress(address)} aborted`));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (error) => {
        options.signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(new TransportError(`Dial to ${formatAddress(address)} failed: ${error.message}`, { cause: error }));
      });
      socket.once('connect', () => {
        options.signal?.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        resolve(bind(new TcpLink(socket, this.options.highWaterMarkBytes, true)));
      });
    });
  }

  listen(address: PeerAddress, onLink: (link: Link) => void): Promise<Listener> {
    return new Promise<Listener>((resolve, reject) => {
      const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
        onLink(new TcpLink(socket, this.options.highWaterMarkBytes));
      });
      server.once('error', (error) =>
        reject(new TransportError(`Cannot listen on ${formatAddress(address)}: ${error.message}`, { cause: error })),
      );
      server.listen({ host: address.host, port: address.port }, () => {
        server.removeAllListeners('error');
        server.on('error', () => undefined);
        const bound = server.address() as net.AddressInfo;
        resolve({
          addresses: [{ protocol: 'tcp', nodeId: undefined, host: bound.address, port: bound.port, path: '', params: {} }],
          close: () => new Promise<void>((done) => server.close(() => done())),
        });
      });
    });
  }
}

export function tcpTransport(options: TcpTransportOptions = {}): Transport {
  return new TcpTransport(options);
}
