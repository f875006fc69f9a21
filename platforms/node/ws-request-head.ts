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
  const chunks: Buffer[] = [];
  let length = 0;
  /** The last bytes read, up to three: HEAD_END may straddle two chunks. */
  let tail = Buffer.alloc(0);
  // Until Node's HTTP server takes the socket (it listens for errors itself), a reset must not throw.
  socket.on('error', () => undefined);
  const onData = (chunk: Buffer): void => {
    const window = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
    const found = window.indexOf(HEAD_END);
    chunks.push(chunk);
    const start = length - tail.length;
    length += chunk.length;
    if (found === -1) {
      if (length >= WS_MAX_REQUEST_HEAD_BYTES) socket.destroy();
      else tail = Buffer.from(window.subarray(Math.max(0, window.length - (HEAD_END.length - 1))));
      return;
    }
    if (start + found + HEAD_END.length !== length || length > WS_MAX_REQUEST_HEAD_BYTES) {
      socket.destroy();
      return;
    }
    socket.removeListener('data', onData);
    socket.pause();
    socket.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
    onHead();
    // As Node's own examples of handing a socket to an HTTP server: its listeners are in place now.
    process.nextTick(() => socket.resume());
  };
  socket.on('data', onData);
}
