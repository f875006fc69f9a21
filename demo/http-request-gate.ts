import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * What Node's HTTP server reads of one TCP connection, read from it first: a read holding more than
 * `maxHeads` request heads (a browser sends one request at a time) cuts the connection before Node's
 * parser sees any of it. Node parses a whole read at once, a request and an answer object for each
 * pipelined request (~45 µs), whatever the handler does once it sees the first: destroying the socket
 * stopped nothing, so 60 KB of pipelined GETs held the event loop ~0.1 s a connection. A head cut
 * across two reads is counted in neither; the handler's own cap on unanswered requests still holds.
 * Backpressure passes both ways: Node pausing this stream pauses the socket, and writes complete when
 * the socket takes them.
 */
export class RequestGate extends Duplex {
  constructor(
    private readonly socket: Socket,
    private readonly maxHeads: number,
  ) {
    super({ allowHalfOpen: false });
    socket.on('data', (chunk: Buffer) => {
      if (countHeads(chunk, this.maxHeads + 1) > this.maxHeads) return void socket.destroy();
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    // Its errors end in 'close'; Node's HTTP server hears of them as this stream's end.
    socket.on('error', () => undefined);
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.socket.write(chunk, done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end();
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.socket.destroy();
    done(error);
  }
}

/** Request heads ended in `chunk`, counted up to `atMost`. */
function countHeads(chunk: Buffer, atMost: number): number {
  let count = 0;
  for (let at = chunk.indexOf(HEAD_END); at !== -1 && count < atMost; at = chunk.indexOf(HEAD_END, at + HEAD_END.length)) count++;
  return count;
}
