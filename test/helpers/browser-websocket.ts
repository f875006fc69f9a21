import type { WebSocketConstructor } from '../../src/transport/websocket-client.js';
import type { WebSocketLike } from '../../src/transport/websocket-link.js';
import { WebSocket, type WebSocket as WsClient } from 'ws';

/** A `ws` client seen only through the WHATWG surface a browser's WebSocket has: it cannot pause. */
/** (`onopen` too, which the client transport sets while dialling.) */
export function browserLike(socket: WsClient): WebSocketLike {
  const like: WebSocketLike & { onopen: (() => void) | null } = {
    get binaryType() {
      return socket.binaryType;
    },
    set binaryType(type: string) {
      socket.binaryType = type as 'arraybuffer';
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    get readyState() {
      return socket.readyState;
    },
    set onopen(listener: (() => void) | null) {
      socket.onopen = listener as never;
    },
    get onopen() {
      return null;
    },
    send: (data) => socket.send(data),
    close: (code, reason) => socket.close(code, reason),
    set onmessage(listener: ((event: { data: unknown }) => void) | null) {
      socket.onmessage = listener as never;
    },
    get onmessage() {
      return null;
    },
    set onclose(listener: ((event: { code: number; reason: string }) => void) | null) {
      socket.onclose = listener as never;
    },
    get onclose() {
      return null;
    },
    set onerror(listener: ((event: unknown) => void) | null) {
      socket.onerror = listener as never;
    },
    get onerror() {
      return null;
    },
  };
  return like;
}

/** Dials like a page does: `ws`'s WebSocket seen only through the browser's surface (see browserLike). */
export const BrowserLikeWebSocket = function (url: string): WebSocketLike {
  return browserLike(new WebSocket(url, { perMessageDeflate: false }));
} as unknown as WebSocketConstructor;
