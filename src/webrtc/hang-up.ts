import type { Clock, TimerHandle } from '../util/clock.js';
import { WEBRTC_HANG_UP_TIMEOUT_MS } from './constants.js';
import type { SimplePeerLike } from './simple-peer-like.js';

/** The parts of an RTCDataChannel the hang-up asks on (the DOM type is not in `src/`'s lib). */
export interface HangUpChannel {
  readonly readyState: string;
  send(data: Uint8Array): void;
  addEventListener(type: 'close', listener: () => void): void;
}

interface DataChannelLike extends HangUpChannel {
  addEventListener(type: 'message' | 'close', listener: (event: { data: unknown }) => void): void;
}

const HANG_UP_REQUEST = new Uint8Array(0);

/**
 * Who closes a WebRTC connection first. @roamhq/wrtc crashes the process (SIGSEGV) when its data channel
 * reaches `closed` while a `send()` is in flight: RTCDataChannel::Send checks the channel is open, then
 * reads its native channel again, which the signalling thread has meanwhile set to null on the close
 * (upstream node-webrtc #576 and kin; measured: 10 of 20 runs crashed when the side being closed on kept
 * sending, 1 of 20 when only the closing side sent). A close that the process itself makes (`close()` on
 * the main thread) cannot meet its own sends; one that the remote makes arrives at any moment.
 *
 * So the side that ends a link does not close its RTCPeerConnection first: it stops sending and asks
 * the remote to hang up, with an empty data channel message (a byte stream never needs one: MessageLink
 * drops empty messages, so a peer of an older version ignores it), and closes only when the remote has,
 * or after WEBRTC_HANG_UP_TIMEOUT_MS. The side asked hangs up at once, in its own main thread. A remote
 * that closes without asking (a crash, a closed tab, a lost network, a hostile peer) could still meet a
 * send of ours: the race is in wrtc itself, and no order of ours avoids it (one simulated so, closing
 * its channel and connection at once under our sends, crashed none of 100 rounds).
 *
 * HACK: simple-peer drops empty messages before its 'data' event, so the request is read off its
 * RTCDataChannel (`_channel` in both builds); a stand-in without one (tests) is closed at once.
 */
export class HangUp {
  private timer: TimerHandle | undefined;
  private asked = false;
  private remoteAsked = false;

  constructor(
    private readonly peer: SimplePeerLike,
    private readonly clock: Clock,
    /** The remote asked us to hang up (we had not asked first). */
    onRequest: () => void,
  ) {
    const listen = (): void => {
      const channel = (peer as { _channel?: DataChannelLike | null })._channel;
      channel?.addEventListener('message', ({ data }) => {
        if (!isEmptyMessage(data) || this.remoteAsked) return;
        this.remoteAsked = true;
        // Both asked at once: each hangs up on the other's request (neither sends any more).
        if (this.asked) this.closeNow();
        else onRequest();
      });
    };
    // Our dials' channel exists from the start; an answer's once the remote's arrives (by 'connect').
    if ((peer as { _channel?: unknown })._channel) listen();
    else peer.on('connect', listen);
    peer.on('close', () => this.clock.clearTimeout(this.timer));
  }

  /**
   * Ends the connection: at once when the remote asked first or nothing can be asked (no open channel); else
   * asks the remote to hang up and closes after WEBRTC_HANG_UP_TIMEOUT_MS if it has not. Send nothing after.
   * `channel`: where to ask, when it is not simple-peer's (a remote's only channel, refused by the guard).
   */
  end(channel: HangUpChannel | null | undefined = (this.peer as { _channel?: HangUpChannel | null })._channel): void {
    if (this.peer.destroyed || this.asked) return;
    if (this.remoteAsked || channel === null || channel === undefined || channel.readyState !== 'open') {
      this.closeNow();
      return;
    }
    this.asked = true;
    try {
      channel.send(HANG_UP_REQUEST);
    } catch {
      this.closeNow();
      return;
    }
    // The remote hung up: its channel closes (simple-peer's own also ends the peer; one it never had, not).
    channel.addEventListener('close', () => this.closeNow());
    this.timer = this.clock.setTimeout(() => this.closeNow(), WEBRTC_HANG_UP_TIMEOUT_MS);
    // A remote that will not hang up must not keep a stopping process alive.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private closeNow(): void {
    this.clock.clearTimeout(this.timer);
    this.peer.destroy();
  }
}

function isEmptyMessage(data: unknown): boolean {
  if (data instanceof ArrayBuffer) return data.byteLength === 0;
  if (ArrayBuffer.isView(data)) return data.byteLength === 0;
  return data === '';
}
