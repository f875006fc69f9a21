import type { Socket } from 'node:net';

/** Node's own bound on a request head (its default `maxHeaderSize`); a longer one is cut. */
export const WS_MAX_REQUEST_HEAD_BYTES = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Reads a connection's first HTTP request head before Node's HTTP server sees a byte, and hands the
 * socket on (`onHead`, the head put back to be read again) only if nothing follows the head: a
 * WebSocket client sends nothing more before our 101 (RFC 6455 §4.1), and anything else gets one 426
 * answer. Node's parser takes a whole read of pipelined requests at once, a request and an answer
 * object each (~45 µs), whatever the handler does (a destroyed socket, a paused parser): 60 KB of
 * pipelined GETs from a stranger held the event loop ~0.1 s a connection. A connection that sends more,
 * or a head over WS_MAX_REQUEST_HEAD_BYTES, is destroyed. Its deadline is the upgrade guard's.
 */
export function readRequestHead(socket: Socket, onHead: () => void): void {
  /** What came so far when the head spans reads: copied here, not kept as the reads (a byte each, maybe). */
  let held: Buffer | undefined;
  let length = 0;
  // Until Node's HTTP server takes the socket (it listens for errors itself), a reset must not throw.
  socket.on('error', () => undefined);
  const onData = (chunk: Buffer): void => {
    const total = length + chunk.length;
    if (total > WS_MAX_REQUEST_HEAD_BYTES) return void socket.destroy();
    if (held !== undefined) chunk.copy(held, length);
    const bytes = held === undefined ? chunk : held.subarray(0, total);
    const end = bytes.indexOf(HEAD_END, Math.max(0, length - (HEAD_END.length - 1)));
    if (end === -1) {
      if (held === undefined) {
        held = Buffer.allocUnsafe(WS_MAX_REQUEST_HEAD_BYTES);
        chunk.copy(held);
      }
      length = total;
      return;
    }
    if (end + HEAD_END.length !== total) return void socket.destroy();
    socket.removeListener('data', onData);
    socket.pause();
    socket.unshift(held === undefined ? chunk : Buffer.from(bytes));
    onHead();
    // As Node's own examples of handing a socket to an HTTP server: its listeners are in place now.
    process.nextTick(() => socket.resume());
  };
  socket.on('data', onData);
}
