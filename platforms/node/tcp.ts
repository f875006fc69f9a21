import net from 'node:net';
import { AbortError, TransportError } from '../../src/errors.js';
import { formatAddress, type PeerAddress } from '../../src/transport/address.js';
import type { Link, LinkHandlers } from '../../src/transport/link.js';
import type { DialOptions, Listener, Transport } from '../../src/transport/transport.js';
import { localRefusingLookup } from './guarded-lookup.js';

/** Above this many unsent bytes `write()` returns false. Large enough for two full batches. */
export const TCP_LINK_HIGH_WATER_MARK_BYTES = 128 * 1024;

export interface TcpTransportOptions {
  /** @default TCP_LINK_HIGH_WATER_MARK_BYTES */
  highWaterMarkBytes?: number;
  /**
   * Dial host names that resolve to loopback, private, link-local or reserved addresses. IP literals
   * are always dialled as given (the address book decides about those). @default true
   */
  allowLocalNames?: boolean;
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

/** A Link over a net.Socket. Nagle is off: MConnection already batches, and pings must not wait. */
export class TcpLink implements Link {
  readonly transport = 'tcp';
  readonly remoteAddress: string;
  private handlers: LinkHandlers | undefined;
  private needDrain = false;
  private closedValue = false;
  private failure: Error | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly highWaterMarkBytes = TCP_LINK_HIGH_WATER_MARK_BYTES,
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
    if (first) this.socket.on('data', onSocketData);
    if (this.closedValue) queueMicrotask(() => handlers.onClose(this.failure));
  }

  write(chunk: Uint8Array): boolean {
    if (this.closedValue || !this.socket.writable) return false;
    this.socket.write(chunk);
    if (this.socket.writableLength >= this.highWaterMarkBytes) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
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

  constructor(private readonly options: TcpTransportOptions = {}) {}

  dial(address: PeerAddress, options: DialOptions = {}): Promise<Link> {
    return new Promise<Link>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new AbortError());
        return;
      }
      const socket = new net.Socket({ allowHalfOpen: true });
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
        resolve(new TcpLink(socket, this.options.highWaterMarkBytes));
      });
      socket.connect({ host: address.host, port: address.port, ...(this.options.allowLocalNames === false ? { lookup: localRefusingLookup() } : {}) });
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
