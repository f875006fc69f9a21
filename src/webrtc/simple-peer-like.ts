import type { SignalData } from './signal-messages.js';

/**
 * The part of a simple-peer 9 instance the WebRTC transport uses. `src/` never imports simple-peer
 * (it needs Node polyfills in browsers); the platform injects a factory that builds one with the
 * right RTCPeerConnection implementation (`wrtc` in Node, the browser's own in browsers).
 */
export interface SimplePeerLike {
  /** Bytes waiting in the data channel (simple-peer: `_channel.bufferedAmount`). */
  readonly bufferSize: number;
  readonly connected: boolean;
  readonly destroyed: boolean;
  /** simple-peer 9: destroy() was called; its RTCPeerConnection closes in a microtask. */
  readonly destroying?: boolean;
  /** The selected ICE candidate pair's ends, set by simple-peer just before 'connect'. */
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  /** simple-peer's RTCPeerConnection (null once destroyed): what the browser counts toward its limit. */
  readonly _pc?: object | null;
  signal(data: SignalData): void;
  send(chunk: Uint8Array): void;
  destroy(error?: Error): void;
  on(event: 'signal', listener: (data: SignalData) => void): unknown;
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error & { code?: string }) => void): unknown;
}

/** Builds a data-channel-only peer; `initiator` makes the offer. */
export type SimplePeerFactory = (options: { initiator: boolean }) => SimplePeerLike;
